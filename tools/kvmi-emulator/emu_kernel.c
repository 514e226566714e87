/*
 * emu_kernel.c: the KVMI v8 kernel side of the introspection socket
 */
#include <string.h>
#include <sys/socket.h>

#include "emu_kernel.h"
#include "conf/vmi_kvmi.h"

#define EMU_KVMI_VERSION 1
#define EMU_KVMI_ALWAYS_ALLOWED ((G_GUINT64_CONSTANT(1) << VMI_KVMI_GET_VERSION) | \
                                 (G_GUINT64_CONSTANT(1) << VMI_KVMI_VM_CHECK_COMMAND) | \
                                 (G_GUINT64_CONSTANT(1) << VMI_KVMI_VM_CHECK_EVENT))

struct _emuKernel {
    emuStream *stream;
    emuKernelCallbacks cb;
    gpointer opaque;
    GByteArray *in;
    guint64 commandMask;            /* allowed commands */
    guint64 eventMask;              /* allowed events */
    guint64 vmEventsEnabled;        /* VM_CONTROL_EVENTS */
    guint32 eventSeq;
    guint closedIdle;
    gboolean waitingVcpus;
    kvmiWireMsgHdr waitingHdr;
    gboolean dead;
};

static void emuKernelProcess(emuKernel *kernel);


/* The commands and the event reply (id 1) this kernel knows. */
static guint64
emuKernelKnownCommands(void)
{
    guint64 mask = G_GUINT64_CONSTANT(1) << VMI_KVMI_EVENT_MSG_ID;
    guint id;

    for (id = vmiKvmiCommands.first; id <= vmiKvmiCommands.last; id++)
        mask |= G_GUINT64_CONSTANT(1) << id;
    return mask;
}


static guint64
emuKernelKnownEvents(void)
{
    guint64 mask = 0;
    guint id;

    for (id = vmiKvmiEvents.first; id <= vmiKvmiEvents.last; id++)
        mask |= G_GUINT64_CONSTANT(1) << id;
    return mask;
}


static gboolean
emuMaskHas(guint64 mask, guint id)
{
    return id < 64 && (mask & (G_GUINT64_CONSTANT(1) << id));
}


/* The commands the receiving thread runs itself (the rest are vCPU ones). */
static gboolean
emuKernelIsVmCommand(guint id)
{
    switch (id) {
    case VMI_KVMI_GET_VERSION:
    case VMI_KVMI_VM_CHECK_COMMAND:
    case VMI_KVMI_VM_CHECK_EVENT:
    case VMI_KVMI_VM_GET_INFO:
    case VMI_KVMI_VM_CONTROL_EVENTS:
    case VMI_KVMI_VM_READ_PHYSICAL:
    case VMI_KVMI_VM_WRITE_PHYSICAL:
    case VMI_KVMI_VCPU_PAUSE:
    case VMI_KVMI_VM_GET_MAX_GFN:
    case VMI_KVMI_VM_SET_PAGE_ACCESS:
        return TRUE;
    }
    return FALSE;
}


/* As kvmi_arch_features(): single-stepping needs VMX. */
static guint8
emuKernelSinglestep(void)
{
    static gint cached = -1;

    if (cached < 0) {
        g_autofree char *cpuinfo = NULL;

        cached = g_file_get_contents("/proc/cpuinfo", &cpuinfo, NULL, NULL) &&
                 strstr(cpuinfo, " vmx") != NULL;
    }
    return cached;
}


emuKernel *
emuKernelHook(emuStream *stream, const emuKernelCallbacks *cb, gpointer opaque)
{
    emuKernel *kernel = g_new0(emuKernel, 1);

    kernel->stream = stream;
    kernel->cb = *cb;
    kernel->opaque = opaque;
    kernel->in = g_byte_array_new();
    kernel->commandMask = EMU_KVMI_ALWAYS_ALLOWED;
    return kernel;
}


static gboolean
emuKernelAllow(guint64 *mask, guint64 known, gint32 id)
{
    guint64 requested;

    if (id < 0 && id != -1)
        return FALSE;
    requested = id == -1 ? G_MAXUINT64 : (id < 64 ? G_GUINT64_CONSTANT(1) << id : 0);
    requested &= known;
    if (!requested)
        return FALSE;
    *mask |= requested;
    return TRUE;
}


gboolean
emuKernelAllowCommand(emuKernel *kernel, gint32 id)
{
    return emuKernelAllow(&kernel->commandMask, emuKernelKnownCommands(), id);
}


gboolean
emuKernelAllowEvent(emuKernel *kernel, gint32 id)
{
    return emuKernelAllow(&kernel->eventMask, emuKernelKnownEvents(), id);
}


static gboolean
emuKernelOnClosed(gpointer opaque)
{
    emuKernel *kernel = opaque;

    kernel->closedIdle = 0;
    kernel->cb.closed(kernel, kernel->opaque);
    return G_SOURCE_REMOVE;
}


/* kvmi_sock_shutdown(): the tool sees EOF, and QEMU the hang-up, from
 * its main loop: never from inside this kernel's own processing. */
static void
emuKernelShutdown(emuKernel *kernel)
{
    if (kernel->dead)
        return;
    kernel->dead = TRUE;
    shutdown(emuStreamFd(kernel->stream), SHUT_RDWR);
    kernel->closedIdle = g_idle_add(emuKernelOnClosed, kernel);
}


/* Header, error code and payload (only when err is 0) in one write. */
static void
emuKernelReply(emuKernel *kernel, const kvmiWireMsgHdr *req, gint32 err,
               const void *payload, gsize size)
{
    kvmiWireMsgHdr hdr = { req->id, 0, req->seq };
    kvmiWireErrorCode ec = { err, 0 };
    g_autoptr(GByteArray) out = g_byte_array_new();

    if (err)
        size = 0;
    hdr.size = sizeof(ec) + size;
    g_byte_array_append(out, (const guint8 *)&hdr, sizeof(hdr));
    g_byte_array_append(out, (const guint8 *)&ec, sizeof(ec));
    if (size)
        g_byte_array_append(out, payload, size);
    emuStreamWrite(kernel->stream, out->data, out->len);
}


static void
emuKernelGetVersion(emuKernel *kernel, const kvmiWireMsgHdr *hdr)
{
    kvmiWireGetVersionReply rpl;

    memset(&rpl, 0, sizeof(rpl));
    rpl.version = EMU_KVMI_VERSION;
    rpl.singlestep = emuKernelSinglestep();
    emuKernelReply(kernel, hdr, 0, &rpl, sizeof(rpl));
}


static void
emuKernelCheckCommand(emuKernel *kernel, const kvmiWireMsgHdr *hdr, const kvmiWireVmCheck *req)
{
    gint32 ec = 0;

    if (req->padding1 || req->padding2)
        ec = -KVMI_WIRE_KVM_EINVAL;
    else if (!emuMaskHas(emuKernelKnownCommands(), req->id))
        ec = -KVMI_WIRE_KVM_ENOENT;
    else if (!emuMaskHas(kernel->commandMask, req->id))
        ec = -KVMI_WIRE_KVM_EPERM;
    emuKernelReply(kernel, hdr, ec, NULL, 0);
}


static void
emuKernelCheckEvent(emuKernel *kernel, const kvmiWireMsgHdr *hdr, const kvmiWireVmCheck *req)
{
    gint32 ec = 0;

    if (req->padding1 || req->padding2)
        ec = -KVMI_WIRE_KVM_EINVAL;
    else if (!emuMaskHas(emuKernelKnownEvents(), req->id))
        ec = -KVMI_WIRE_KVM_ENOENT;
    else if (!emuMaskHas(kernel->eventMask, req->id))
        ec = -KVMI_WIRE_KVM_EPERM;
    emuKernelReply(kernel, hdr, ec, NULL, 0);
}


static void
emuKernelControlEvents(emuKernel *kernel, const kvmiWireMsgHdr *hdr,
                       const kvmiWireVmControlEvents *req)
{
    gint32 ec = 0;

    if (req->padding1 || req->padding2 || req->enable > 1)
        ec = -KVMI_WIRE_KVM_EINVAL;
    else if (req->eventId != VMI_KVMI_EVENT_UNHOOK)    /* the only VM event */
        ec = -KVMI_WIRE_KVM_EINVAL;
    else if (!emuMaskHas(kernel->eventMask, req->eventId))
        ec = -KVMI_WIRE_KVM_EPERM;
    else if (req->enable)
        kernel->vmEventsEnabled |= G_GUINT64_CONSTANT(1) << req->eventId;
    else
        kernel->vmEventsEnabled &= ~(G_GUINT64_CONSTANT(1) << req->eventId);
    emuKernelReply(kernel, hdr, ec, NULL, 0);
}


void
emuKernelVcpuCount(emuKernel *kernel, guint count)
{
    kvmiWireVmGetInfoReply rpl;

    if (!kernel->waitingVcpus)
        return;
    kernel->waitingVcpus = FALSE;
    memset(&rpl, 0, sizeof(rpl));
    rpl.vcpuCount = count;
    emuKernelReply(kernel, &kernel->waitingHdr, 0, &rpl, sizeof(rpl));
    emuKernelProcess(kernel);
}


static void
emuKernelVmCommand(emuKernel *kernel, const kvmiWireMsgHdr *hdr, const guint8 *payload)
{
    if (!emuMaskHas(kernel->commandMask, hdr->id)) {
        emuKernelReply(kernel, hdr, -KVMI_WIRE_KVM_EPERM, NULL, 0);
        return;
    }
    switch (hdr->id) {
    case VMI_KVMI_GET_VERSION:
        emuKernelGetVersion(kernel, hdr);
        break;
    case VMI_KVMI_VM_CHECK_COMMAND:
        emuKernelCheckCommand(kernel, hdr, (const kvmiWireVmCheck *)payload);
        break;
    case VMI_KVMI_VM_CHECK_EVENT:
        emuKernelCheckEvent(kernel, hdr, (const kvmiWireVmCheck *)payload);
        break;
    case VMI_KVMI_VM_CONTROL_EVENTS:
        emuKernelControlEvents(kernel, hdr, (const kvmiWireVmControlEvents *)payload);
        break;
    case VMI_KVMI_VM_GET_INFO:
        /* the reply waits for QEMU: the next message waits for the reply */
        kernel->waitingVcpus = TRUE;
        kernel->waitingHdr = *hdr;
        kernel->cb.queryVcpus(kernel, kernel->opaque);
        break;
    default:
        emuKernelReply(kernel, hdr, -KVMI_WIRE_KVM_EOPNOTSUPP, NULL, 0);
        break;
    }
}


static void
emuKernelMessage(emuKernel *kernel, const kvmiWireMsgHdr *hdr, const guint8 *body)
{
    /* the kernel's buffer is zeroed: a short payload reads as zeros */
    guint8 payload[KVMI_WIRE_MAX_PAYLOAD] = { 0 };

    if (hdr->size)
        memcpy(payload, body, hdr->size);
    if (emuKernelIsVmCommand(hdr->id)) {
        emuKernelVmCommand(kernel, hdr, payload);
    } else if (hdr->id == VMI_KVMI_EVENT_MSG_ID) {
        /* an event reply with no event waiting for it: the vCPU thread
         * finds the wrong seq and shuts the socket down */
        emuKernelShutdown(kernel);
    } else if (emuMaskHas(emuKernelKnownCommands(), hdr->id)) {
        emuKernelReply(kernel, hdr, emuMaskHas(kernel->commandMask, hdr->id) ?
                       -KVMI_WIRE_KVM_EOPNOTSUPP : -KVMI_WIRE_KVM_EPERM, NULL, 0);
    } else {
        emuKernelReply(kernel, hdr, -KVMI_WIRE_KVM_ENOSYS, NULL, 0);
    }
}


static void
emuKernelProcess(emuKernel *kernel)
{
    while (!kernel->dead && !kernel->waitingVcpus && kernel->in->len >= sizeof(kvmiWireMsgHdr)) {
        g_autofree guint8 *body = NULL;
        kvmiWireMsgHdr hdr;

        memcpy(&hdr, kernel->in->data, sizeof(hdr));
        if (hdr.size > KVMI_WIRE_MAX_PAYLOAD) {
            emuKernelShutdown(kernel);
            return;
        }
        if (kernel->in->len < sizeof(hdr) + hdr.size)
            return;
        /* off the buffer first: handling may come back here */
        body = g_memdup2(kernel->in->data + sizeof(hdr), hdr.size);
        g_byte_array_remove_range(kernel->in, 0, sizeof(hdr) + hdr.size);
        emuKernelMessage(kernel, &hdr, body);
    }
}


static void
emuKernelOnRead(emuStream *stream, const char *data, gsize len, GArray *fds, gpointer opaque)
{
    emuKernel *kernel = opaque;

    emuCloseFds(fds);
    g_byte_array_append(kernel->in, (const guint8 *)data, len);
    emuKernelProcess(kernel);
}


/* EOF: the tool closed (a message cut short counts the same). */
static void
emuKernelOnEof(emuStream *stream, gpointer opaque)
{
    emuKernel *kernel = opaque;

    emuKernelShutdown(kernel);
}


void
emuKernelStart(emuKernel *kernel, const char *pending, gsize len)
{
    emuStreamSetHandlers(kernel->stream, emuKernelOnRead, emuKernelOnEof, kernel);
    if (len)
        emuKernelOnRead(kernel->stream, pending, len, NULL, kernel);
}


gboolean
emuKernelPreunhook(emuKernel *kernel)
{
    kvmiWireMsgHdr hdr = { VMI_KVMI_EVENT_MSG_ID, sizeof(kvmiWireEvent), 0 };
    kvmiWireEvent ev;
    guint8 buf[sizeof(hdr) + sizeof(ev)];

    if (kernel->dead || !emuMaskHas(kernel->vmEventsEnabled, VMI_KVMI_EVENT_UNHOOK))
        return FALSE;
    hdr.seq = ++kernel->eventSeq;
    memset(&ev, 0, sizeof(ev));
    ev.size = sizeof(ev);
    ev.vcpu = 0;
    ev.event = VMI_KVMI_EVENT_UNHOOK;
    memcpy(buf, &hdr, sizeof(hdr));
    memcpy(buf + sizeof(hdr), &ev, sizeof(ev));
    emuStreamWrite(kernel->stream, buf, sizeof(buf));
    return TRUE;
}


/* The socket itself is QEMU's: whoever frees the stream stops the reading. */
void
emuKernelUnhook(emuKernel *kernel)
{
    if (!kernel)
        return;
    if (kernel->closedIdle)
        g_source_remove(kernel->closedIdle);
    g_byte_array_unref(kernel->in);
    g_free(kernel);
}
