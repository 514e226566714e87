/*
 * vmi_tool_conn.h: one connection from QEMU, shared by the socket side
 * (vmi_tool_conn.c) and the KVMI session (vmi_tool_session.c)
 */
#pragma once

#include "vmi_tool.h"
#include "vmi_tool_output.h"

typedef enum {
    VMI_TOOL_CONN_HANDSHAKE,    /* reading QEMU's handshake */
    VMI_TOOL_CONN_HOOKING,      /* answered it; no word from the kernel yet */
    VMI_TOOL_CONN_SETUP,        /* hooked, sending our requests one by one */
    VMI_TOOL_CONN_READY,        /* all sent and answered: waiting for UNHOOK */
    VMI_TOOL_CONN_UNHOOKING,    /* UNHOOK received, closing after the delay */
    VMI_TOOL_CONN_CLOSED,
} vmiToolConnState;

/* What the bytes being read are. */
typedef enum {
    VMI_TOOL_READ_HS_SIZE,      /* the handshake's struct_size */
    VMI_TOOL_READ_HS_BODY,      /* the rest of the handshake */
    VMI_TOOL_READ_MSG_HDR,      /* a kvmi_msg_hdr */
    VMI_TOOL_READ_MSG_BODY,     /* its payload */
} vmiToolReadStep;

#define VMI_TOOL_IN_BUF_SIZE (sizeof(kvmiWireMsgHdr) + KVMI_WIRE_MAX_PAYLOAD)
G_STATIC_ASSERT(VMI_TOOL_IN_BUF_SIZE >= VMI_TOOL_HANDSHAKE_KEEP);

typedef enum {
    VMI_TOOL_REQ_GET_VERSION,
    VMI_TOOL_REQ_CHECK_COMMAND,
    VMI_TOOL_REQ_CHECK_EVENT,
    VMI_TOOL_REQ_CALL,          /* send a tried command itself */
    VMI_TOOL_REQ_GET_INFO,
    VMI_TOOL_REQ_ENABLE_UNHOOK,
} vmiToolRequestKind;

typedef struct {
    vmiToolRequestKind kind;
    vmiToolTry target;          /* the id checked or called */
} vmiToolRequest;

struct _vmiToolConn {
    vmiToolServer *server;
    guint64 id;
    char *address;              /* the listener's, as the user wrote it */
    GSocket *sock;
    GSource *inSource;
    GSource *outSource;         /* only while output waits for room */
    GSource *timeout;           /* the handshake or a reply is overdue */
    GSource *delay;             /* the unhook delay */
    vmiToolConnState state;

    vmiToolReadStep step;
    gsize inWant;               /* bytes this step reads */
    gsize inKeep;               /* the first this many are stored in @in */
    gsize inHave;
    guint8 in[VMI_TOOL_IN_BUF_SIZE];

    GByteArray *out;

    char *uuid;                 /* known once the handshake is read */
    char *name;

    GArray *requests;           /* vmiToolRequest, sent in order */
    guint next;
    const vmiToolRequest *pending;
    guint16 pendingId;
    guint32 pendingSeq;
    guint32 seq;
    gboolean unhookEnabled;
};

vmiToolLine *vmiToolConnLine(vmiToolConn *conn, const char *event);
void vmiToolConnSend(vmiToolConn *conn, const void *data, gsize len);
void vmiToolConnClose(vmiToolConn *conn, const char *reason);
void vmiToolConnFail(vmiToolConn *conn, const char *code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
void vmiToolConnArmTimeout(vmiToolConn *conn);
void vmiToolConnDisarmTimeout(vmiToolConn *conn);
void vmiToolClearSource(GSource **source);

/* vmi_tool_session.c */
void vmiToolSessionStart(vmiToolConn *conn);
void vmiToolSessionMessage(vmiToolConn *conn, const kvmiWireMsgHdr *hdr, const guint8 *body);
