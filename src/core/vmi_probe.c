/*
 * vmi_probe.c: tell the three kinds of introspection object apart
 *
 * The published KVMI QEMU branches do not implement allow-lists as
 * documented (notes/kvmi.md): their command/event properties cannot be
 * set, or only the last repeated key counts. One run of the emulator,
 * with no KVMI kernel needed, tells which: an id of 4294967295 followed
 * by a valid one is refused ("VMI: add command: invalid id -1") only when
 * every key is applied.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/vmi_probe.h"
#include "core/vmi_fd.h"
#include "conf/vmi_error.h"

#define VMI_PROBE_TIMEOUT_SECONDS 20

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


/*
 * The cache key names the exact binary and environment probed: a new
 * emulator build, or another QEMU_KVMI_* in <qemu:env>, probes afresh.
 */
static char *
vmiProbeCacheFile(const char *cacheDir, const char *emulator, const char *const *env)
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
    for (; env && *env; env++)
        g_checksum_update(sum, (const guchar *)*env, strlen(*env) + 1);
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
 * Runs the emulator with @argv (argv[0] is the emulator) in a clean
 * environment plus @env, @input on its standard input, for at most
 * VMI_PROBE_TIMEOUT_SECONDS. Returns its standard output and error.
 */
static gboolean
vmiProbeRunEmulator(const char *const *argv, const char *const *env, const char *input,
                    char **out, char **err, GError **error)
{
    g_autoptr(GSubprocessLauncher) launcher =
        g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                  G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GMainContext) ctx = NULL;
    g_autoptr(GSource) timeout = NULL;
    vmiProbeRun run = { 0 };
    int stdinFd;

    if ((stdinFd = vmiProbeInputPipe(input, error)) < 0)
        return FALSE;
    g_subprocess_launcher_take_stdin_fd(launcher, stdinFd);
    ctx = g_main_context_new();
    g_subprocess_launcher_set_environ(launcher, NULL);
    g_subprocess_launcher_setenv(launcher, "PATH", "/usr/sbin:/usr/bin:/sbin:/bin", TRUE);
    g_subprocess_launcher_setenv(launcher, "LC_ALL", "C", TRUE);
    for (; env && *env; env++) {
        g_auto(GStrv) kv = g_strsplit(*env, "=", 2);
        if (kv[0] && kv[1])
            g_subprocess_launcher_setenv(launcher, kv[0], kv[1], TRUE);
    }

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
    return TRUE;
}


/* Before running it: GLib's own message for a missing program is
 * less clear, and its typographic quotes come out as '?' in a C locale. */
static gboolean
vmiProbeCheckExecutable(const char *emulator, GError **error)
{
    if (g_file_test(emulator, G_FILE_TEST_IS_REGULAR) &&
        g_file_test(emulator, G_FILE_TEST_IS_EXECUTABLE))
        return TRUE;
    g_set_error(error, VMI_ERROR, VMI_ERROR_NOT_FOUND,
                "emulator '%s' does not exist or is not executable", emulator);
    return FALSE;
}


/* `-object help` lists the object types the emulator can create. */
gboolean
vmiProbeHasObject(const char *emulator, const char *const *env, gboolean *has,
                  GError **error)
{
    const char *argv[] = { emulator, "-object", "help", NULL };
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_auto(GStrv) lines = NULL;
    size_t i;

    if (!vmiProbeCheckExecutable(emulator, error) ||
        !vmiProbeRunEmulator(argv, env, "", &out, &err, error))
        return FALSE;
    *has = FALSE;
    lines = g_strsplit(out, "\n", -1);
    for (i = 0; lines[i]; i++)
        *has |= g_str_equal(g_strstrip(lines[i]), "introspection");
    return TRUE;
}


static vmiProbeResult
vmiProbeClassify(const char *err)
{
    if (strstr(err, "VMI: add command: invalid id -1"))
        return VMI_PROBE_ENFORCED;
    if (strstr(err, "Insufficient permission to perform this operation"))
        return VMI_PROBE_READONLY;
    if (strstr(err, "'introspection'") && (strstr(err, "invalid object type") ||
                                           strstr(err, "does not accept value")))
        return VMI_PROBE_NO_OBJECT;
    /* the keys passed: only the last one was applied */
    return VMI_PROBE_LAST_ONLY;
}


gboolean
vmiProbeEmulator(const char *emulator, const char *const *env,
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
    g_autofree char *cacheFile = vmiProbeCacheFile(cacheDir, emulator, env);
    g_autofree char *cached = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int found;

    if (!vmiProbeCheckExecutable(emulator, error))
        return FALSE;
    if (cacheFile && g_file_get_contents(cacheFile, &cached, NULL, NULL) &&
        (found = vmiProbeResultFromString(g_strstrip(cached))) >= 0) {
        *result = found;
        return TRUE;
    }

    if (!vmiProbeRunEmulator(argv, env, input, &out, &err, error))
        return FALSE;
    *result = vmiProbeClassify(err);

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
