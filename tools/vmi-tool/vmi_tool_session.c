/*
 * vmi_tool_session.c: the KVMI v8 conversation with the kernel
 *
 * After the handshake the socket belongs to KVM. The tool sends its
 * requests one at a time, as libkvmi does, and matches each reply by id
 * and seq: GET_VERSION, then for each tried command VM_CHECK_COMMAND and
 * the command itself, for each tried event VM_CHECK_EVENT, VM_GET_INFO,
 * and VM_CONTROL_EVENTS to enable UNHOOK. Events (message id 1) may
 * arrive at any time; on UNHOOK the tool closes after the delay.
 */
#include <string.h>

#include "vmi_tool_conn.h"
#include "conf/vmi_kvmi.h"

static void vmiToolSessionSendNext(vmiToolConn *conn);


static void
vmiToolSessionAdd(vmiToolConn *conn, vmiToolRequestKind kind, guint16 id, const char *name)
{
    vmiToolRequest req = { kind, { id, name } };

    g_array_append_val(conn->requests, req);
}


static void
vmiToolSessionPlan(vmiToolConn *conn)
{
    const vmiToolConfig *cfg = conn->server->cfg;
    guint i;

    conn->requests = g_array_new(FALSE, FALSE, sizeof(vmiToolRequest));
    vmiToolSessionAdd(conn, VMI_TOOL_REQ_GET_VERSION, VMI_KVMI_GET_VERSION, NULL);
    for (i = 0; i < cfg->tryCommands->len; i++) {
        const vmiToolTry *t = &g_array_index(cfg->tryCommands, vmiToolTry, i);

        vmiToolSessionAdd(conn, VMI_TOOL_REQ_CHECK_COMMAND, t->id, t->name);
        /* Id 1 is how events arrive, and the kernel takes a message with
         * it for an event reply: checking it is fine, sending it is not. */
        if (t->id != VMI_KVMI_EVENT_MSG_ID)
            vmiToolSessionAdd(conn, VMI_TOOL_REQ_CALL, t->id, t->name);
    }
    for (i = 0; i < cfg->tryEvents->len; i++) {
        const vmiToolTry *t = &g_array_index(cfg->tryEvents, vmiToolTry, i);

        vmiToolSessionAdd(conn, VMI_TOOL_REQ_CHECK_EVENT, t->id, t->name);
    }
    vmiToolSessionAdd(conn, VMI_TOOL_REQ_GET_INFO, VMI_KVMI_VM_GET_INFO, NULL);
    if (cfg->unhookEvent)
        vmiToolSessionAdd(conn, VMI_TOOL_REQ_ENABLE_UNHOOK, VMI_KVMI_VM_CONTROL_EVENTS, NULL);
}


/* Header and payload in one buffer: the kernel wants them in one send. */
static void
vmiToolSessionSendRequest(vmiToolConn *conn, guint16 id, const void *payload, guint16 size)
{
    guint8 buf[sizeof(kvmiWireMsgHdr) + 16];
    kvmiWireMsgHdr hdr = { .id = id, .size = size, .seq = ++conn->seq };

    g_assert(size <= sizeof(buf) - sizeof(hdr));
    memcpy(buf, &hdr, sizeof(hdr));
    if (size)
        memcpy(buf + sizeof(hdr), payload, size);
    conn->pendingId = id;
    conn->pendingSeq = hdr.seq;
    vmiToolConnArmTimeout(conn);
    vmiToolConnSend(conn, buf, sizeof(hdr) + size);
}


static void
vmiToolSessionSendNext(vmiToolConn *conn)
{
    const vmiToolRequest *req;
    kvmiWireVmCheck check = { 0 };
    kvmiWireVmControlEvents control = { .eventId = VMI_KVMI_EVENT_UNHOOK, .enable = 1 };

    if (conn->next == conn->requests->len) {
        vmiToolLine *line = vmiToolConnLine(conn, "ready");

        conn->pending = NULL;
        conn->state = VMI_TOOL_CONN_READY;
        vmiToolLineBool(line, "unhook_event", conn->unhookEnabled);
        vmiToolLineEmit(line);
        return;
    }
    req = conn->pending = &g_array_index(conn->requests, vmiToolRequest, conn->next++);

    switch (req->kind) {
    case VMI_TOOL_REQ_GET_VERSION:
    case VMI_TOOL_REQ_GET_INFO:
        vmiToolSessionSendRequest(conn, req->target.id, NULL, 0);
        break;
    case VMI_TOOL_REQ_CHECK_COMMAND:
    case VMI_TOOL_REQ_CHECK_EVENT:
        check.id = req->target.id;
        vmiToolSessionSendRequest(conn, req->kind == VMI_TOOL_REQ_CHECK_COMMAND ?
                                  VMI_KVMI_VM_CHECK_COMMAND : VMI_KVMI_VM_CHECK_EVENT,
                                  &check, sizeof(check));
        break;
    case VMI_TOOL_REQ_CALL:
        /* No payload: every v8 command that needs none only reads, and
         * one that needs some fails its size check (-KVM_EINVAL) after
         * the allow-list check, which is all we want to see. */
        vmiToolSessionSendRequest(conn, req->target.id, NULL, 0);
        break;
    case VMI_TOOL_REQ_ENABLE_UNHOOK:
        vmiToolSessionSendRequest(conn, VMI_KVMI_VM_CONTROL_EVENTS, &control, sizeof(control));
        break;
    }
}


void
vmiToolSessionStart(vmiToolConn *conn)
{
    vmiToolSessionPlan(conn);
    conn->state = VMI_TOOL_CONN_HOOKING;
    vmiToolSessionSendNext(conn);
}


static void
vmiToolLineError(vmiToolLine *line, gint32 err)
{
    vmiToolLineInt(line, "error", err);
    vmiToolLineString(line, "error_name", vmiToolErrorName(err));
}


/* A request the tool relies on failed. */
static void
vmiToolSessionRefused(vmiToolConn *conn, guint16 id, gint32 err)
{
    vmiToolLine *line = vmiToolConnLine(conn, "refused");

    vmiToolLineString(line, "command", vmiKvmiTableName(&vmiKvmiCommands, id));
    vmiToolLineInt(line, "id", id);
    vmiToolLineError(line, err);
    vmiToolLineEmit(line);
}


/* VM_CHECK_*: the kernel's answer about an id. */
static const char *
vmiToolCheckResult(gint32 err)
{
    switch (-err) {
    case 0: return "allowed";
    case KVMI_WIRE_KVM_EPERM: return "disallowed";
    case KVMI_WIRE_KVM_ENOENT: return "unknown";
    }
    return "error";
}


/* A command sent as itself: anything but these passed the allow-list. */
static const char *
vmiToolCallResult(gint32 err)
{
    switch (-err) {
    case KVMI_WIRE_KVM_EPERM: return "disallowed";
    case KVMI_WIRE_KVM_ENOSYS: return "unknown";
    }
    return "allowed";
}


static void
vmiToolSessionCheckDone(vmiToolConn *conn, const vmiToolRequest *req, gint32 err)
{
    vmiToolLine *line = vmiToolConnLine(conn, "check");

    vmiToolLineString(line, "kind", req->kind == VMI_TOOL_REQ_CHECK_EVENT ? "event" : "command");
    vmiToolLineString(line, "name", req->target.name);
    vmiToolLineInt(line, "id", req->target.id);
    vmiToolLineString(line, "via", req->kind == VMI_TOOL_REQ_CALL ? "call" : "check");
    vmiToolLineString(line, "result", req->kind == VMI_TOOL_REQ_CALL ?
                      vmiToolCallResult(err) : vmiToolCheckResult(err));
    vmiToolLineError(line, err);
    vmiToolLineEmit(line);
}


/* How many payload bytes a successful reply to @req carries at least. */
static gsize
vmiToolReplyPayloadSize(const vmiToolRequest *req)
{
    switch (req->kind) {
    case VMI_TOOL_REQ_GET_VERSION: return sizeof(kvmiWireGetVersionReply);
    case VMI_TOOL_REQ_GET_INFO: return sizeof(kvmiWireVmGetInfoReply);
    default: return 0;
    }
}


static void
vmiToolSessionReply(vmiToolConn *conn, const kvmiWireMsgHdr *hdr, const guint8 *body)
{
    const vmiToolRequest *req = conn->pending;
    kvmiWireErrorCode ec;
    kvmiWireGetVersionReply version;
    kvmiWireVmGetInfoReply info;
    vmiToolLine *line;

    if (hdr->size < sizeof(ec)) {
        vmiToolConnFail(conn, "bad-reply", "the reply to message id %u has %u bytes, "
                        "less than a kvmi_error_code", hdr->id, hdr->size);
        return;
    }
    memcpy(&ec, body, sizeof(ec));
    if (ec.err == 0 && hdr->size < sizeof(ec) + vmiToolReplyPayloadSize(req)) {
        vmiToolConnFail(conn, "bad-reply", "the reply to message id %u has %u bytes, "
                        "expected %" G_GSIZE_FORMAT, hdr->id, hdr->size,
                        sizeof(ec) + vmiToolReplyPayloadSize(req));
        return;
    }
    vmiToolConnDisarmTimeout(conn);
    if (conn->state == VMI_TOOL_CONN_HOOKING)
        conn->state = VMI_TOOL_CONN_SETUP;

    switch (req->kind) {
    case VMI_TOOL_REQ_GET_VERSION:
        if (ec.err) {
            vmiToolSessionRefused(conn, hdr->id, ec.err);
            break;
        }
        memcpy(&version, body + sizeof(ec), sizeof(version));
        line = vmiToolConnLine(conn, "hooked");
        vmiToolLineInt(line, "version", version.version);
        vmiToolLineBool(line, "singlestep", version.singlestep);
        vmiToolLineEmit(line);
        break;
    case VMI_TOOL_REQ_CHECK_COMMAND:
    case VMI_TOOL_REQ_CHECK_EVENT:
    case VMI_TOOL_REQ_CALL:
        vmiToolSessionCheckDone(conn, req, ec.err);
        break;
    case VMI_TOOL_REQ_GET_INFO:
        if (ec.err) {
            vmiToolSessionRefused(conn, hdr->id, ec.err);
            break;
        }
        memcpy(&info, body + sizeof(ec), sizeof(info));
        line = vmiToolConnLine(conn, "vm-info");
        vmiToolLineInt(line, "vcpu_count", info.vcpuCount);
        vmiToolLineEmit(line);
        break;
    case VMI_TOOL_REQ_ENABLE_UNHOOK:
        if (ec.err) {
            vmiToolSessionRefused(conn, hdr->id, ec.err);
            break;
        }
        conn->unhookEnabled = TRUE;
        vmiToolLineEmit(vmiToolConnLine(conn, "unhook-enabled"));
        break;
    }

    conn->pending = NULL;
    /* After UNHOOK the tool only winds down. */
    if (conn->state == VMI_TOOL_CONN_SETUP)
        vmiToolSessionSendNext(conn);
}


static gboolean
vmiToolSessionOnDelay(gpointer opaque)
{
    vmiToolConn *conn = opaque;

    vmiToolConnClose(conn, "unhook");
    return G_SOURCE_REMOVE;
}


static void
vmiToolSessionUnhook(vmiToolConn *conn, const kvmiWireMsgHdr *hdr, const kvmiWireEvent *ev)
{
    gint64 delay = conn->server->cfg->unhookDelayMs;
    gboolean first = conn->state != VMI_TOOL_CONN_UNHOOKING;
    vmiToolLine *line = vmiToolConnLine(conn, "unhook");

    vmiToolLineInt(line, "seq", hdr->seq);
    vmiToolLineInt(line, "vcpu", ev->vcpu);
    if (delay == VMI_TOOL_DELAY_NEVER)
        vmiToolLineString(line, "close_after_ms", NULL);
    else
        vmiToolLineInt(line, "close_after_ms", delay);
    vmiToolLineEmit(line);

    /* A reply still due would only be ignored: do not wait for it. */
    vmiToolConnDisarmTimeout(conn);
    conn->state = VMI_TOOL_CONN_UNHOOKING;
    if (!first || delay == VMI_TOOL_DELAY_NEVER)
        return;
    if (delay == 0) {
        vmiToolConnClose(conn, "unhook");
        return;
    }
    conn->delay = g_timeout_source_new(delay);
    g_source_set_callback(conn->delay, vmiToolSessionOnDelay, conn, NULL);
    g_source_attach(conn->delay, NULL);
}


static void
vmiToolSessionEvent(vmiToolConn *conn, const kvmiWireMsgHdr *hdr, const guint8 *body)
{
    kvmiWireEvent ev = { 0 };
    vmiToolLine *line;

    if (hdr->size < KVMI_WIRE_EVENT_COMMON_SIZE) {
        vmiToolConnFail(conn, "bad-event", "an event message of %u bytes, less than the "
                        "%" G_GSIZE_FORMAT " of struct kvmi_event's common part",
                        hdr->size, KVMI_WIRE_EVENT_COMMON_SIZE);
        return;
    }
    memcpy(&ev, body, MIN(hdr->size, sizeof(ev)));
    if (ev.event == VMI_KVMI_EVENT_UNHOOK) {
        vmiToolSessionUnhook(conn, hdr, &ev);
        return;
    }
    /* We enable no other event; a vCPU event would wait for a reply that
     * only a real tool can give, so it is reported and left alone. */
    line = vmiToolConnLine(conn, "kvmi-event");
    vmiToolLineInt(line, "id", ev.event);
    vmiToolLineString(line, "name", vmiKvmiTableName(&vmiKvmiEvents, ev.event));
    vmiToolLineInt(line, "seq", hdr->seq);
    vmiToolLineInt(line, "vcpu", ev.vcpu);
    vmiToolLineEmit(line);
}


void
vmiToolSessionMessage(vmiToolConn *conn, const kvmiWireMsgHdr *hdr, const guint8 *body)
{
    if (hdr->id == VMI_KVMI_EVENT_MSG_ID) {
        vmiToolSessionEvent(conn, hdr, body);
        return;
    }
    if (!conn->pending) {
        vmiToolConnFail(conn, "unexpected-message",
                        "unexpected KVMI message id %u seq %u: no request is waiting for a reply",
                        hdr->id, hdr->seq);
        return;
    }
    if (hdr->id != conn->pendingId || hdr->seq != conn->pendingSeq) {
        vmiToolConnFail(conn, "unexpected-message",
                        "unexpected KVMI message id %u seq %u: waiting for the reply to id %u seq %u",
                        hdr->id, hdr->seq, conn->pendingId, conn->pendingSeq);
        return;
    }
    vmiToolSessionReply(conn, hdr, body);
}
