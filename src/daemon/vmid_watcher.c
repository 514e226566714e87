/*
 * vmid_watcher.c: the clients of virt-vmid's `watch` request
 *
 * A watcher's lines are queued and written asynchronously, so the daemon
 * never waits for one. A watcher that reads slowly for a moment (the
 * status of 500 domains is larger than a socket's buffer) loses nothing;
 * one that does not read at all (`virt-vmi status --watch` piped into a
 * stopped pager) costs at most VMID_WATCH_BACKLOG bytes of changes, then
 * is dropped: its reader sees the end of the stream and can start again
 * from a fresh status.
 */
#include <string.h>

#include "daemon/vmid_watcher.h"

/* changes queued behind the status before a watcher is dropped */
#define VMID_WATCH_BACKLOG (256 * 1024)

typedef struct {
    vmidWatchers *ws;
    GSocketConnection *client;
    GByteArray *pending;    /* queued behind the write under way */
    GBytes *writing;        /* what the write under way has left to write */
    gboolean busy;          /* a write is under way */
    gboolean gone;          /* dropped, or the client went */
    gsize limit;            /* more than this queued: dropped */
    guint8 in[64];
} vmidWatcher;

struct _vmidWatchers {
    GPtrArray *list;        /* vmidWatcher *, those not gone */
    GCancellable *cancel;
    guint ops;              /* reads and writes under way, each with a reference */
};


static void
vmidWatcherClear(vmidWatcher *w)
{
    g_object_unref(w->client);
    g_byte_array_unref(w->pending);
    g_clear_pointer(&w->writing, g_bytes_unref);
}


static void
vmidWatcherUnref(vmidWatcher *w)
{
    g_rc_box_release_full(w, (GDestroyNotify)vmidWatcherClear);
}


/* No more lines for @w; the list's reference goes, so @w may be freed. */
static void
vmidWatcherRemove(vmidWatcher *w)
{
    if (w->gone)
        return;
    w->gone = TRUE;
    g_ptr_array_remove(w->ws->list, w);
}


static void
vmidWatcherDrop(vmidWatcher *w)
{
    g_warning("dropped a status watcher that does not read its changes");
    g_socket_shutdown(g_socket_connection_get_socket(w->client), TRUE, TRUE, NULL);
    vmidWatcherRemove(w);
}


static void vmidWatcherFlush(vmidWatcher *w);

static void
vmidWatcherOnWritten(GObject *source, GAsyncResult *res, gpointer opaque)
{
    vmidWatcher *w = opaque;
    gssize n = g_output_stream_write_finish(G_OUTPUT_STREAM(source), res, NULL);
    gsize size = g_bytes_get_size(w->writing);
    GBytes *rest = NULL;

    w->ws->ops--;
    w->busy = FALSE;
    if (n > 0 && (gsize)n < size)
        rest = g_bytes_new_from_bytes(w->writing, n, size - n);
    g_clear_pointer(&w->writing, g_bytes_unref);
    w->writing = rest;
    if (n <= 0)
        vmidWatcherRemove(w);   /* the client went, or the daemon exits */
    else if (!w->gone)
        vmidWatcherFlush(w);
    vmidWatcherUnref(w);
}


static void
vmidWatcherFlush(vmidWatcher *w)
{
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(w->client));

    if (!w->writing) {
        if (!w->pending->len)
            return;
        w->writing = g_byte_array_free_to_bytes(w->pending);
        w->pending = g_byte_array_new();
    }
    w->busy = TRUE;
    w->ws->ops++;
    g_output_stream_write_async(out, g_bytes_get_data(w->writing, NULL),
                                g_bytes_get_size(w->writing), G_PRIORITY_DEFAULT,
                                w->ws->cancel, vmidWatcherOnWritten, g_rc_box_acquire(w));
}


static void
vmidWatcherQueue(vmidWatcher *w, const char *line, gsize len)
{
    gsize queued = w->pending->len + (w->writing ? g_bytes_get_size(w->writing) : 0);

    if (queued + len > w->limit) {
        vmidWatcherDrop(w);
        return;
    }
    g_byte_array_append(w->pending, (const guint8 *)line, len);
    if (!w->busy)
        vmidWatcherFlush(w);
}


/* A watcher says nothing more: whatever it sends, or its hang-up, ends the watch. */
static void
vmidWatcherOnInput(GObject *source, GAsyncResult *res, gpointer opaque)
{
    vmidWatcher *w = opaque;

    g_input_stream_read_finish(G_INPUT_STREAM(source), res, NULL);
    w->ws->ops--;
    vmidWatcherRemove(w);
    vmidWatcherUnref(w);
}


vmidWatchers *
vmidWatchersNew(GCancellable *cancel)
{
    vmidWatchers *ws = g_new0(vmidWatchers, 1);

    ws->list = g_ptr_array_new_with_free_func((GDestroyNotify)vmidWatcherUnref);
    ws->cancel = g_object_ref(cancel);
    return ws;
}


void
vmidWatchersFree(vmidWatchers *ws)
{
    if (!ws)
        return;
    g_ptr_array_unref(ws->list);
    g_object_unref(ws->cancel);
    g_free(ws);
}


void
vmidWatchersAdd(vmidWatchers *ws, GSocketConnection *client, const char *status)
{
    vmidWatcher *w = g_rc_box_new0(vmidWatcher);
    gsize len = strlen(status);

    w->ws = ws;
    w->client = g_object_ref(client);
    w->pending = g_byte_array_new();
    w->limit = len + VMID_WATCH_BACKLOG;
    g_ptr_array_add(ws->list, w);
    ws->ops++;
    g_input_stream_read_async(g_io_stream_get_input_stream(G_IO_STREAM(client)), w->in,
                              sizeof(w->in), G_PRIORITY_DEFAULT, ws->cancel,
                              vmidWatcherOnInput, g_rc_box_acquire(w));
    vmidWatcherQueue(w, status, len);
}


void
vmidWatchersSend(vmidWatchers *ws, const char *line)
{
    gsize len = strlen(line);

    /* from the end: a watcher dropped leaves the list */
    for (guint i = ws->list->len; i-- > 0;)
        vmidWatcherQueue(g_ptr_array_index(ws->list, i), line, len);
}


gboolean
vmidWatchersAny(vmidWatchers *ws)
{
    return ws->list->len > 0;
}


gboolean
vmidWatchersBusy(vmidWatchers *ws)
{
    return ws->ops > 0;
}
