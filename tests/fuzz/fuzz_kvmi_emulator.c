/*
 * fuzz_kvmi_emulator: the emulator's KVMI decoder, the kernel side of the
 * introspection socket (tools/kvmi-emulator/emu_kernel.c) over its real
 * stream (emu_stream.c), as a tool would drive it
 *
 * Input: byte 0 the command the allow-list adds (0xff: all, as QEMU's -1),
 * byte 1 the event, byte 2 how many of the remaining bytes arrived with
 * the handshake (handed over as already read); the rest comes through
 * the socket, then the tool closes. The kernel answers every complete
 * message it is sent, in order (same id and seq), with a well-formed
 * reply (the answers are a prefix of what was sent: it stops at an
 * oversized message or an event reply); QEMU learns of the close once.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "fuzz_common.h"
#include "emu_kernel.h"
#include "conf/vmi_kvmi.h"

typedef struct {
    emuKernel *kernel;
    guint closed;
    guint vcpuIdle;
} fuzzEmu;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzzInit();
    return 0;
}


static void
onClosed(emuKernel *kernel, gpointer opaque)
{
    fuzzEmu *emu = opaque;

    emu->closed++;
}


static gboolean
answerVcpus(gpointer opaque)
{
    fuzzEmu *emu = opaque;

    emu->vcpuIdle = 0;
    emuKernelVcpuCount(emu->kernel, 2);
    return G_SOURCE_REMOVE;
}


/* QEMU answers from its main loop, as query-cpus-fast returns. */
static void
onQueryVcpus(emuKernel *kernel, gpointer opaque)
{
    fuzzEmu *emu = opaque;

    g_assert_cmpuint(emu->vcpuIdle, ==, 0);
    emu->vcpuIdle = g_idle_add(answerVcpus, emu);
}


static gint32
allowId(guint8 byte)
{
    return byte == 0xff ? -1 : (gint32)(gint8)byte;
}


/* The messages in @sent (whole ones, up to an oversized header). */
static GArray *
splitMessages(const guint8 *sent, gsize len)
{
    GArray *hdrs = g_array_new(FALSE, FALSE, sizeof(kvmiWireMsgHdr));
    gsize pos = 0;

    while (len - pos >= sizeof(kvmiWireMsgHdr)) {
        kvmiWireMsgHdr hdr;

        memcpy(&hdr, sent + pos, sizeof(hdr));
        if (hdr.size > KVMI_WIRE_MAX_PAYLOAD || len - pos - sizeof(hdr) < hdr.size)
            break;
        g_array_append_val(hdrs, hdr);
        pos += sizeof(hdr) + hdr.size;
    }
    return hdrs;
}


/* Each reply answers the next message sent, in order: never an event
 * reply (id 1), which makes the kernel shut down. */
static void
checkReplies(const guint8 *sent, gsize sentLen, const guint8 *out, gsize outLen)
{
    g_autoptr(GArray) hdrs = splitMessages(sent, sentLen);
    gsize pos = 0;
    guint i = 0;

    while (pos < outLen) {
        kvmiWireMsgHdr hdr, *req;
        kvmiWireErrorCode ec;

        g_assert_cmpuint(outLen - pos, >=, sizeof(hdr) + sizeof(ec));
        memcpy(&hdr, out + pos, sizeof(hdr));
        memcpy(&ec, out + pos + sizeof(hdr), sizeof(ec));
        g_assert_cmpuint(i, <, hdrs->len);
        req = &g_array_index(hdrs, kvmiWireMsgHdr, i);
        g_assert_cmpuint(req->id, !=, VMI_KVMI_EVENT_MSG_ID);
        g_assert_cmpuint(hdr.id, ==, req->id);
        g_assert_cmpuint(hdr.seq, ==, req->seq);
        g_assert_cmpint(ec.err, <=, 0);
        if (ec.err)
            g_assert_cmpuint(hdr.size, ==, sizeof(ec));
        else
            g_assert_true(hdr.size == sizeof(ec) || hdr.size == sizeof(ec) + 16);
        g_assert_cmpuint(outLen - pos - sizeof(hdr), >=, hdr.size);
        pos += sizeof(hdr) + hdr.size;
        i++;
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const emuKernelCallbacks cb = { onClosed, onQueryVcpus };
    g_autoptr(GByteArray) out = g_byte_array_new();
    fuzzEmu emu = { 0 };
    emuStream *stream;
    const guint8 *sent;
    gsize sentLen, pending, done = 0;
    guint8 buf[4096];
    int sv[2];
    guint spins = 0;

    if (size < 3)
        return 0;
    sent = data + 3;
    sentLen = size - 3;
    pending = MIN(data[2], size - 3);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        g_error("socketpair: %s", g_strerror(errno));
    g_unix_set_fd_nonblocking(sv[1], TRUE, NULL);

    stream = emuStreamNew(sv[0], sv[0], TRUE);
    emu.kernel = emuKernelHook(stream, &cb, &emu);
    emuKernelAllowCommand(emu.kernel, allowId(data[0]));
    emuKernelAllowEvent(emu.kernel, allowId(data[1]));
    emuKernelStart(emu.kernel, (const char *)data + 3, pending);

    data += 3 + pending;
    size -= 3 + pending;
    while (!emu.closed) {
        gssize n;

        if (done < size) {
            n = send(sv[1], data + done, size - done, MSG_NOSIGNAL);
            if (n > 0)
                done += n;
            if (done == size)
                shutdown(sv[1], SHUT_WR);
        } else if (done == 0) {
            shutdown(sv[1], SHUT_WR);
        }
        g_main_context_iteration(NULL, FALSE);
        while ((n = read(sv[1], buf, sizeof(buf))) > 0)
            g_byte_array_append(out, buf, n);
        g_assert_cmpuint(++spins, <, 1000000);
    }
    /* QEMU learns of it once */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    g_assert_cmpuint(emu.closed, ==, 1);
    g_assert_cmpuint(emu.vcpuIdle, ==, 0);
    {
        gssize n;

        while ((n = read(sv[1], buf, sizeof(buf))) > 0)
            g_byte_array_append(out, buf, n);
    }
    checkReplies(sent, sentLen, out->data, out->len);
    emuKernelUnhook(emu.kernel);
    emuStreamFree(stream);
    close(sv[1]);
    return 0;
}
