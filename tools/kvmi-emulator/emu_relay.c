/*
 * emu_relay.c: the process beside QEMU
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <glib-unix.h>

#include "emu_context.h"
#include "emu_e820.h"
#include "emu_intercept.h"
#include "emu_log.h"
#include "emu_proxy.h"
#include "emu_relay.h"
#include "emu_secret.h"
#include "emu_vmi.h"

typedef struct {
    emuE820Input in;
    char *cpuPath;
} emuReadyQuery;

static GMainLoop *loop;
static guint openSessions;      /* QEMU's sessions not at their end yet */
static guint exitTimer;
static guint qemuWatch;


static void
emuRelayQuit(void)
{
    if (loop)
        g_main_loop_quit(loop);
}


/* QEMU's last replies and events come before its sockets' end: the relay
 * goes when all of them have been read. */
static void
emuRelaySessionClosed(void)
{
    if (openSessions > 0 && --openSessions == 0)
        emuRelayQuit();
}


static gboolean
emuRelayOnExitTimer(gpointer opaque)
{
    exitTimer = 0;
    emuRelayQuit();
    return G_SOURCE_REMOVE;
}


static gboolean
emuRelayOnSignal(gpointer opaque)
{
    emuRelayQuit();
    return G_SOURCE_CONTINUE;
}


/* QEMU is gone, even if something it started still holds its sockets */
static gboolean
emuRelayOnQemuExit(gint fd, GIOCondition cond, gpointer opaque)
{
    qemuWatch = 0;
    if (!exitTimer)
        exitTimer = g_timeout_add(1000, emuRelayOnExitTimer, NULL);
    return G_SOURCE_REMOVE;
}


static gboolean
emuFdNeeded(emuCmdline *cmd, int fd, int privateFd)
{
    guint i;

    if (fd <= STDERR_FILENO || fd == privateFd)
        return TRUE;
    for (i = 0; i < cmd->monitors->len; i++) {
        emuMonitorSpec *mon = g_ptr_array_index(cmd->monitors, i);

        if (fd == mon->listenFd || fd == mon->proxyFd || fd == mon->firstClientFd)
            return TRUE;
    }
    return FALSE;
}


void
emuRelayCloseOtherFds(emuCmdline *cmd, int privateFd)
{
    g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *ent;
    guint i;

    if (!dir)
        return;
    while ((ent = readdir(dir))) {
        guint64 fd;

        if (g_ascii_string_to_unsigned(ent->d_name, 10, 0, G_MAXINT, &fd, NULL) &&
            (int)fd != dirfd(dir) && !emuFdNeeded(cmd, fd, privateFd))
            g_array_append_val(fds, fd);
    }
    closedir(dir);
    for (i = 0; i < fds->len; i++)
        close(g_array_index(fds, int, i));
}


/* --- the machine is ready ------------------------------------------------ */

static void
emuRelayMachineReady(emuReadyQuery *query)
{
    emuCtx.e820 = emuE820Build(&query->in);
    emuCtx.machineReady = TRUE;
    g_free(query->in.mtree);
    g_free(query->in.machineType);
    g_free(query->in.cpuVendor);
    g_free(query->cpuPath);
    g_free(query);
    /* the object's machine_ready notifier, then the monitors */
    if (emuCtx.vmi)
        emuVmiStart(emuCtx.vmi);
    emuProxyMachineReady();
}


static void
emuRelayGotPhysBits(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    emuReadyQuery *query = opaque;

    if (YAJL_IS_INTEGER(ret))
        query->in.physBits = YAJL_GET_INTEGER(ret);
    emuRelayMachineReady(query);
}


static char *
emuQomGetArgs(const char *path, const char *prop)
{
    yajl_gen gen = emuJsonGenNew(FALSE);
    GString *out;

    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "path");
    emuJsonGenString(gen, path);
    emuJsonGenKey(gen, "property");
    emuJsonGenString(gen, prop);
    yajl_gen_map_close(gen);
    out = emuJsonGenFinish(gen);
    return g_string_free(out, FALSE);
}


static void
emuRelayGotVendor(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    emuReadyQuery *query = opaque;
    g_autofree char *args = emuQomGetArgs(query->cpuPath, "phys-bits");

    if (YAJL_IS_STRING(ret))
        query->in.cpuVendor = g_strdup(YAJL_GET_STRING(ret));
    emuSessionCall(session, "qom-get", args, emuRelayGotPhysBits, query);
}


static void
emuRelayGotCpus(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    emuReadyQuery *query = opaque;
    const char *path = NULL;
    g_autofree char *args = NULL;

    if (YAJL_IS_ARRAY(ret) && ret->u.array.len > 0)
        path = emuJsonGetString(ret->u.array.values[0], "qom-path");
    if (!path) {
        emuRelayMachineReady(query);
        return;
    }
    query->cpuPath = g_strdup(path);
    args = emuQomGetArgs(path, "vendor");
    emuSessionCall(session, "qom-get", args, emuRelayGotVendor, query);
}


static void
emuRelayGotMachineType(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    emuReadyQuery *query = opaque;

    if (YAJL_IS_STRING(ret))
        query->in.machineType = g_strdup(YAJL_GET_STRING(ret));
    emuSessionCall(session, "query-cpus-fast", NULL, emuRelayGotCpus, query);
}


static void
emuRelayGotMtree(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    emuReadyQuery *query = opaque;
    g_autofree char *args = emuQomGetArgs("/machine", "type");

    if (YAJL_IS_STRING(ret))
        query->in.mtree = g_strdup(YAJL_GET_STRING(ret));
    emuSessionCall(session, "qom-get", args, emuRelayGotMachineType, query);
}


static void
emuRelayGotKvm(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    emuReadyQuery *query = opaque;

    /* the e820 table is the one QEMU built: KVM's pages only under real KVM */
    query->in.kvm = YAJL_IS_TRUE(emuJsonGet(ret, "enabled"));
    emuCtx.kvm = query->in.kvm || emuCtx.kvmMode == EMU_KVM_TCG;
    emuSessionCall(session, "human-monitor-command", "{\"command-line\": \"info mtree\"}",
                   emuRelayGotMtree, query);
}


/* QEMU answers its monitors once the machine is created: the moment the
 * object's machine_ready notifier would run. */
static void
emuRelayOnPrivateReady(emuSession *session, gpointer opaque)
{
    emuSessionCall(session, "query-kvm", NULL, emuRelayGotKvm, g_new0(emuReadyQuery, 1));
}


static void
emuRelayOnPrivateEof(emuSession *session, gpointer opaque)
{
    emuRelaySessionClosed();
}


/* --- running ----------------------------------------------------------- */

static void
emuRelayDetachStdio(emuCmdline *cmd)
{
    guint i;
    int null;

    for (i = 0; i < cmd->monitors->len; i++) {
        if (((emuMonitorSpec *)g_ptr_array_index(cmd->monitors, i))->stdio)
            return;
    }
    /* stdin and stdout are QEMU's: whoever waits for their end must not
     * wait for this process too */
    if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
        return;
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    close(null);
}


static guint
emuRelayWatchQemu(pid_t pid, int *pidfd)
{
    *pidfd = syscall(SYS_pidfd_open, pid, 0);
    if (*pidfd < 0)
        return 0;
    return g_unix_fd_add(*pidfd, G_IO_IN, emuRelayOnQemuExit, NULL);
}


int
emuRelayRun(emuCmdline *cmd, int privateFd, pid_t qemuPid)
{
    static const emuSessionCallbacks privateCb = {
        emuRelayOnPrivateReady, emuInterceptPrivateEvent, emuRelayOnPrivateEof,
    };
    static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
    guint signalWatch[G_N_ELEMENTS(signals)];
    GPtrArray *monitors = g_ptr_array_new();
    int pidfd = -1;
    guint i;

    signal(SIGPIPE, SIG_IGN);
    emuRelayDetachStdio(cmd);
    loop = g_main_loop_new(NULL, FALSE);
    for (i = 0; i < G_N_ELEMENTS(signals); i++)
        signalWatch[i] = g_unix_signal_add(signals[i], emuRelayOnSignal, NULL);
    /* with -daemonize the pid that exits is not the one that runs */
    if (!cmd->daemonize)
        qemuWatch = emuRelayWatchQemu(qemuPid, &pidfd);
    emuInterceptSetQuitFunc(emuRelaySessionClosed);
    openSessions = 1 + cmd->monitors->len;

    emuCtx.priv = emuSessionNew(privateFd, &privateCb, NULL);
    for (i = 0; i < cmd->monitors->len; i++)
        g_ptr_array_add(monitors, emuMonitorNew(g_ptr_array_index(cmd->monitors, i)));

    g_main_loop_run(loop);

    for (i = 0; i < monitors->len; i++)
        emuMonitorFlush(g_ptr_array_index(monitors, i));
    for (i = 0; i < monitors->len; i++)
        emuMonitorFree(g_ptr_array_index(monitors, i));
    g_ptr_array_unref(monitors);
    emuProxyCleanup();
    g_clear_pointer(&emuCtx.vmi, emuVmiFree);
    g_clear_pointer(&emuCtx.priv, emuSessionFree);
    g_clear_pointer(&emuCtx.chardevs, g_ptr_array_unref);
    g_clear_pointer(&emuCtx.e820, g_array_unref);
    g_clear_pointer(&emuCtx.guestName, g_free);
    emuSecretsClear();
    for (i = 0; i < cmd->monitors->len; i++) {
        emuMonitorSpec *mon = g_ptr_array_index(cmd->monitors, i);

        /* QEMU removes the socket files of its listening chardevs */
        if (mon->unixPath)
            unlink(mon->unixPath);
        if (mon->listenFd >= 0)
            close(mon->listenFd);
    }
    if (qemuWatch)
        g_source_remove(qemuWatch);
    if (exitTimer)
        g_source_remove(exitTimer);
    qemuWatch = exitTimer = 0;
    if (pidfd >= 0)
        close(pidfd);
    for (i = 0; i < G_N_ELEMENTS(signals); i++)
        g_source_remove(signalWatch[i]);
    g_main_loop_unref(loop);
    loop = NULL;
    return 0;
}
