/*
 * vmi_tool_listen.c: the listening sockets
 *
 * QEMU's introspection object is the client, so the tool listens, on a
 * unix socket (which the QEMU user must be able to connect to) or on a
 * vsock port. Each accepted socket becomes an independent connection.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "vmi_tool.h"

/* How long to stop accepting when out of file descriptors. */
#define VMI_TOOL_ACCEPT_BACKOFF_MS 200

struct _vmiToolListener {
    vmiToolServer *server;
    const vmiToolListenAddr *addr;
    GSocket *sock;
    GSource *source;            /* accepting, or the backoff timer */
    gboolean unlinkPath;        /* the socket file is ours to remove */
};

static void vmiToolListenerWatch(vmiToolListener *listener);


static gboolean
vmiToolListenerResume(gpointer opaque)
{
    vmiToolListener *listener = opaque;

    g_source_unref(listener->source);
    listener->source = NULL;
    vmiToolListenerWatch(listener);
    return G_SOURCE_REMOVE;
}


/* A level-triggered source would spin on EMFILE: pause instead. */
static void
vmiToolListenerBackoff(vmiToolListener *listener)
{
    g_source_destroy(listener->source);
    g_source_unref(listener->source);
    listener->source = g_timeout_source_new(VMI_TOOL_ACCEPT_BACKOFF_MS);
    g_source_set_callback(listener->source, vmiToolListenerResume, listener, NULL);
    g_source_attach(listener->source, NULL);
}


static gboolean
vmiToolListenerAccept(GSocket *sock, GIOCondition cond, gpointer opaque)
{
    vmiToolListener *listener = opaque;

    for (;;) {
        g_autoptr(GError) err = NULL;
        g_autoptr(GSocket) client = g_socket_accept(sock, NULL, &err);

        if (client) {
            g_socket_set_blocking(client, FALSE);
            vmiToolConnAccepted(listener->server, listener->addr->text, client);
            continue;
        }
        if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return G_SOURCE_CONTINUE;
        g_printerr("vmi-tool: %s: accept: %s\n", listener->addr->text, err->message);
        vmiToolListenerBackoff(listener);
        return G_SOURCE_REMOVE;
    }
}


static void
vmiToolListenerWatch(vmiToolListener *listener)
{
    listener->source = g_socket_create_source(listener->sock, G_IO_IN, NULL);
    g_source_set_callback(listener->source, G_SOURCE_FUNC(vmiToolListenerAccept),
                          listener, NULL);
    g_source_attach(listener->source, NULL);
}


/*
 * A socket file left by a tool that died is removed; one that still
 * accepts connections belongs to a running tool and is left alone.
 */
static gboolean
vmiToolRemoveStaleSocket(const char *path, GError **error)
{
    g_autoptr(GSocketAddress) addr = NULL;
    g_autoptr(GSocket) probe = NULL;
    struct stat st;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return TRUE;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot stat %s: %s", path, g_strerror(errno));
        return FALSE;
    }
    if (!S_ISSOCK(st.st_mode)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                    "%s exists and is not a socket", path);
        return FALSE;
    }
    addr = g_unix_socket_address_new(path);
    probe = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, error);
    if (!probe)
        return FALSE;
    if (g_socket_connect(probe, addr, NULL, NULL)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
                    "%s is in use by another process", path);
        return FALSE;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot remove the stale socket %s: %s", path, g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}


static GSocket *
vmiToolListenUnix(vmiToolListener *listener, GError **error)
{
    const vmiToolConfig *cfg = listener->server->cfg;
    const char *path = listener->addr->path;
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
    g_autoptr(GSocket) sock = NULL;
    mode_t oldMask = 0;
    gboolean bound;

    if (!vmiToolRemoveStaleSocket(path, error))
        return NULL;
    if (!(sock = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, error)))
        return NULL;
    /* With --socket-mode, bind owner-only, so that the socket is never
     * open wider than asked for between bind and chmod. */
    if (cfg->socketMode >= 0)
        oldMask = umask(0177);
    bound = g_socket_bind(sock, addr, FALSE, error);
    if (cfg->socketMode >= 0)
        umask(oldMask);
    if (!bound)
        return NULL;
    listener->unlinkPath = TRUE;

    if (cfg->socketGroup >= 0 && chown(path, -1, cfg->socketGroup) < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot give %s to group %" G_GINT64_FORMAT ": %s",
                    path, cfg->socketGroup, g_strerror(errno));
        return NULL;
    }
    if (cfg->socketMode >= 0 && chmod(path, cfg->socketMode) < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot set the mode of %s to %04o: %s",
                    path, (unsigned)cfg->socketMode, g_strerror(errno));
        return NULL;
    }
    return g_steal_pointer(&sock);
}


/* GLib has no vsock addresses: bind the fd by hand, then wrap it. */
static GSocket *
vmiToolListenVsock(vmiToolListener *listener, GError **error)
{
    struct sockaddr_vm svm = {
        .svm_family = AF_VSOCK,
        .svm_cid = VMADDR_CID_ANY,
        .svm_port = listener->addr->port,
    };
    GSocket *sock;
    int fd;

    if ((fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "cannot create a vsock socket: %s", g_strerror(errno));
        return NULL;
    }
    if (bind(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0) {
        int saved = errno;
        close(fd);
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
                    "cannot bind vsock port %u: %s", listener->addr->port, g_strerror(saved));
        return NULL;
    }
    if (!(sock = g_socket_new_from_fd(fd, error)))
        close(fd);
    return sock;
}


vmiToolListener *
vmiToolListenerNew(vmiToolServer *server, const vmiToolListenAddr *addr, GError **error)
{
    vmiToolListener *listener = g_new0(vmiToolListener, 1);

    listener->server = server;
    listener->addr = addr;
    if (addr->type == VMI_TOOL_LISTEN_UNIX)
        listener->sock = vmiToolListenUnix(listener, error);
    else
        listener->sock = vmiToolListenVsock(listener, error);

    /* GLib's default backlog is 10: too few when every VM of a host
     * reconnects at once, e.g. after the tool restarts. */
    if (listener->sock)
        g_socket_set_listen_backlog(listener->sock, SOMAXCONN);
    if (!listener->sock || !g_socket_listen(listener->sock, error)) {
        g_prefix_error(error, "cannot listen on %s: ", addr->text);
        vmiToolListenerFree(listener);
        return NULL;
    }
    g_socket_set_blocking(listener->sock, FALSE);
    vmiToolListenerWatch(listener);
    return listener;
}


void
vmiToolListenerFree(vmiToolListener *listener)
{
    if (!listener)
        return;
    if (listener->source) {
        g_source_destroy(listener->source);
        g_source_unref(listener->source);
    }
    if (listener->sock)
        g_socket_close(listener->sock, NULL);
    g_clear_object(&listener->sock);
    if (listener->unlinkPath)
        unlink(listener->addr->path);
    g_free(listener);
}
