/*
 * emu_session.c: a QMP session with the real QEMU, on one end of a socket pair
 */
#include <string.h>

#include "emu_json.h"
#include "emu_session.h"
#include "emu_stream.h"

typedef struct {
    emuSessionReplyFunc raw;
    emuSessionResultFunc result;
    gpointer opaque;
} emuPending;

struct _emuSession {
    emuStream *stream;
    emuJsonSplitter splitter;
    emuSessionCallbacks cb;
    gpointer opaque;
    GString *greeting;
    gboolean ready;
    GQueue pending;                 /* emuPending, in the order sent */
};

static void emuSessionNegotiated(emuSession *session, yajl_val ret, const char *desc,
                                 gpointer opaque);


static void
emuSessionDispatchReply(emuSession *session, const char *msg, gsize len)
{
    g_autofree emuPending *pending = g_queue_pop_head(&session->pending);
    yajl_val tree;

    if (!pending)
        return;
    if (pending->raw) {
        pending->raw(session, msg, len, pending->opaque);
        return;
    }
    tree = emuJsonParse(msg, len);
    if (emuJsonGet(tree, "return")) {
        pending->result(session, emuJsonGet(tree, "return"), NULL, pending->opaque);
    } else {
        const char *path[] = { "error", "desc", NULL };
        yajl_val desc = tree ? yajl_tree_get(tree, path, yajl_t_string) : NULL;

        pending->result(session, NULL, desc ? YAJL_GET_STRING(desc) : "unreadable reply",
                        pending->opaque);
    }
    yajl_tree_free(tree);
}


static void
emuSessionOnMessage(const char *msg, gsize len, guint depth G_GNUC_UNUSED, gpointer opaque)
{
    emuSession *session = opaque;
    g_autofree char *key = emuJsonFirstKey(msg, len);

    if (!session->greeting) {
        session->greeting = g_string_new_len(msg, len);
        emuSessionCall(session, "qmp_capabilities", NULL, emuSessionNegotiated, NULL);
        return;
    }
    if (key && (g_str_equal(key, "timestamp") || g_str_equal(key, "event"))) {
        g_autofree char *name = NULL;
        yajl_val tree = emuJsonParse(msg, len);

        name = g_strdup(emuJsonGetString(tree, "event"));
        yajl_tree_free(tree);
        if (session->cb.event)
            session->cb.event(session, msg, len, name, session->opaque);
        return;
    }
    emuSessionDispatchReply(session, msg, len);
}


static void
emuSessionNegotiated(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    session->ready = TRUE;
    if (session->cb.ready)
        session->cb.ready(session, session->opaque);
}


static void
emuSessionOnRead(emuStream *stream, const char *data, gsize len, GArray *fds,
                 gpointer opaque)
{
    emuSession *session = opaque;

    emuCloseFds(fds);
    emuJsonSplitterFeed(&session->splitter, data, len, emuSessionOnMessage, session);
}


static void
emuSessionOnEof(emuStream *stream, gpointer opaque)
{
    emuSession *session = opaque;

    if (session->cb.eof)
        session->cb.eof(session, session->opaque);
}


emuSession *
emuSessionNew(int fd, const emuSessionCallbacks *cb, gpointer opaque)
{
    emuSession *session = g_new0(emuSession, 1);

    session->cb = *cb;
    session->opaque = opaque;
    g_queue_init(&session->pending);
    emuJsonSplitterInit(&session->splitter, TRUE);
    session->stream = emuStreamNew(fd, fd, TRUE);
    emuStreamSetHandlers(session->stream, emuSessionOnRead, emuSessionOnEof, session);
    return session;
}


void
emuSessionFree(emuSession *session)
{
    if (!session)
        return;
    emuStreamFree(session->stream);
    emuJsonSplitterClear(&session->splitter);
    g_queue_clear_full(&session->pending, g_free);
    if (session->greeting)
        g_string_free(session->greeting, TRUE);
    g_free(session);
}


gboolean
emuSessionReady(emuSession *session)
{
    return session->ready;
}


const GString *
emuSessionGreeting(emuSession *session)
{
    return session->greeting;
}


static void
emuSessionQueue(emuSession *session, emuSessionReplyFunc raw, emuSessionResultFunc result,
                gpointer opaque)
{
    emuPending *pending = g_new0(emuPending, 1);

    pending->raw = raw;
    pending->result = result;
    pending->opaque = opaque;
    g_queue_push_tail(&session->pending, pending);
}


void
emuSessionSend(emuSession *session, const char *msg, gsize len, GArray *fds,
               emuSessionReplyFunc cb, gpointer opaque)
{
    g_autofree char *line = g_malloc(len + 1);

    /* one write: the command and its newline */
    memcpy(line, msg, len);
    line[len] = '\n';
    emuSessionQueue(session, cb, NULL, opaque);
    emuStreamWriteFds(session->stream, line, len + 1, fds);
}


void
emuSessionCall(emuSession *session, const char *execute, const char *argsJson,
               emuSessionResultFunc cb, gpointer opaque)
{
    g_autofree char *msg = NULL;

    if (argsJson)
        msg = g_strdup_printf("{\"execute\": \"%s\", \"arguments\": %s}\n", execute, argsJson);
    else
        msg = g_strdup_printf("{\"execute\": \"%s\"}\n", execute);
    emuSessionQueue(session, NULL, cb, opaque);
    emuStreamWrite(session->stream, msg, strlen(msg));
}
