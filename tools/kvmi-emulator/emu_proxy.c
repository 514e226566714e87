/*
 * emu_proxy.c: the QMP proxy in front of QEMU's monitors
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib-unix.h>

#include "emu_context.h"
#include "emu_intercept.h"
#include "emu_proxy.h"
#include "emu_stream.h"

struct _emuClient {
    emuMonitor *mon;
    emuStream *stream;
    emuJsonSplitter splitter;
    gboolean greeted;
    gboolean negotiated;
    GArray *fds;                /* received, not yet given to a request */
};

static GPtrArray *monitors;     /* emuMonitor * */

static void emuMonitorPump(emuMonitor *mon);
static void emuMonitorWatchAccept(emuMonitor *mon);


GPtrArray *
emuProxyMonitors(void)
{
    if (!monitors)
        monitors = g_ptr_array_new();
    return monitors;
}


void
emuProxyCleanup(void)
{
    g_clear_pointer(&monitors, g_ptr_array_unref);
}


/* --- requests ------------------------------------------------------------ */

static void
emuRequestFree(emuRequest *req)
{
    if (!req)
        return;
    if (req->dataFree)
        req->dataFree(req->data);
    g_free(req->raw);
    if (req->fds) {
        emuCloseFds(req->fds);
        g_array_unref(req->fds);
    }
    yajl_tree_free(req->tree);
    g_free(req);
}


static void
emuRequestDone(emuRequest *req)
{
    emuMonitor *mon = req->mon;

    if (mon->active == req)
        mon->active = NULL;
    emuRequestFree(req);
    emuMonitorPump(mon);
}


static void
emuClientSend(emuClient *client, const char *msg, gsize len)
{
    if (!client)
        return;
    emuStreamWrite(client->stream, msg, len);
}


void
emuProxyReply(emuRequest *req, GString *msg)
{
    emuClientSend(req->client, msg->str, msg->len);
    g_string_free(msg, TRUE);
    emuRequestDone(req);
}


void
emuProxyReplyEmpty(emuRequest *req)
{
    emuProxyReply(req, emuQmpReturnEmpty(req->id, req->pretty));
}


void
emuProxyReplyError(emuRequest *req, const char *desc)
{
    emuProxyReply(req, emuQmpError(req->id, "GenericError", desc, req->pretty));
}


static void
emuRequestOnReply(emuSession *session, const char *msg, gsize len, gpointer opaque)
{
    emuRequest *req = opaque;
    GString *out = NULL;

    if (req->internalDone) {
        req->internalDone(session, msg, len, req->internalOpaque);
        emuRequestDone(req);
        return;
    }
    if (req->filter)
        out = req->filter(req, msg, len);
    if (out) {
        emuClientSend(req->client, out->str, out->len);
        g_string_free(out, TRUE);
    } else {
        emuClientSend(req->client, msg, len);
    }
    emuRequestDone(req);
}


void
emuProxyForward(emuRequest *req, emuReplyFilter filter)
{
    req->filter = filter;
    emuSessionSend(req->mon->session, req->raw, req->len, req->fds, emuRequestOnReply, req);
    /* the stream took copies */
    if (req->fds)
        emuCloseFds(req->fds);
}


void
emuProxyInject(emuMonitor *mon, const char *msg, emuSessionReplyFunc done, gpointer opaque)
{
    emuRequest *req = g_new0(emuRequest, 1);

    req->mon = mon;
    req->raw = g_strdup(msg);
    req->len = strlen(msg);
    req->internalDone = done;
    req->internalOpaque = opaque;
    g_queue_push_tail(&mon->queue, req);
    emuMonitorPump(mon);
}


/* Before qmp_capabilities, QEMU's negotiation mode. */
static void
emuMonitorNegotiate(emuRequest *req)
{
    if (!req->execute) {
        /* not a command: QEMU says what is wrong with it */
        emuProxyForward(req, NULL);
        return;
    }
    if (!g_str_equal(req->execute, "qmp_capabilities")) {
        emuProxyReply(req, emuQmpError(req->id, "CommandNotFound",
                                       "Expecting capabilities negotiation with 'qmp_capabilities'",
                                       req->pretty));
        return;
    }
    req->client->negotiated = TRUE;
    emuProxyReplyEmpty(req);
}


static void
emuMonitorDispatch(emuRequest *req)
{
    if (req->internalDone) {
        emuProxyForward(req, NULL);
        return;
    }
    if (!req->client) {
        /* its client went away before it ran: QEMU drops it too */
        emuRequestDone(req);
        return;
    }
    if (req->refusal) {
        /* in its turn, as QEMU answers messages in order */
        emuProxyReplyError(req, req->refusal);
        return;
    }
    if (!req->client->negotiated) {
        emuMonitorNegotiate(req);
        return;
    }
    emuInterceptDispatch(req);
}


static void
emuMonitorPump(emuMonitor *mon)
{
    emuRequest *req;

    /* QEMU runs no command before its machine is ready, nor the object's
     * notifier after one: the relay learns it on its private session */
    if (mon->pumping || !emuSessionReady(mon->session) || !emuCtx.machineReady)
        return;
    mon->pumping = TRUE;
    while (!mon->active && (req = g_queue_pop_head(&mon->queue))) {
        mon->active = req;
        emuMonitorDispatch(req);
    }
    mon->pumping = FALSE;
}


/* --- clients --------------------------------------------------------------- */

static void
emuClientGreet(emuClient *client)
{
    const GString *greeting = emuSessionGreeting(client->mon->session);

    if (client->greeted || !greeting || !emuSessionReady(client->mon->session) ||
        !emuCtx.machineReady)
        return;
    client->greeted = TRUE;
    emuClientSend(client, greeting->str, greeting->len);
}


/*
 * A message nested deeper than QEMU's JSON streamer allows is neither
 * parsed (parsing, freeing and writing a parsed tree back all recurse)
 * nor passed on: it is answered as QEMU answers it, with its streamer's
 * error and no id. (QEMU then also reports each piece of what followed
 * the cut; the emulator frames whole values and answers once.)
 */
static void
emuClientOnMessage(const char *msg, gsize len, guint depth, gpointer opaque)
{
    emuClient *client = opaque;
    emuRequest *req = g_new0(emuRequest, 1);

    req->mon = client->mon;
    req->client = client;
    req->raw = g_strndup(msg, len);
    req->len = len;
    req->pretty = client->mon->spec->pretty;
    if (client->fds->len > 0) {
        req->fds = client->fds;
        client->fds = g_array_new(FALSE, FALSE, sizeof(int));
    }
    if (depth > EMU_JSON_MAX_NESTING)
        req->refusal = "JSON nesting depth limit exceeded";
    else
        req->tree = emuJsonParse(msg, len);
    if (YAJL_IS_OBJECT(req->tree)) {
        req->execute = emuJsonGetString(req->tree, "execute");
        if (!req->execute)
            req->execute = emuJsonGetString(req->tree, "exec-oob");
        req->id = emuJsonGet(req->tree, "id");
        req->args = emuJsonGet(req->tree, "arguments");
    }
    g_queue_push_tail(&client->mon->queue, req);
    emuMonitorPump(client->mon);
}


static void
emuClientOnRead(emuStream *stream, const char *data, gsize len, GArray *fds, gpointer opaque)
{
    emuClient *client = opaque;

    g_array_append_vals(client->fds, fds->data, fds->len);
    g_array_set_size(fds, 0);
    emuJsonSplitterFeed(&client->splitter, data, len, emuClientOnMessage, client);
}


static void
emuClientFree(emuClient *client)
{
    emuMonitor *mon = client->mon;
    GList *l;

    for (l = mon->queue.head; l; l = l->next) {
        emuRequest *req = l->data;

        if (req->client == client)
            req->client = NULL;
    }
    if (mon->active && mon->active->client == client)
        mon->active->client = NULL;
    emuStreamFree(client->stream);
    emuJsonSplitterClear(&client->splitter);
    emuCloseFds(client->fds);
    g_array_unref(client->fds);
    g_free(client);
}


static void
emuClientOnEof(emuStream *stream, gpointer opaque)
{
    emuClient *client = opaque;
    emuMonitor *mon = client->mon;

    /* stdin ends, stdout stays: what was sent before the end still runs
     * and is answered (echo '...' | qemu -qmp stdio) */
    if (mon->spec->stdio)
        return;
    mon->client = NULL;
    emuClientFree(client);
    emuMonitorWatchAccept(mon);
    emuMonitorPump(mon);
}


static void
emuMonitorAddClient(emuMonitor *mon, int readFd, int writeFd, gboolean ownFds)
{
    emuClient *client = g_new0(emuClient, 1);

    client->mon = mon;
    client->fds = g_array_new(FALSE, FALSE, sizeof(int));
    emuJsonSplitterInit(&client->splitter, FALSE);
    client->stream = emuStreamNew(readFd, writeFd, ownFds);
    mon->client = client;
    emuStreamSetHandlers(client->stream, emuClientOnRead, emuClientOnEof, client);
    emuClientGreet(client);
}


gboolean
emuMonitorHasClient(emuMonitor *mon)
{
    return mon->client != NULL;
}


/* QEMU's socket chardev serves one client at a time: the next one waits
 * in the backlog until the current one goes. */
static gboolean
emuMonitorOnAccept(gint fd, GIOCondition cond, gpointer opaque)
{
    emuMonitor *mon = opaque;
    int client = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (client < 0)
        return G_SOURCE_CONTINUE;
    mon->acceptWatch = 0;
    emuMonitorAddClient(mon, client, client, TRUE);
    return G_SOURCE_REMOVE;
}


static void
emuMonitorWatchAccept(emuMonitor *mon)
{
    if (mon->spec->listenFd < 0 || mon->acceptWatch || mon->client)
        return;
    mon->acceptWatch = g_unix_fd_add(mon->spec->listenFd, G_IO_IN, emuMonitorOnAccept, mon);
}


/* --- the QEMU side ------------------------------------------------------- */

static void
emuMonitorOnReady(emuSession *session, gpointer opaque)
{
    emuMonitor *mon = opaque;

    if (mon->client)
        emuClientGreet(mon->client);
    emuMonitorPump(mon);
}


static void
emuMonitorOnEvent(emuSession *session, const char *msg, gsize len, const char *name,
                  gpointer opaque)
{
    emuMonitor *mon = opaque;

    if (!mon->client || !mon->client->negotiated)
        return;
    if (!emuInterceptEvent(mon, name, msg, len))
        return;
    emuClientSend(mon->client, msg, len);
}


static void
emuMonitorOnEof(emuSession *session, gpointer opaque)
{
    emuInterceptQemuGone();
}


emuMonitor *
emuMonitorNew(emuMonitorSpec *spec)
{
    static const emuSessionCallbacks cb = {
        emuMonitorOnReady, emuMonitorOnEvent, emuMonitorOnEof,
    };
    emuMonitor *mon = g_new0(emuMonitor, 1);

    mon->spec = spec;
    g_queue_init(&mon->queue);
    mon->session = emuSessionNew(spec->proxyFd, &cb, mon);
    spec->proxyFd = -1;
    g_ptr_array_add(emuProxyMonitors(), mon);

    if (spec->stdio)
        emuMonitorAddClient(mon, STDIN_FILENO, STDOUT_FILENO, FALSE);
    else if (spec->firstClientFd >= 0)
        emuMonitorAddClient(mon, spec->firstClientFd, spec->firstClientFd, TRUE);
    spec->firstClientFd = -1;
    emuMonitorWatchAccept(mon);
    return mon;
}


void
emuMonitorFlush(emuMonitor *mon)
{
    if (mon->client)
        emuStreamFlush(mon->client->stream, 1000);
}


void
emuMonitorFree(emuMonitor *mon)
{
    if (!mon)
        return;
    if (mon->acceptWatch)
        g_source_remove(mon->acceptWatch);
    if (mon->client)
        emuClientFree(mon->client);
    emuRequestFree(mon->active);
    g_queue_clear_full(&mon->queue, (GDestroyNotify)emuRequestFree);
    emuSessionFree(mon->session);
    g_ptr_array_remove(emuProxyMonitors(), mon);
    g_free(mon);
}


void
emuProxyMachineReady(void)
{
    guint i;

    for (i = 0; monitors && i < monitors->len; i++) {
        emuMonitor *mon = g_ptr_array_index(monitors, i);

        if (mon->client)
            emuClientGreet(mon->client);
        emuMonitorPump(mon);
    }
}


void
emuProxyBroadcastEvent(const char *name, emuJsonFillFunc fill, gpointer opaque)
{
    GPtrArray *mons = emuProxyMonitors();
    guint i;

    for (i = 0; i < mons->len; i++) {
        emuMonitor *mon = g_ptr_array_index(mons, i);
        g_autoptr(GString) ev = NULL;

        if (!mon->client || !mon->client->negotiated)
            continue;
        ev = emuQmpEvent(name, fill, opaque, mon->spec->pretty);
        emuClientSend(mon->client, ev->str, ev->len);
    }
}
