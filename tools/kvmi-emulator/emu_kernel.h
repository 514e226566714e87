/*
 * emu_kernel.h: the KVMI v8 kernel side of the introspection socket
 *
 * After the handshake QEMU hands the socket to KVM (KVM_INTROSPECTION_HOOK)
 * and KVM talks to the tool: this plays that part. Messages are
 * struct kvmi_msg_hdr + payload (at most 8184 bytes; more, or a short
 * read, and the kernel shuts the socket down). Emulated: GET_VERSION,
 * VM_CHECK_COMMAND, VM_CHECK_EVENT, VM_GET_INFO (the real vCPU count),
 * VM_CONTROL_EVENTS and the UNHOOK event, with the allow-lists that QEMU
 * set (KVM_INTROSPECTION_COMMAND/_EVENT) and the kernel's error codes.
 * Every other known command, once allowed, answers -KVM_EOPNOTSUPP.
 */
#pragma once

#include <glib.h>

#include "emu_stream.h"
#include "kvmi_wire.h"

/* the fork's ioctl numbers, which QEMU prints when one fails */
#define EMU_KVM_INTROSPECTION_COMMAND 0x4008aec5u
#define EMU_KVM_INTROSPECTION_EVENT 0x4008aec6u

typedef struct _emuKernel emuKernel;

typedef struct {
    /* The tool closed, or the kernel shut the socket down. */
    void (*closed)(emuKernel *kernel, gpointer opaque);
    /* VM_GET_INFO wants the vCPU count: answer with emuKernelVcpuCount(). */
    void (*queryVcpus)(emuKernel *kernel, gpointer opaque);
} emuKernelCallbacks;

/* KVM_INTROSPECTION_HOOK: @stream is the socket (borrowed), @pending the
 * bytes already read past the handshake. Reading starts with
 * emuKernelStart(), once the allow-lists are set. */
emuKernel *emuKernelHook(emuStream *stream, const emuKernelCallbacks *cb, gpointer opaque);
/* KVM_INTROSPECTION_COMMAND / _EVENT with allow=1: FALSE (-EINVAL) for
 * an id the kernel does not know. -1 means all. */
gboolean emuKernelAllowCommand(emuKernel *kernel, gint32 id);
gboolean emuKernelAllowEvent(emuKernel *kernel, gint32 id);
void emuKernelStart(emuKernel *kernel, const char *pending, gsize len);
/* KVM_INTROSPECTION_PREUNHOOK: sends UNHOOK if the tool enabled it. */
gboolean emuKernelPreunhook(emuKernel *kernel);
void emuKernelVcpuCount(emuKernel *kernel, guint count);
/* KVM_INTROSPECTION_UNHOOK */
void emuKernelUnhook(emuKernel *kernel);
