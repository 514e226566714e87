/*
 * vmi_tool_wire.h: the byte layouts a KVMI introspection tool sees
 *
 * Written from docs/kvmi.rst: the QEMU introspection object's handshake
 * (RFC layout) and the KVMI v8 messages the kernel speaks after the hook.
 * Byte order is host-native; the sizes and offsets are those of x86-64
 * and are checked at compile time, so a wrong field fails the build.
 */
#pragma once

#include <stddef.h>
#include <glib.h>

/* ---- Handshake, QEMU -> tool ---- */

#define VMI_TOOL_CPU_TYPE_I386 0
#define VMI_TOOL_CPU_TYPE_X86_64 1
#define VMI_TOOL_CPU_TYPE_UNKNOWN 255

typedef struct {
    guint64 address;
    guint64 length;
    guint32 type;
    guint32 padding;
} vmiToolE820Entry;

/* The fixed part of struct qemu_vmi_to_introspector, arch included. */
typedef struct {
    guint32 structSize;
    guint8 uuid[16];
    guint8 cpuType;
    guint8 padding[3];
    gint64 startTime;
    char name[64];
    guint8 e820Count;           /* struct qemu_vmi_to_introspector_x86 */
    guint8 archPadding[3];
    /* a 4-byte hole, then e820_count entries */
} vmiToolQemuHandshake;

G_STATIC_ASSERT(sizeof(vmiToolE820Entry) == 24);
G_STATIC_ASSERT(offsetof(vmiToolQemuHandshake, uuid) == 4);
G_STATIC_ASSERT(offsetof(vmiToolQemuHandshake, cpuType) == 20);
G_STATIC_ASSERT(offsetof(vmiToolQemuHandshake, startTime) == 24);
G_STATIC_ASSERT(offsetof(vmiToolQemuHandshake, name) == 32);
G_STATIC_ASSERT(offsetof(vmiToolQemuHandshake, e820Count) == 96);
G_STATIC_ASSERT(sizeof(vmiToolQemuHandshake) == 104);

/* What a tool must accept: struct_size, uuid, cpu_type and start_time. */
#define VMI_TOOL_HANDSHAKE_MIN 32
/* The header offsets a field is known from. */
#define VMI_TOOL_HANDSHAKE_NAME_END 96
#define VMI_TOOL_HANDSHAKE_E820_START 104
/* e820_count is a byte: this much covers every entry it can announce. */
#define VMI_TOOL_HANDSHAKE_KEEP (VMI_TOOL_HANDSHAKE_E820_START + 255 * sizeof(vmiToolE820Entry))
/* QEMU sends at most 104 + 8 * 24 bytes; anything this large is not QEMU. */
#define VMI_TOOL_HANDSHAKE_MAX 65536

/* ---- Handshake, tool -> QEMU ---- */

#define VMI_TOOL_COOKIE_LEN 20      /* SHA-1 */

typedef struct {
    guint32 structSize;
    guint8 cookieHash[VMI_TOOL_COOKIE_LEN];
} vmiToolToolHandshake;

G_STATIC_ASSERT(offsetof(vmiToolToolHandshake, cookieHash) == 4);
G_STATIC_ASSERT(sizeof(vmiToolToolHandshake) == 24);

/* ---- KVMI v8 ---- */

typedef struct {
    guint16 id;
    guint16 size;               /* payload bytes after the header */
    guint32 seq;
} vmiToolMsgHdr;

typedef struct {
    gint32 err;                 /* 0 or a negated KVM_E* */
    guint32 padding;
} vmiToolErrorCode;

typedef struct {
    guint32 version;
    guint32 padding;
    guint8 singlestep;          /* struct kvmi_features */
    guint8 featPadding[7];
} vmiToolGetVersionReply;

/* kvmi_vm_check_command and kvmi_vm_check_event */
typedef struct {
    guint16 id;
    guint16 padding1;
    guint32 padding2;
} vmiToolVmCheck;

typedef struct {
    guint32 vcpuCount;
    guint32 padding[3];
} vmiToolVmGetInfoReply;

typedef struct {
    guint16 eventId;
    guint8 enable;
    guint8 padding1;
    guint32 padding2;
} vmiToolVmControlEvents;

typedef struct {
    guint16 size;
    guint16 vcpu;
    guint8 event;
    guint8 padding[3];
    guint8 arch[536];
} vmiToolEvent;

G_STATIC_ASSERT(sizeof(vmiToolMsgHdr) == 8);
G_STATIC_ASSERT(offsetof(vmiToolMsgHdr, seq) == 4);
G_STATIC_ASSERT(sizeof(vmiToolErrorCode) == 8);
G_STATIC_ASSERT(sizeof(vmiToolGetVersionReply) == 16);
G_STATIC_ASSERT(offsetof(vmiToolGetVersionReply, singlestep) == 8);
G_STATIC_ASSERT(sizeof(vmiToolVmCheck) == 8);
G_STATIC_ASSERT(sizeof(vmiToolVmGetInfoReply) == 16);
G_STATIC_ASSERT(sizeof(vmiToolVmControlEvents) == 8);
G_STATIC_ASSERT(offsetof(vmiToolVmControlEvents, enable) == 2);
G_STATIC_ASSERT(offsetof(vmiToolEvent, event) == 4);
G_STATIC_ASSERT(offsetof(vmiToolEvent, arch) == 8);
G_STATIC_ASSERT(sizeof(vmiToolEvent) == 544);

/* The largest payload the kernel accepts or sends. */
#define VMI_TOOL_MSG_MAX_PAYLOAD 8184
/* The common part of an event every event message starts with. */
#define VMI_TOOL_EVENT_COMMON_SIZE offsetof(vmiToolEvent, arch)

/* Error codes, as the kernel's KVM_E* (sent negated). */
#define VMI_TOOL_KVM_EPERM 1
#define VMI_TOOL_KVM_ENOENT 2
#define VMI_TOOL_KVM_EBUSY 16
#define VMI_TOOL_KVM_EINVAL 22
#define VMI_TOOL_KVM_EOPNOTSUPP 95
#define VMI_TOOL_KVM_ENOSYS 1000

const char *vmiToolErrorName(gint32 err);
const char *vmiToolCpuTypeName(guint8 cpuType);
char *vmiToolFormatUuid(const guint8 uuid[16]);
