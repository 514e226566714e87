/*
 * emu_chardev.c: the introspection object's socket chardev, client side
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>
#include <glib-unix.h>

#include "emu_chardev.h"
#include "emu_log.h"

typedef enum {
    EMU_CHR_STATE_DISCONNECTED,
    EMU_CHR_STATE_CONNECTING,
    EMU_CHR_STATE_CONNECTED,
} emuChrState;

struct _emuChardev {
    char *id;
    emuSockAddr addr;
    gboolean server;
    int reconnect;                  /* seconds */
    gboolean initialReconnect;      /* created with reconnect=N, N > 0 */
    emuChrState state;
    int fd;
    guint connectWatch;
    guint reconnectTimer;
    gboolean errorReported;
    emuChardevEventFunc func;
    gpointer opaque;
};

static void emuChardevConnect(emuChardev *chr);


emuChardev *
emuChardevNew(const emuChardevSpec *spec)
{
    emuChardev *chr = g_new0(emuChardev, 1);

    chr->id = g_strdup(spec->id);
    chr->addr.type = spec->addr.type;
    chr->addr.path = g_strdup(spec->addr.path);
    chr->addr.cid = g_strdup(spec->addr.cid);
    chr->addr.port = g_strdup(spec->addr.port);
    chr->server = spec->server;
    chr->reconnect = spec->reconnect;
    chr->initialReconnect = spec->reconnect > 0 && !spec->server;
    chr->fd = -1;
    return chr;
}


static void
emuChardevClearSources(emuChardev *chr)
{
    if (chr->connectWatch) {
        g_source_remove(chr->connectWatch);
        chr->connectWatch = 0;
    }
    if (chr->reconnectTimer) {
        g_source_remove(chr->reconnectTimer);
        chr->reconnectTimer = 0;
    }
}


static void
emuChardevCloseFd(emuChardev *chr)
{
    if (chr->fd >= 0) {
        close(chr->fd);
        chr->fd = -1;
    }
}


void
emuChardevFree(emuChardev *chr)
{
    if (!chr)
        return;
    emuChardevClearSources(chr);
    emuChardevCloseFd(chr);
    g_free(chr->id);
    g_free(chr->addr.path);
    g_free(chr->addr.cid);
    g_free(chr->addr.port);
    g_free(chr);
}


const char *
emuChardevId(emuChardev *chr)
{
    return chr->id;
}


gboolean
emuChardevReconnecting(emuChardev *chr)
{
    return chr->initialReconnect;
}


gboolean
emuChardevConnected(emuChardev *chr)
{
    return chr->state == EMU_CHR_STATE_CONNECTED;
}


int
emuChardevFd(emuChardev *chr)
{
    return chr->state == EMU_CHR_STATE_CONNECTED ? chr->fd : -1;
}


gboolean
emuChardevAttached(emuChardev *chr)
{
    return chr->func != NULL;
}


static gboolean
emuChardevOnTimer(gpointer opaque)
{
    emuChardev *chr = opaque;

    chr->reconnectTimer = 0;
    emuChardevConnect(chr);
    return G_SOURCE_REMOVE;
}


static void
emuChardevRestartTimer(emuChardev *chr)
{
    /* QEMU would re-arm with 0 and spin: the reconnect was disabled */
    if (chr->reconnect <= 0 || chr->reconnectTimer || !chr->func)
        return;
    chr->reconnectTimer = g_timeout_add(chr->reconnect * 1000, emuChardevOnTimer, chr);
}


static void
emuChardevEmit(emuChardev *chr, emuChrEvent event)
{
    if (chr->func)
        chr->func(chr, event, chr->opaque);
}


/* The connection failed: report it once, as QEMU does, and try again later. */
static void
emuChardevConnectFailed(emuChardev *chr, int err)
{
    emuChardevCloseFd(chr);
    chr->state = EMU_CHR_STATE_DISCONNECTED;
    if (!chr->errorReported) {
        if (chr->addr.type == EMU_ADDR_UNIX)
            emuError("Unable to connect character device %s: Failed to connect to '%s': %s",
                     chr->id, chr->addr.path, g_strerror(err));
        else
            emuError("Unable to connect character device %s: Failed to connect socket: %s",
                     chr->id, g_strerror(err));
        chr->errorReported = TRUE;
    }
    emuChardevRestartTimer(chr);
}


static void
emuChardevConnected_(emuChardev *chr)
{
    chr->state = EMU_CHR_STATE_CONNECTED;
    chr->errorReported = FALSE;
    g_unix_set_fd_nonblocking(chr->fd, TRUE, NULL);
    emuChardevEmit(chr, EMU_CHR_OPENED);
}


static gboolean
emuChardevOnConnectDone(gint fd, GIOCondition cond, gpointer opaque)
{
    emuChardev *chr = opaque;
    int err = 0;
    socklen_t len = sizeof(err);

    chr->connectWatch = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err)
        emuChardevConnectFailed(chr, err);
    else
        emuChardevConnected_(chr);
    return G_SOURCE_REMOVE;
}


static int
emuChardevSockaddr(emuChardev *chr, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (chr->addr.type == EMU_ADDR_UNIX) {
        struct sockaddr_un *un = (struct sockaddr_un *)ss;

        if (strlen(chr->addr.path) >= sizeof(un->sun_path))
            return -ENAMETOOLONG;
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, chr->addr.path);
        *len = sizeof(*un);
        return AF_UNIX;
    } else {
        struct sockaddr_vm *vm = (struct sockaddr_vm *)ss;
        guint64 cid, port;

        if (!g_ascii_string_to_unsigned(chr->addr.cid, 10, 0, G_MAXUINT32, &cid, NULL) ||
            !g_ascii_string_to_unsigned(chr->addr.port, 10, 0, G_MAXUINT32, &port, NULL))
            return -EINVAL;
        vm->svm_family = AF_VSOCK;
        vm->svm_cid = cid;
        vm->svm_port = port;
        *len = sizeof(*vm);
        return AF_VSOCK;
    }
}


static void
emuChardevConnect(emuChardev *chr)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int family = emuChardevSockaddr(chr, &ss, &len);

    if (chr->state != EMU_CHR_STATE_DISCONNECTED)
        return;
    if (family < 0) {
        emuChardevConnectFailed(chr, -family);
        return;
    }
    chr->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (chr->fd < 0) {
        emuChardevConnectFailed(chr, errno);
        return;
    }
    chr->state = EMU_CHR_STATE_CONNECTING;
    if (connect(chr->fd, (struct sockaddr *)&ss, len) == 0) {
        emuChardevConnected_(chr);
        return;
    }
    if (errno != EINPROGRESS && errno != EAGAIN) {
        emuChardevConnectFailed(chr, errno);
        return;
    }
    chr->connectWatch = g_unix_fd_add(chr->fd, G_IO_OUT | G_IO_ERR | G_IO_HUP,
                                      emuChardevOnConnectDone, chr);
}


void
emuChardevAttach(emuChardev *chr, emuChardevEventFunc func, gpointer opaque,
                 gboolean later)
{
    chr->func = func;
    chr->opaque = opaque;
    if (later)
        emuChardevRestartTimer(chr);
    else
        emuChardevConnect(chr);
}


void
emuChardevDetach(emuChardev *chr)
{
    chr->func = NULL;
    chr->opaque = NULL;
    emuChardevClearSources(chr);
    emuChardevCloseFd(chr);
    chr->state = EMU_CHR_STATE_DISCONNECTED;
}


void
emuChardevDisconnect(emuChardev *chr)
{
    gboolean wasConnected = chr->state == EMU_CHR_STATE_CONNECTED;

    if (chr->connectWatch) {
        g_source_remove(chr->connectWatch);
        chr->connectWatch = 0;
    }
    emuChardevCloseFd(chr);
    chr->state = EMU_CHR_STATE_DISCONNECTED;
    if (wasConnected)
        emuChardevEmit(chr, EMU_CHR_CLOSED);
    emuChardevRestartTimer(chr);
}


int
emuChardevReconnectTime(emuChardev *chr, int secs)
{
    int old = chr->reconnect;

    if (secs >= 0)
        chr->reconnect = secs;
    return old;
}


char *
emuChardevFilename(emuChardev *chr)
{
    const char *prefix = chr->state == EMU_CHR_STATE_CONNECTED ? "" : "disconnected:";

    if (chr->addr.type == EMU_ADDR_UNIX) {
        /* connected: QEMU prints the local address, unnamed for a client */
        if (chr->state == EMU_CHR_STATE_CONNECTED)
            return g_strdup("unix:");
        return g_strdup_printf("%sunix:%s%s", prefix, chr->addr.path,
                               chr->server ? ",server=on" : "");
    }
    if (chr->state == EMU_CHR_STATE_CONNECTED) {
        struct sockaddr_vm vm;
        socklen_t len = sizeof(vm);

        memset(&vm, 0, sizeof(vm));
        getsockname(chr->fd, (struct sockaddr *)&vm, &len);
        return g_strdup_printf("vsock:%u:%u", vm.svm_cid, vm.svm_port);
    }
    return g_strdup_printf("%svsock:%s:%s", prefix, chr->addr.cid, chr->addr.port);
}
