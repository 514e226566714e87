/*
 * qemu_kvmi.c: qemu-kvmi, a stand-in for a KVMI-patched QEMU and a KVMI kernel
 *
 * Invoked exactly like qemu-system-x86_64. With nothing of its own to do
 * it executes the real QEMU. Otherwise it checks the introspection object
 * as the patched QEMU would (failing the same way), forks the relay
 * process (QMP proxy, the object, the emulated kernel), and executes the
 * real QEMU in this process, so that the pid, pidfile and cgroup that
 * libvirt sees are QEMU's own. See docs/qemu-kvmi.rst.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <gio/gio.h>

#include "emu_cmdline.h"
#include "emu_context.h"
#include "emu_log.h"
#include "emu_object.h"
#include "emu_relay.h"
#include "emu_vmi.h"

#define EMU_QEMU_DEFAULT "/usr/bin/qemu-system-x86_64"

typedef struct {
    char *qemu;
    emuCompat compat;
    emuMigrateHold migrateHold;
    emuKvmMode kvmMode;
    GPtrArray *qemuArgv;        /* argv[0] and QEMU's arguments */
} emuOptions;


static void
emuOptionsClear(emuOptions *opts)
{
    g_free(opts->qemu);
    g_ptr_array_unref(opts->qemuArgv);
}


static gboolean
emuSetOption(emuOptions *opts, const char *name, const char *value)
{
    int n;

    if (g_str_equal(name, "qemu")) {
        g_free(opts->qemu);
        opts->qemu = g_strdup(value);
        return TRUE;
    }
    if (g_str_equal(name, "kvmi-compat")) {
        if ((n = emuCompatFromString(value)) < 0) {
            emuError("--kvmi-compat: invalid value '%s' (expected documented, "
                     "fork-readonly or fork-last-key)", value);
            return FALSE;
        }
        opts->compat = n;
        return TRUE;
    }
    if (g_str_equal(name, "kvmi-kvm")) {
        if (g_str_equal(value, "host")) {
            opts->kvmMode = EMU_KVM_HOST;
        } else if (g_str_equal(value, "tcg")) {
            opts->kvmMode = EMU_KVM_TCG;
        } else {
            emuError("--kvmi-kvm: invalid value '%s' (expected host or tcg)", value);
            return FALSE;
        }
        return TRUE;
    }
    if (g_str_equal(value, "setup")) {
        opts->migrateHold = EMU_MIGRATE_HOLD_SETUP;
    } else if (g_str_equal(value, "wait-unplug")) {
        opts->migrateHold = EMU_MIGRATE_HOLD_WAIT_UNPLUG;
    } else {
        emuError("--kvmi-migrate-hold: invalid value '%s' (expected setup or wait-unplug)",
                 value);
        return FALSE;
    }
    return TRUE;
}


/* The environment first, then the options (which win), all stripped
 * before QEMU sees its arguments. */
static gboolean
emuParseOptions(int argc, char **argv, emuOptions *opts)
{
    static const char *const names[] = { "qemu", "kvmi-compat", "kvmi-migrate-hold",
                                         "kvmi-kvm" };
    static const char *const envs[] = { "QEMU_KVMI_QEMU", "QEMU_KVMI_COMPAT",
                                        "QEMU_KVMI_MIGRATE_HOLD", "QEMU_KVMI_KVM" };
    int i;
    guint n;

    opts->qemu = g_strdup(EMU_QEMU_DEFAULT);
    /* a host without KVM can run no KVM guest at all: TCG stands in */
    opts->kvmMode = g_file_test("/dev/kvm", G_FILE_TEST_EXISTS) ? EMU_KVM_HOST : EMU_KVM_TCG;
    opts->qemuArgv = g_ptr_array_new();
    g_ptr_array_add(opts->qemuArgv, argv[0]);
    for (n = 0; n < G_N_ELEMENTS(names); n++) {
        const char *value = g_getenv(envs[n]);

        if (value && *value && !emuSetOption(opts, names[n], value))
            return FALSE;
    }
    for (i = 1; i < argc; i++) {
        gboolean ours = FALSE;

        for (n = 0; n < G_N_ELEMENTS(names) && !ours; n++) {
            g_autofree char *opt = g_strdup_printf("--%s", names[n]);
            g_autofree char *optEq = g_strdup_printf("--%s=", names[n]);

            if (g_str_has_prefix(argv[i], optEq)) {
                ours = TRUE;
                if (!emuSetOption(opts, names[n], argv[i] + strlen(optEq)))
                    return FALSE;
            } else if (g_str_equal(argv[i], opt)) {
                ours = TRUE;
                if (i + 1 >= argc) {
                    emuError("%s requires an argument", opt);
                    return FALSE;
                }
                if (!emuSetOption(opts, names[n], argv[++i]))
                    return FALSE;
            }
        }
        if (!ours)
            g_ptr_array_add(opts->qemuArgv, argv[i]);
    }
    g_ptr_array_add(opts->qemuArgv, NULL);
    return TRUE;
}


static int
emuExecQemu(const emuOptions *opts, char **argv)
{
    execv(opts->qemu, argv);
    emuError("cannot execute %s: %s", opts->qemu, g_strerror(errno));
    return 1;
}


/* QEMU's list of user-creatable types, with ours in its sorted place. */
static int
emuObjectTypesHelp(const emuOptions *opts)
{
    g_autofree char *out = NULL;
    g_autoptr(GString) list = g_string_new(NULL);
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) lines = NULL;
    char **argv = (char **)opts->qemuArgv->pdata;
    const char *saved = argv[0];
    gboolean added = FALSE;
    int status = 0;
    guint i;

    argv[0] = opts->qemu;
    if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL,
                      &out, NULL, &status, &err)) {
        argv[0] = (char *)saved;
        emuError("cannot execute %s: %s", opts->qemu, err->message);
        return 1;
    }
    argv[0] = (char *)saved;
    lines = g_strsplit(out, "\n", -1);
    for (i = 0; lines[i]; i++) {
        const char *name = lines[i] + 2;

        if (!added && g_str_has_prefix(lines[i], "  ") &&
            strcmp(name, EMU_OBJECT_TYPE) > 0) {
            g_string_append(list, "  " EMU_OBJECT_TYPE "\n");
            added = TRUE;
        }
        g_string_append(list, lines[i]);
        if (lines[i + 1])
            g_string_append_c(list, '\n');
    }
    fputs(list->str, stdout);
    fflush(stdout);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}


/* What the object checks when it is created (with its -object as the
 * location) and when the machine is ready; any failure ends QEMU. */
static gboolean
emuCheckObjects(emuCmdline *cmd, emuCompat compat)
{
    g_autoptr(emuObject) obj = NULL;
    g_autoptr(GHashTable) qemuChardevs = NULL;
    g_autoptr(GError) err = NULL;
    GHashTableIter iter;
    gpointer key;
    guint i;

    for (i = 0; i < cmd->objectArgs->len; i++) {
        emuArg *arg = g_ptr_array_index(cmd->objectArgs, i);
        g_autoptr(emuOpts) opts = emuOptsParse(arg->value, "qom-type");
        g_autofree char *hint = NULL;

        emuLogSetLocation(arg->written, arg->value);
        g_clear_pointer(&obj, emuObjectFree);
        obj = emuObjectFromOpts(opts, compat, &hint, &err);
        if (!obj || !emuObjectComplete(obj, i + 1, &err)) {
            emuErrorHint(err->message, hint);
            return FALSE;
        }
    }
    emuLogSetLocation(NULL, NULL);
    if (!obj)
        return TRUE;
    /* an accelerator that cannot start is QEMU's own error, and first */
    if (!cmd->accelUsable)
        return TRUE;

    qemuChardevs = g_hash_table_new(g_str_hash, g_str_equal);
    g_hash_table_iter_init(&iter, cmd->chardevIds);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        if (!emuCmdlineFindChardev(cmd, key))
            g_hash_table_add(qemuChardevs, key);
    }
    emuCtx.vmi = emuVmiNew(obj, TRUE, qemuChardevs, cmd->objectTypes, &err);
    if (!emuCtx.vmi) {
        emuError("%s", err->message);
        return FALSE;
    }
    obj = NULL;
    return TRUE;
}


/* QEMU with server=on,wait=on waits for its first client before it runs. */
static gboolean
emuWaitFirstClients(emuCmdline *cmd, GError **error)
{
    guint i;

    for (i = 0; i < cmd->monitors->len; i++) {
        emuMonitorSpec *mon = g_ptr_array_index(cmd->monitors, i);
        int fd;

        if (!mon->wait || mon->listenFd < 0)
            continue;
        emuInfo("QEMU waiting for connection on: disconnected:%s", mon->filename);
        do {
            fd = accept4(mon->listenFd, NULL, NULL, SOCK_CLOEXEC);
        } while (fd < 0 && errno == EINTR);
        if (fd < 0) {
            g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                        "accept: %s", g_strerror(errno));
            return FALSE;
        }
        mon->firstClientFd = fd;
    }
    return TRUE;
}


static void
emuSetInheritable(int fd)
{
    int flags = fcntl(fd, F_GETFD);

    if (flags >= 0)
        fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
}


/* This process becomes QEMU: only QEMU's ends of the pairs stay open for it. */
static int
emuBecomeQemu(const emuOptions *opts, emuCmdline *cmd, int privateQemuFd, int privateProxyFd)
{
    g_auto(GStrv) argv = NULL;
    guint i;

    close(privateProxyFd);
    for (i = 0; i < cmd->monitors->len; i++) {
        emuMonitorSpec *mon = g_ptr_array_index(cmd->monitors, i);

        close(mon->proxyFd);
        if (mon->firstClientFd >= 0)
            close(mon->firstClientFd);
        emuSetInheritable(mon->qemuFd);
    }
    emuSetInheritable(privateQemuFd);
    argv = emuCmdlineBuildArgv(cmd, g_ptr_array_index(opts->qemuArgv, 0), privateQemuFd);
    return emuExecQemu(opts, argv);
}


static int
emuRunRelay(emuCmdline *cmd, int privateQemuFd, int privateProxyFd, pid_t qemuPid)
{
    guint i;

    close(privateQemuFd);
    for (i = 0; i < cmd->monitors->len; i++)
        close(((emuMonitorSpec *)g_ptr_array_index(cmd->monitors, i))->qemuFd);
    emuRelayCloseOtherFds(cmd, privateProxyFd);
    return emuRelayRun(cmd, privateProxyFd, qemuPid);
}


static int
emuEmulate(const emuOptions *opts, emuCmdline *cmd)
{
    g_autoptr(GError) err = NULL;
    int privateQemuFd = -1;
    int privateProxyFd = -1;
    pid_t parent = getpid();
    pid_t pid;

    emuCtx.compat = opts->compat;
    emuCtx.migrateHold = opts->migrateHold;
    emuCtx.kvmMode = opts->kvmMode;
    emuCtx.kvm = cmd->kvm || (opts->kvmMode == EMU_KVM_TCG && cmd->accelUsable);
    memcpy(emuCtx.uuid, cmd->uuid, sizeof(emuCtx.uuid));
    emuCtx.guestName = g_strdup(cmd->guestName);
    emuCtx.chardevs = g_ptr_array_new_with_free_func((GDestroyNotify)emuChardevFree);
    for (guint i = 0; i < cmd->chardevs->len; i++)
        g_ptr_array_add(emuCtx.chardevs, emuChardevNew(g_ptr_array_index(cmd->chardevs, i)));

    if (!emuCheckObjects(cmd, opts->compat))
        return 1;
    if (!emuCmdlinePrepareMonitors(cmd, &privateQemuFd, &privateProxyFd, &err) ||
        !emuWaitFirstClients(cmd, &err)) {
        emuError("%s", err->message);
        return 1;
    }

    /* nothing may be left buffered for both processes to write */
    fflush(NULL);
    if ((pid = fork()) < 0) {
        emuError("fork: %s", g_strerror(errno));
        return 1;
    }
    if (pid == 0)
        /* exit(), not _exit(): LeakSanitizer checks at exit (stdio was
         * flushed before the fork) */
        exit(emuRunRelay(cmd, privateQemuFd, privateProxyFd, parent));
    return emuBecomeQemu(opts, cmd, privateQemuFd, privateProxyFd);
}


int
main(int argc, char **argv)
{
    emuOptions opts = { 0 };
    g_autoptr(emuCmdline) cmd = NULL;
    int ret;

    emuLogInit(argv[0]);
    if (!emuParseOptions(argc, argv, &opts)) {
        emuOptionsClear(&opts);
        return 1;
    }
    cmd = emuCmdlineParse(opts.qemuArgv->len - 1, (char **)opts.qemuArgv->pdata);
    emuLogSetTimestamp(cmd->msgTimestamp);
    if (cmd->msgGuestName)
        emuLogSetGuestName(cmd->guestName);

    switch (cmd->mode) {
    case EMU_RUN_EXEC:
        ret = emuExecQemu(&opts, (char **)opts.qemuArgv->pdata);
        break;
    case EMU_RUN_OBJECT_HELP:
        ret = emuObjectTypesHelp(&opts);
        break;
    case EMU_RUN_INTROSPECTION_HELP: {
        g_autofree char *help = emuObjectHelp();

        fputs(help, stdout);
        ret = 0;
        break;
    }
    case EMU_RUN_EMULATE:
    default:
        ret = emuEmulate(&opts, cmd);
        break;
    }
    emuOptionsClear(&opts);
    return ret;
}
