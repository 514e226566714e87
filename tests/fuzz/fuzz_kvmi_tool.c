/*
 * fuzz_kvmi_tool: vmi-tool's decoders, QEMU's handshake and the KVMI
 * replies and events (tools/vmi-tool/vmi_tool_conn.c, _session.c), on a
 * real connection as QEMU and the kernel would drive it
 *
 * Input: byte 0 picks the tool's options (bit 0: enable the UNHOOK event,
 * bit 1: never close after UNHOOK, bit 2: try commands and events), the
 * rest is what the peer sends before it closes. The tool answers only a
 * complete handshake within its limits, with its 24-byte reply, and then
 * sends well-formed requests with increasing seq, one at a time; it
 * reports the connection closed once, and never an internal error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "fuzz_common.h"
#include "vmi_tool_conn.h"
#include "conf/vmi_kvmi.h"

static GPtrArray *dead;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzzInit();
    /* the tool's JSON lines */
    if (!freopen("/dev/null", "w", stdout))
        g_error("cannot send stdout to /dev/null");
    dead = g_ptr_array_new();
    return 0;
}


/* vmi_tool.c's, without the exit: freed once the loop is done with it */
void
vmiToolServerConnClosed(vmiToolServer *server, vmiToolConn *conn)
{
    g_assert_true(g_hash_table_remove(server->conns, conn));
    g_ptr_array_add(dead, conn);
    server->closed++;
}


static void
addTry(GArray *list, guint16 id, const char *name)
{
    vmiToolTry t = { id, name };

    g_array_append_val(list, t);
}


/* What the tool sent: its handshake reply, then requests. */
static void
checkSent(const guint8 *in, gsize inLen, const guint8 *out, gsize outLen)
{
    kvmiWireToolHandshake reply;
    guint32 size;
    guint32 seq = 0;
    gsize pos;

    if (!outLen)
        return;
    /* only after a whole handshake within the limits */
    g_assert_cmpuint(inLen, >=, sizeof(size));
    memcpy(&size, in, sizeof(size));
    g_assert_cmpuint(size, >=, VMI_TOOL_HANDSHAKE_MIN);
    g_assert_cmpuint(size, <=, VMI_TOOL_HANDSHAKE_MAX);
    g_assert_cmpuint(inLen, >=, size);

    g_assert_cmpuint(outLen, >=, sizeof(reply));
    memcpy(&reply, out, sizeof(reply));
    g_assert_cmpuint(reply.structSize, ==, sizeof(reply));
    for (pos = sizeof(reply); pos < outLen;) {
        kvmiWireMsgHdr hdr;

        g_assert_cmpuint(outLen - pos, >=, sizeof(hdr));
        memcpy(&hdr, out + pos, sizeof(hdr));
        g_assert_cmpuint(hdr.seq, ==, ++seq);
        g_assert_cmpuint(hdr.size, <=, 16);
        g_assert_cmpuint(hdr.id, !=, VMI_KVMI_EVENT_MSG_ID);
        g_assert_cmpuint(outLen - pos - sizeof(hdr), >=, hdr.size);
        pos += sizeof(hdr) + hdr.size;
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autoptr(GSocket) sock = NULL;
    g_autoptr(GError) err = NULL;
    vmiToolConfig cfg;
    vmiToolServer server = { 0 };
    guint8 buf[4096];
    gsize done = 0;
    guint spins = 0;
    gssize n;
    int sv[2];

    if (size < 1)
        return 0;
    vmiToolConfigInit(&cfg);
    cfg.timeoutSec = 0;         /* no timers: the same input, the same run */
    cfg.unhookEvent = data[0] & 1;
    cfg.unhookDelayMs = data[0] & 2 ? VMI_TOOL_DELAY_NEVER : 0;
    if (data[0] & 4) {
        addTry(cfg.tryCommands, VMI_KVMI_VM_GET_INFO, "vm_get_info");
        addTry(cfg.tryCommands, VMI_KVMI_EVENT_MSG_ID, "event");
        addTry(cfg.tryCommands, 63, NULL);
        addTry(cfg.tryEvents, VMI_KVMI_EVENT_UNHOOK, "unhook");
    }
    memset(cfg.cookie, 0xa5, sizeof(cfg.cookie));
    data++;
    size--;

    server.cfg = &cfg;
    server.conns = g_hash_table_new(NULL, NULL);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        g_error("socketpair: %s", g_strerror(errno));
    g_unix_set_fd_nonblocking(sv[1], TRUE, NULL);
    if (!(sock = g_socket_new_from_fd(sv[0], &err)))
        g_error("g_socket_new_from_fd: %s", err->message);
    g_socket_set_blocking(sock, FALSE);
    vmiToolConnAccepted(&server, "unix:/fuzz", sock);

    while (server.closed == 0) {
        if (done < size && (n = send(sv[1], data + done, size - done, MSG_NOSIGNAL)) > 0)
            done += n;
        if (done == size)
            shutdown(sv[1], SHUT_WR);
        g_main_context_iteration(NULL, FALSE);
        while ((n = read(sv[1], buf, sizeof(buf))) > 0)
            g_byte_array_append(out, buf, n);
        g_assert_cmpuint(++spins, <, 1000000);
    }
    while (g_main_context_iteration(NULL, FALSE))
        ;
    while ((n = read(sv[1], buf, sizeof(buf))) > 0)
        g_byte_array_append(out, buf, n);
    g_assert_cmpuint(server.closed, ==, 1);
    g_assert_cmpuint(g_hash_table_size(server.conns), ==, 0);
    checkSent(data, size, out->data, out->len);

    g_ptr_array_foreach(dead, (GFunc)vmiToolConnFree, NULL);
    g_ptr_array_set_size(dead, 0);
    g_hash_table_unref(server.conns);
    vmiToolConfigClear(&cfg);
    close(sv[1]);
    return 0;
}
