/*
 * vmi_tool_conn.c: a connection's socket side and the handshake
 *
 * The socket is non-blocking and read by a level-triggered GSocket source;
 * bytes are gathered for the current step (handshake size, handshake,
 * message header, message body) and each complete step is handled at
 * once. A connection never waits on another: a slow, silent or hostile
 * peer only ties up its own state.
 */
#include <string.h>

#include "vmi_tool_conn.h"

/* Reads per wakeup: a peer that floods cannot starve the others. */
#define VMI_TOOL_READS_PER_WAKEUP 16

static const char *const vmiToolConnStateNames[] = {
    [VMI_TOOL_CONN_HANDSHAKE] = "handshake",
    [VMI_TOOL_CONN_HOOKING] = "hooking",
    [VMI_TOOL_CONN_SETUP] = "setup",
    [VMI_TOOL_CONN_READY] = "ready",
    [VMI_TOOL_CONN_UNHOOKING] = "unhooking",
    [VMI_TOOL_CONN_CLOSED] = "closed",
};

static void vmiToolConnEof(vmiToolConn *conn);


void
vmiToolClearSource(GSource **source)
{
    if (!*source)
        return;
    g_source_destroy(*source);
    g_source_unref(*source);
    *source = NULL;
}


vmiToolLine *
vmiToolConnLine(vmiToolConn *conn, const char *event)
{
    vmiToolLine *line = vmiToolLineNew(event, conn->id);

    if (conn->uuid) {
        vmiToolLineString(line, "uuid", conn->uuid);
        vmiToolLineString(line, "name", conn->name);
    }
    return line;
}


void
vmiToolConnClose(vmiToolConn *conn, const char *reason)
{
    vmiToolLine *line;

    if (conn->state == VMI_TOOL_CONN_CLOSED)
        return;
    line = vmiToolConnLine(conn, "closed");
    vmiToolLineString(line, "reason", reason);
    vmiToolLineString(line, "state", vmiToolConnStateNames[conn->state]);
    vmiToolLineEmit(line);

    conn->state = VMI_TOOL_CONN_CLOSED;
    vmiToolClearSource(&conn->inSource);
    vmiToolClearSource(&conn->outSource);
    vmiToolClearSource(&conn->timeout);
    vmiToolClearSource(&conn->delay);
    /* For QEMU, the close is the signal that the unhook is done. */
    g_socket_close(conn->sock, NULL);
    vmiToolServerConnClosed(conn->server, conn);
}


/* Reports a problem with the peer or the socket, and closes. */
void
vmiToolConnFail(vmiToolConn *conn, const char *code, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    vmiToolLine *line;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);

    g_printerr("vmi-tool: conn %" G_GUINT64_FORMAT ": %s\n", conn->id, msg);
    line = vmiToolConnLine(conn, "error");
    vmiToolLineString(line, "error", code);
    vmiToolLineString(line, "message", msg);
    vmiToolLineEmit(line);
    vmiToolConnClose(conn, "error");
}


void
vmiToolConnShutdown(vmiToolConn *conn)
{
    vmiToolConnClose(conn, "shutdown");
}


void
vmiToolConnFree(vmiToolConn *conn)
{
    vmiToolClearSource(&conn->inSource);
    vmiToolClearSource(&conn->outSource);
    vmiToolClearSource(&conn->timeout);
    vmiToolClearSource(&conn->delay);
    g_clear_object(&conn->sock);
    g_byte_array_unref(conn->out);
    if (conn->requests)
        g_array_unref(conn->requests);
    g_free(conn->address);
    g_free(conn->uuid);
    g_free(conn->name);
    g_free(conn);
}


static gboolean
vmiToolConnOnTimeout(gpointer opaque)
{
    vmiToolConn *conn = opaque;
    const vmiToolConfig *cfg = conn->server->cfg;

    if (conn->state == VMI_TOOL_CONN_HANDSHAKE)
        g_printerr("vmi-tool: conn %" G_GUINT64_FORMAT ": no complete handshake within %u s\n",
                   conn->id, cfg->timeoutSec);
    else
        g_printerr("vmi-tool: conn %" G_GUINT64_FORMAT ": no KVMI reply within %u s\n",
                   conn->id, cfg->timeoutSec);
    vmiToolConnClose(conn, "timeout");
    return G_SOURCE_REMOVE;
}


void
vmiToolConnArmTimeout(vmiToolConn *conn)
{
    guint sec = conn->server->cfg->timeoutSec;

    vmiToolClearSource(&conn->timeout);
    if (!sec)
        return;
    /* Not _seconds(): its coarse timers may fire up to 1/4 s early. */
    conn->timeout = g_timeout_source_new(sec * 1000);
    g_source_set_callback(conn->timeout, vmiToolConnOnTimeout, conn, NULL);
    g_source_attach(conn->timeout, NULL);
}


void
vmiToolConnDisarmTimeout(vmiToolConn *conn)
{
    vmiToolClearSource(&conn->timeout);
}


static gboolean
vmiToolPeerGone(const GError *err)
{
    return g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
           g_error_matches(err, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
}


static gboolean vmiToolConnOnWritable(GSocket *sock, GIOCondition cond, gpointer opaque);

/* Writes what the socket takes; FALSE if the connection closed. */
static gboolean
vmiToolConnFlush(vmiToolConn *conn)
{
    while (conn->out->len) {
        g_autoptr(GError) err = NULL;
        gssize n = g_socket_send(conn->sock, (const char *)conn->out->data,
                                 conn->out->len, NULL, &err);

        if (n < 0) {
            if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
                if (!conn->outSource) {
                    conn->outSource = g_socket_create_source(conn->sock, G_IO_OUT, NULL);
                    g_source_set_callback(conn->outSource,
                                          G_SOURCE_FUNC(vmiToolConnOnWritable), conn, NULL);
                    g_source_attach(conn->outSource, NULL);
                }
                return TRUE;
            }
            if (vmiToolPeerGone(err))
                vmiToolConnEof(conn);
            else
                vmiToolConnFail(conn, "io", "send: %s", err->message);
            return FALSE;
        }
        g_byte_array_remove_range(conn->out, 0, n);
    }
    vmiToolClearSource(&conn->outSource);
    return TRUE;
}


static gboolean
vmiToolConnOnWritable(GSocket *sock, GIOCondition cond, gpointer opaque)
{
    vmiToolConn *conn = opaque;

    vmiToolConnFlush(conn);
    return conn->outSource ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}


/* Queues a whole message, so that it goes out in one write when it can. */
void
vmiToolConnSend(vmiToolConn *conn, const void *data, gsize len)
{
    if (conn->state == VMI_TOOL_CONN_CLOSED)
        return;
    g_byte_array_append(conn->out, data, len);
    if (!conn->outSource)
        vmiToolConnFlush(conn);
}


static void
vmiToolConnExpect(vmiToolConn *conn, vmiToolReadStep step, gsize want)
{
    conn->step = step;
    conn->inWant = want;
    conn->inKeep = want;
    conn->inHave = 0;
}


static void
vmiToolConnEof(vmiToolConn *conn)
{
    gboolean atBoundary = conn->inHave == 0 &&
        (conn->step == VMI_TOOL_READ_HS_SIZE || conn->step == VMI_TOOL_READ_MSG_HDR);

    if (conn->state == VMI_TOOL_CONN_CLOSED)
        return;
    if (atBoundary && conn->state == VMI_TOOL_CONN_HOOKING) {
        g_printerr("vmi-tool: conn %" G_GUINT64_FORMAT ": QEMU closed the connection after the "
                   "handshake: the key differs from QEMU's, or the reply came too late\n",
                   conn->id);
        vmiToolConnClose(conn, "rejected");
    } else if (atBoundary) {
        vmiToolConnClose(conn, "eof");
    } else if (conn->step == VMI_TOOL_READ_HS_SIZE || conn->step == VMI_TOOL_READ_HS_BODY) {
        vmiToolConnFail(conn, "short-handshake",
                        "the peer closed after %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                        " bytes of the handshake", conn->inHave, conn->inWant);
    } else {
        vmiToolConnFail(conn, "short-message",
                        "the peer closed after %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                        " bytes of a KVMI message", conn->inHave, conn->inWant);
    }
}


static void
vmiToolConnEmitE820(vmiToolConn *conn, vmiToolLine *line, guint32 size, guint count)
{
    yajl_gen gen = vmiToolLineGen(line);
    guint i;

    vmiToolLineKey(line, "e820");
    if (size < KVMI_WIRE_HANDSHAKE_E820_START) {
        yajl_gen_null(gen);         /* not sent: an older or another layout */
        return;
    }
    if (KVMI_WIRE_HANDSHAKE_E820_START + count * sizeof(kvmiWireE820Entry) > size) {
        g_printerr("vmi-tool: conn %" G_GUINT64_FORMAT ": e820_count %u does not fit in "
                   "struct_size %u: not the RFC layout, e820 map ignored\n", conn->id, count, size);
        yajl_gen_null(gen);
        return;
    }
    yajl_gen_array_open(gen);
    for (i = 0; i < count; i++) {
        kvmiWireE820Entry e;

        memcpy(&e, conn->in + KVMI_WIRE_HANDSHAKE_E820_START + i * sizeof(e), sizeof(e));
        yajl_gen_map_open(gen);
        vmiToolGenString(gen, "address");
        vmiToolGenUint64(gen, e.address);
        vmiToolGenString(gen, "length");
        vmiToolGenUint64(gen, e.length);
        vmiToolGenString(gen, "type");
        yajl_gen_integer(gen, e.type);
        yajl_gen_map_close(gen);
    }
    yajl_gen_array_close(gen);
}


/* Reports what QEMU sent, then answers with our cookie and hands over to KVMI. */
static void
vmiToolConnHandshakeRead(vmiToolConn *conn)
{
    const vmiToolConfig *cfg = conn->server->cfg;
    kvmiWireQemuHandshake hs = { 0 };
    kvmiWireToolHandshake reply = { .structSize = sizeof(reply) };
    guint32 size = conn->inWant;
    vmiToolLine *line;

    /* Fields beyond struct_size stay zero and are not reported. */
    memcpy(&hs, conn->in, MIN(conn->inKeep, sizeof(hs)));
    conn->uuid = vmiToolFormatUuid(hs.uuid);
    if (size >= VMI_TOOL_HANDSHAKE_NAME_END)
        conn->name = g_strndup(hs.name, sizeof(hs.name));

    line = vmiToolConnLine(conn, "handshake");
    vmiToolLineUint64(line, "struct_size", size);
    vmiToolLineInt(line, "start_time", hs.startTime);
    vmiToolLineInt(line, "cpu_type", hs.cpuType);
    vmiToolLineString(line, "cpu_type_name", vmiToolCpuTypeName(hs.cpuType));
    vmiToolConnEmitE820(conn, line, size, hs.e820Count);
    vmiToolLineEmit(line);

    /* Set up for KVMI before writing: a peer already gone shows as an
     * end of file after the handshake, not inside it. */
    vmiToolConnDisarmTimeout(conn);
    vmiToolConnExpect(conn, VMI_TOOL_READ_MSG_HDR, sizeof(kvmiWireMsgHdr));
    conn->state = VMI_TOOL_CONN_HOOKING;
    memcpy(reply.cookieHash, cfg->cookie, sizeof(reply.cookieHash));
    vmiToolConnSend(conn, &reply, sizeof(reply));
    if (conn->state == VMI_TOOL_CONN_CLOSED)
        return;
    vmiToolSessionStart(conn);
}


/* A step has all its bytes: handle them and set up the next one. */
static void
vmiToolConnStepDone(vmiToolConn *conn)
{
    guint32 size;
    kvmiWireMsgHdr hdr;

    switch (conn->step) {
    case VMI_TOOL_READ_HS_SIZE:
        memcpy(&size, conn->in, sizeof(size));
        if (size < VMI_TOOL_HANDSHAKE_MIN || size > VMI_TOOL_HANDSHAKE_MAX) {
            vmiToolConnFail(conn, "invalid-handshake",
                            "invalid handshake: struct_size %u is not within %d..%d",
                            size, VMI_TOOL_HANDSHAKE_MIN, VMI_TOOL_HANDSHAKE_MAX);
            return;
        }
        /* The size stays in place: the rest is read after it. */
        conn->step = VMI_TOOL_READ_HS_BODY;
        conn->inWant = size;
        conn->inKeep = MIN(size, VMI_TOOL_HANDSHAKE_KEEP);
        return;

    case VMI_TOOL_READ_HS_BODY:
        vmiToolConnHandshakeRead(conn);
        return;

    case VMI_TOOL_READ_MSG_HDR:
        memcpy(&hdr, conn->in, sizeof(hdr));
        if (hdr.size > KVMI_WIRE_MAX_PAYLOAD) {
            vmiToolConnFail(conn, "oversized-message",
                            "KVMI message id %u announces %u payload bytes, more than %d",
                            hdr.id, hdr.size, KVMI_WIRE_MAX_PAYLOAD);
            return;
        }
        conn->step = VMI_TOOL_READ_MSG_BODY;
        conn->inWant = conn->inKeep = sizeof(hdr) + hdr.size;
        return;

    case VMI_TOOL_READ_MSG_BODY:
        memcpy(&hdr, conn->in, sizeof(hdr));
        vmiToolConnExpect(conn, VMI_TOOL_READ_MSG_HDR, sizeof(hdr));
        vmiToolSessionMessage(conn, &hdr, conn->in + sizeof(hdr));
        return;
    }
}


/* One receive for the current step; FALSE when there is nothing more for now. */
static gboolean
vmiToolConnFill(vmiToolConn *conn)
{
    g_autoptr(GError) err = NULL;
    guint8 discard[1024];
    guint8 *dst = discard;
    gsize room;
    gssize n;

    if (conn->inHave < conn->inKeep) {
        dst = conn->in + conn->inHave;
        room = conn->inKeep - conn->inHave;
    } else {
        room = MIN(conn->inWant - conn->inHave, sizeof(discard));
    }

    n = g_socket_receive(conn->sock, (char *)dst, room, NULL, &err);
    if (n < 0) {
        if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return FALSE;
        if (vmiToolPeerGone(err))
            vmiToolConnEof(conn);
        else
            vmiToolConnFail(conn, "io", "receive: %s", err->message);
        return FALSE;
    }
    if (n == 0) {
        vmiToolConnEof(conn);
        return FALSE;
    }
    conn->inHave += n;
    return TRUE;
}


static gboolean
vmiToolConnOnReadable(GSocket *sock, GIOCondition cond, gpointer opaque)
{
    vmiToolConn *conn = opaque;
    int reads = 0;

    /* The connection may close in any step: then its sources are gone and
     * it waits in the server's dead list, still valid until we return. */
    while (conn->state != VMI_TOOL_CONN_CLOSED) {
        if (conn->inHave == conn->inWant) {
            vmiToolConnStepDone(conn);
            continue;
        }
        if (reads++ == VMI_TOOL_READS_PER_WAKEUP || !vmiToolConnFill(conn))
            break;
    }
    return G_SOURCE_CONTINUE;
}


void
vmiToolConnAccepted(vmiToolServer *server, const char *address, GSocket *sock)
{
    vmiToolConn *conn = g_new0(vmiToolConn, 1);
    vmiToolLine *line;

    conn->server = server;
    conn->id = ++server->lastConnId;
    conn->address = g_strdup(address);
    conn->sock = g_object_ref(sock);
    conn->out = g_byte_array_new();
    conn->state = VMI_TOOL_CONN_HANDSHAKE;
    vmiToolConnExpect(conn, VMI_TOOL_READ_HS_SIZE, sizeof(guint32));
    g_hash_table_add(server->conns, conn);

    line = vmiToolConnLine(conn, "connected");
    vmiToolLineString(line, "address", address);
    vmiToolLineEmit(line);

    conn->inSource = g_socket_create_source(sock, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
    g_source_set_callback(conn->inSource, G_SOURCE_FUNC(vmiToolConnOnReadable), conn, NULL);
    g_source_attach(conn->inSource, NULL);
    vmiToolConnArmTimeout(conn);
}
