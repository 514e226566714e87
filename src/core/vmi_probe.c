/*
 * vmi_probe.c: tell the three kinds of introspection object apart
 *
 * The published KVMI QEMU branches do not implement allow-lists as
 * documented (docs/kvmi.rst): their command/event properties cannot be
 * set, or only the last repeated key counts. One run of the emulator,
 * with no KVMI kernel needed, tells which: an id of 4294967295 followed
 * by a valid one is refused ("VMI: add command: invalid id -1") only when
 * every key is applied.
 *
 * The emulator is the domain's: whoever may define a domain chooses it.
 * So it runs as libvirt would run it, as QEMU's user and group, never as
 * root, in a clean environment (none of the domain's <qemu:env>: libvirt
 * gives that to QEMU, not to a program run on the host's behalf), for a
 * bounded time; and only outputs a QEMU gives are believed.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/vmi_probe.h"
#include "core/vmi_fd.h"
#include "core/vmi_keyfile.h"
#include "conf/vmi_error.h"

#define VMI_PROBE_TIMEOUT_SECONDS 20
/* what an error quotes of the emulator's output, per stream */
#define VMI_PROBE_QUOTE_MAX 240
#define VMI_PROBE_MAX_GROUPS 64

VMI_ENUM_IMPL(vmiProbeResult, VMI_PROBE_LAST,
              "enforced",
              "readonly",
              "last-only",
              "no-object");

static const char *const vmiProbeResultDescriptions[VMI_PROBE_LAST] = {
    [VMI_PROBE_ENFORCED] = "enforces allow-lists: every repeated command=/event= counts",
    [VMI_PROBE_READONLY] = "cannot enforce allow-lists: its introspection object refuses "
                           "command=/event= (\"Insufficient permission to perform this "
                           "operation\"), as the published KVMI QEMU branches do",
    [VMI_PROBE_LAST_ONLY] = "cannot enforce allow-lists: it keeps only the last of repeated "
                            "command=/event= keys, so a list would be cut to its last id",
    [VMI_PROBE_NO_OBJECT] = "has no introspection object: it is not a KVMI QEMU",
};


const char *
vmiProbeResultDescribe(vmiProbeResult result)
{
    return (unsigned)result < VMI_PROBE_LAST ? vmiProbeResultDescriptions[result] : NULL;
}


/* Who the emulator runs as: QEMU's user, its group and supplementary groups. */
typedef struct {
    gboolean drop;      /* FALSE: as this process (not root: nothing to drop) */
    uid_t uid;
    gid_t gid;
    gid_t groups[VMI_PROBE_MAX_GROUPS];
    int ngroups;
} vmiProbeCreds;


/*
 * @dacLabel: libvirt's DAC label ("user:group") of the QEMU the domain
 * would run; NULL: this process's user.
 */
static gboolean
vmiProbeCredsInit(vmiProbeCreds *creds, const char *dacLabel, GError **error)
{
    memset(creds, 0, sizeof(*creds));
    if (!dacLabel || geteuid() != 0)
        return TRUE;
    if (!vmiParseDACLabel(dacLabel, &creds->uid, &creds->gid, error)) {
        g_prefix_error(error, "cannot tell which user the emulator probe runs as: ");
        return FALSE;
    }
    creds->drop = TRUE;
    creds->groups[0] = creds->gid;
    creds->ngroups = 1;
    return TRUE;
}


/*
 * As libvirt does, the user's supplementary groups come along: looked up
 * before the fork (after it only async-signal-safe calls are allowed), and
 * only when the emulator really runs: the lookup loads the NSS modules, the
 * largest part of a start's prepare when the probe's result is cached.
 */
static void
vmiProbeCredsAddGroups(vmiProbeCreds *creds)
{
    struct passwd *pw;
    int n = VMI_PROBE_MAX_GROUPS;

    if (!creds->drop || !(pw = getpwuid(creds->uid)))
        return;
    if (getgrouplist(pw->pw_name, creds->gid, creds->groups, &n) >= 0)
        creds->ngroups = n;
}


/* In the child, before exec: async-signal-safe calls only. */
static void
vmiProbeChildSetup(gpointer opaque)
{
    static const char msg[] = "libvirt-vmi: the emulator probe cannot switch to QEMU's user\n";
    const vmiProbeCreds *creds = opaque;

    if (!creds->drop)
        return;
    if (setgroups(creds->ngroups, creds->groups) < 0 || setgid(creds->gid) < 0 ||
        setuid(creds->uid) < 0) {
        if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
            /* exiting anyway */
        }
        _exit(127);
    }
}


/*
 * The cache key names the exact binary probed and who ran it: a new
 * emulator build, or another QEMU user, probes afresh.
 */
static char *
vmiProbeCacheFile(const char *cacheDir, const char *emulator, const vmiProbeCreds *creds)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
    struct stat st;
    char buf[256];

    if (!cacheDir || stat(emulator, &st) < 0)
        return NULL;
    g_checksum_update(sum, (const guchar *)emulator, strlen(emulator) + 1);
    g_snprintf(buf, sizeof(buf), "%ju:%ju:%jd:%ld.%ld:%ld.%ld",
               (uintmax_t)st.st_dev, (uintmax_t)st.st_ino, (intmax_t)st.st_size,
               (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
               (long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
    g_checksum_update(sum, (const guchar *)buf, strlen(buf) + 1);
    g_snprintf(buf, sizeof(buf), "%d:%ju:%ju", creds->drop,
               (uintmax_t)creds->uid, (uintmax_t)creds->gid);
    g_checksum_update(sum, (const guchar *)buf, strlen(buf) + 1);
    return g_build_filename(cacheDir, g_checksum_get_string(sum), NULL);
}


typedef struct {
    gboolean done;
    gboolean timedOut;
    char *out;
    char *err;
    GError *error;
} vmiProbeRun;


static void
vmiProbeCommunicated(GObject *source, GAsyncResult *res, gpointer opaque)
{
    vmiProbeRun *run = opaque;

    g_subprocess_communicate_utf8_finish(G_SUBPROCESS(source), res, &run->out,
                                         &run->err, &run->error);
    run->done = TRUE;
}


static gboolean
vmiProbeTimedOut(gpointer opaque)
{
    vmiProbeRun *run = opaque;

    run->timedOut = TRUE;
    return G_SOURCE_REMOVE;
}


/*
 * A pipe already holding @input, write end closed: the emulator's
 * standard input. Writing it before the emulator runs means never
 * writing to an emulator that has exited without reading it (it may
 * refuse its arguments at once): that write would raise SIGPIPE and
 * kill this process, the hook or virt-vmi.
 */
static int
vmiProbeInputPipe(const char *input, GError **error)
{
    size_t len = strlen(input);
    int fds[2];
    VMI_AUTOCLOSE readEnd = -1;
    VMI_AUTOCLOSE writeEnd = -1;

    if (len > PIPE_BUF) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "probe input of %zu bytes does not fit a pipe", len);
        return -1;
    }
    if (!g_unix_open_pipe(fds, FD_CLOEXEC, error))
        return -1;
    readEnd = fds[0];
    writeEnd = fds[1];
    if (!vmiFdWriteAll(writeEnd, input, len, error)) {
        g_prefix_error(error, "cannot write the probe's input: ");
        return -1;
    }
    return g_steal_fd(&readEnd);
}


/*
 * Runs the emulator with @argv (argv[0] is the emulator) as @creds, in a
 * clean environment, @input on its standard input, for at most
 * VMI_PROBE_TIMEOUT_SECONDS. Returns its standard output and error, and
 * its wait status.
 */
static gboolean
vmiProbeRunEmulator(const char *const *argv, vmiProbeCreds *creds, const char *input,
                    char **out, char **err, int *status, GError **error)
{
    g_autoptr(GSubprocessLauncher) launcher =
        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                  G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GMainContext) ctx = NULL;
    g_autoptr(GSource) timeout = NULL;
    vmiProbeRun run = { 0 };
    int stdinFd;

    vmiProbeCredsAddGroups(creds);
    if ((stdinFd = vmiProbeInputPipe(input, error)) < 0)
        return FALSE;
    g_subprocess_launcher_take_stdin_fd(launcher, stdinFd);
    ctx = g_main_context_new();
    /* empty, not NULL: NULL would inherit this process's environment
     * (whatever libvirtd, or a wrapper such as valgrind, gave the hook) */
    g_subprocess_launcher_set_environ(launcher, (char *[]){ NULL });
    g_subprocess_launcher_setenv(launcher, "PATH", "/usr/sbin:/usr/bin:/sbin:/bin", TRUE);
    g_subprocess_launcher_setenv(launcher, "LC_ALL", "C", TRUE);
    g_subprocess_launcher_set_child_setup(launcher, vmiProbeChildSetup, (gpointer)creds, NULL);

    /* a private context: the default one belongs to libvirt's event thread */
    g_main_context_push_thread_default(ctx);
    proc = g_subprocess_launcher_spawnv(launcher, argv, error);
    if (proc) {
        timeout = g_timeout_source_new_seconds(VMI_PROBE_TIMEOUT_SECONDS);
        g_source_set_callback(timeout, vmiProbeTimedOut, &run, NULL);
        g_source_attach(timeout, ctx);
        g_subprocess_communicate_utf8_async(proc, NULL, NULL, vmiProbeCommunicated, &run);
        while (!run.done) {
            g_main_context_iteration(ctx, TRUE);
            if (run.timedOut && !run.done) {
                g_subprocess_force_exit(proc);
                run.timedOut = FALSE;
                g_clear_error(&run.error);
                run.error = g_error_new(VMI_ERROR, VMI_ERROR_OPERATION,
                                        "emulator %s did not finish in %d seconds",
                                        argv[0], VMI_PROBE_TIMEOUT_SECONDS);
            }
        }
        g_subprocess_wait(proc, NULL, NULL);
        g_source_destroy(timeout);
    }
    g_main_context_pop_thread_default(ctx);

    if (!proc)
        return FALSE;
    if (run.error) {
        g_free(run.out);
        g_free(run.err);
        g_propagate_error(error, run.error);
        return FALSE;
    }
    *out = run.out ? run.out : g_strdup("");
    *err = run.err ? run.err : g_strdup("");
    *status = g_subprocess_get_status(proc);
    return TRUE;
}


/* Before running it: GLib's own message for a missing program is
 * less clear, and its typographic quotes come out as '?' in a C locale. */
static gboolean
vmiProbeCheckExecutable(const char *emulator, GError **error)
{
    g_autofree char *quoted = NULL;

    if (g_file_test(emulator, G_FILE_TEST_IS_REGULAR) &&
        g_file_test(emulator, G_FILE_TEST_IS_EXECUTABLE))
        return TRUE;
    quoted = vmiErrorQuote(emulator);
    g_set_error(error, VMI_ERROR, VMI_ERROR_NOT_FOUND,
                "emulator '%s' does not exist or is not executable", quoted);
    return FALSE;
}


/* `-object help` lists the object types the emulator can create. */
gboolean
vmiProbeHasObject(const char *emulator, const char *dacLabel, gboolean *has,
                  GError **error)
{
    const char *argv[] = { emulator, "-object", "help", NULL };
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_auto(GStrv) lines = NULL;
    vmiProbeCreds creds;
    int status;
    size_t i;

    if (!vmiProbeCheckExecutable(emulator, error) ||
        !vmiProbeCredsInit(&creds, dacLabel, error) ||
        !vmiProbeRunEmulator(argv, &creds, "", &out, &err, &status, error))
        return FALSE;
    *has = FALSE;
    lines = g_strsplit(out, "\n", -1);
    for (i = 0; lines[i]; i++)
        *has |= g_str_equal(g_strstrip(lines[i]), "introspection");
    return TRUE;
}


/*
 * QEMU started with the keys and answered the QMP input: its greeting,
 * then a "return" for qmp_capabilities and one for quit (events such
 * as SHUTDOWN may come between).
 */
static gboolean
vmiProbeQMPAnswered(const char *out)
{
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    guint returns = 0;
    size_t i;

    if (!lines[0] || !g_str_has_prefix(lines[0], "{\"QMP\":"))
        return FALSE;
    for (i = 1; lines[i]; i++)
        returns += g_str_has_prefix(lines[i], "{\"return\":");
    return returns >= 2;
}


static gboolean
vmiProbeClassify(const char *out, const char *err, vmiProbeResult *result)
{
    if (strstr(err, "VMI: add command: invalid id -1"))
        *result = VMI_PROBE_ENFORCED;
    else if (strstr(err, "Insufficient permission to perform this operation"))
        *result = VMI_PROBE_READONLY;
    else if (strstr(err, "'introspection'") && (strstr(err, "invalid object type") ||
                                                strstr(err, "does not accept value")))
        *result = VMI_PROBE_NO_OBJECT;
    /* the keys passed: only the last one was applied (a KVMI QEMU on a
     * host without KVMI fails later, at the object's completion) */
    else if (vmiProbeQMPAnswered(out) || strstr(err, "VMI: missing KVM support"))
        *result = VMI_PROBE_LAST_ONLY;
    else
        return FALSE;
    return TRUE;
}


/* At most VMI_PROBE_QUOTE_MAX bytes of @text, escaped, for an error. */
static char *
vmiProbeQuote(const char *text)
{
    g_autofree char *stripped = g_strstrip(g_strdup(text));
    g_autofree char *cut = NULL;
    g_autofree char *escaped = NULL;
    gboolean longer = strlen(stripped) > VMI_PROBE_QUOTE_MAX;

    if (!*stripped)
        return g_strdup("nothing");
    cut = g_strndup(stripped, VMI_PROBE_QUOTE_MAX);
    escaped = g_strescape(cut, NULL);
    return g_strdup_printf("'%s'%s", escaped, longer ? " (cut)" : "");
}


static void
vmiProbeUnrecognised(const char *emulator, int status, const char *out, const char *err,
                     GError **error)
{
    g_autofree char *qout = vmiProbeQuote(out);
    g_autofree char *qerr = vmiProbeQuote(err);
    g_autofree char *how = NULL;

    if (WIFEXITED(status))
        how = g_strdup_printf("exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        how = g_strdup_printf("was killed by signal %d", WTERMSIG(status));
    else
        how = g_strdup("ended");
    g_set_error(error, VMI_ERROR, VMI_ERROR_UNSUPPORTED,
                "emulator %s did not answer the introspection probe as a QEMU does: it %s, "
                "printing %s on standard output and %s on standard error; introspection "
                "needs a QEMU with the introspection object", emulator, how, qout, qerr);
}


gboolean
vmiProbeEmulator(const char *emulator, const char *dacLabel,
                 const char *cacheDir, vmiProbeResult *result, GError **error)
{
    const char *argv[] = {
        emulator, "-machine", "none", "-nodefaults", "-display", "none", "-S",
        "-qmp", "stdio",
        "-chardev", "socket,id=vmiprobe0,path=/nonexistent/libvirt-vmi-probe.sock,reconnect=1",
        "-object", "introspection,id=vmiprobe,chardev=vmiprobe0,command=4294967295,command=2",
        NULL
    };
    /* if nothing refuses the keys, QEMU starts: tell it to go */
    const char *input = "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n";
    g_autofree char *cacheFile = NULL;
    g_autofree char *cached = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    vmiProbeCreds creds;
    int found;
    int status;

    if (!vmiProbeCheckExecutable(emulator, error) ||
        !vmiProbeCredsInit(&creds, dacLabel, error))
        return FALSE;
    cacheFile = vmiProbeCacheFile(cacheDir, emulator, &creds);
    if (cacheFile && g_file_get_contents(cacheFile, &cached, NULL, NULL) &&
        (found = vmiProbeResultFromString(g_strstrip(cached))) >= 0) {
        *result = found;
        return TRUE;
    }

    if (!vmiProbeRunEmulator(argv, &creds, input, &out, &err, &status, error))
        return FALSE;
    if (!vmiProbeClassify(out, err, result)) {
        vmiProbeUnrecognised(emulator, status, out, err, error);
        return FALSE;
    }

    if (cacheFile &&
        g_mkdir_with_parents(cacheDir, 0700) == 0)
        g_file_set_contents(cacheFile, vmiProbeResultToString(*result), -1, NULL);
    return TRUE;
}


static guint
vmiProbeCountIds(guint64 bitmap)
{
    return __builtin_popcountll(bitmap);
}


/*
 * Whether @def may run on an emulator of kind @result. A list of one id
 * survives an emulator that keeps only the last key; anything longer
 * would run silently shortened, which is refused.
 */
gboolean
vmiProbeCheckDef(const char *emulator, vmiProbeResult result, const vmiDef *def,
                 GError **error)
{
    guint64 commands = vmiDefEffectiveCommands(def);
    guint64 events = vmiDefEffectiveEvents(def);
    gboolean ok;

    switch (result) {
    case VMI_PROBE_ENFORCED:
        return TRUE;
    case VMI_PROBE_NO_OBJECT:
        g_set_error(error, VMI_ERROR, VMI_ERROR_UNSUPPORTED,
                    "emulator %s %s: introspection needs a QEMU with the introspection "
                    "object (on this host: the KVMI emulator qemu-kvmi); set the domain's "
                    "<emulator>, or virt-vmi remove the introspection",
                    emulator, vmiProbeResultDescribe(result));
        return FALSE;
    case VMI_PROBE_READONLY:
        ok = !commands && !events;
        break;
    case VMI_PROBE_LAST_ONLY:
    case VMI_PROBE_LAST:
    default:
        ok = vmiProbeCountIds(commands) <= 1 && vmiProbeCountIds(events) <= 1;
        break;
    }
    if (ok)
        return TRUE;
    g_set_error(error, VMI_ERROR, VMI_ERROR_UNSUPPORTED,
                "the domain's <vmi:allow> cannot be enforced: emulator %s %s. "
                "Use an emulator that applies every repeated command=/event= "
                "(virt-vmi host-validate --emulator PATH checks one), or drop the allow-list "
                "(virt-vmi set DOMAIN --allow-command all --allow-event all) to allow every "
                "command and event",
                emulator, vmiProbeResultDescribe(result));
    return FALSE;
}
