/*
 * kvmi_wire.h: the byte layouts on the introspection socket, one
 * declaration for both of its ends (qemu-kvmi plays QEMU and the kernel,
 * vmi-tool is the tool)
 *
 * First QEMU's handshake (the RFC layout of struct
 * qemu_vmi_to_introspector and qemu_vmi_from_introspector), then, once
 * QEMU has handed the socket to KVM, the KVMI v8 messages. Byte order is
 * the host's; the sizes and offsets are x86-64's and are checked at
 * compile time, so a wrong field fails the build.
 */
#pragma once

#include <stddef.h>
#include <glib.h>

/* ---- Handshake, QEMU -> tool: 104 + 24 * e820Count bytes ---- */

#define KVMI_WIRE_CPU_TYPE_I386 0
#define KVMI_WIRE_CPU_TYPE_X86_64 1
#define KVMI_WIRE_CPU_TYPE_UNKNOWN 255

#define KVMI_WIRE_NAME_SIZE 64
/* e820_count is a uint8_t, but QEMU allows 8 * sizeof(it) entries */
#define KVMI_WIRE_MAX_E820 8

typedef struct {
    guint64 address;
    guint64 length;
    guint32 type;
    guint32 padding;
} kvmiWireE820Entry;

/* The fixed part of struct qemu_vmi_to_introspector, arch included. */
typedef struct {
    guint32 structSize;
    guint8 uuid[16];
    guint8 cpuType;
    guint8 padding[3];
    gint64 startTime;
    char name[KVMI_WIRE_NAME_SIZE];
    guint8 e820Count;               /* struct qemu_vmi_to_introspector_x86 */
    guint8 archPadding[3];
    guint8 hole[4];                 /* the entries are 8-byte aligned */
} kvmiWireQemuHandshake;

G_STATIC_ASSERT(sizeof(kvmiWireE820Entry) == 24);
G_STATIC_ASSERT(offsetof(kvmiWireQemuHandshake, uuid) == 4);
G_STATIC_ASSERT(offsetof(kvmiWireQemuHandshake, cpuType) == 20);
G_STATIC_ASSERT(offsetof(kvmiWireQemuHandshake, startTime) == 24);
G_STATIC_ASSERT(offsetof(kvmiWireQemuHandshake, name) == 32);
G_STATIC_ASSERT(offsetof(kvmiWireQemuHandshake, e820Count) == 96);
G_STATIC_ASSERT(sizeof(kvmiWireQemuHandshake) == 104);

/* where the e820 entries start */
#define KVMI_WIRE_HANDSHAKE_E820_START sizeof(kvmiWireQemuHandshake)

/* ---- Handshake, tool -> QEMU: 24 bytes ---- */

#define KVMI_WIRE_COOKIE_LEN 20         /* SHA-1 */

typedef struct {
    guint32 structSize;
    guint8 cookieHash[KVMI_WIRE_COOKIE_LEN];
} kvmiWireToolHandshake;

G_STATIC_ASSERT(offsetof(kvmiWireToolHandshake, cookieHash) == 4);
G_STATIC_ASSERT(sizeof(kvmiWireToolHandshake) == 24);

/* ---- KVMI v8: struct kvmi_msg_hdr + payload ---- */

/* The largest payload the kernel accepts or sends. */
#define KVMI_WIRE_MAX_PAYLOAD 8184

typedef struct {
    guint16 id;
    guint16 size;                   /* payload bytes after the header */
    guint32 seq;
} kvmiWireMsgHdr;

typedef struct {
    gint32 err;                     /* 0 or a negated KVM_E* */
    guint32 padding;
} kvmiWireErrorCode;

typedef struct {
    guint32 version;
    guint32 padding;
    guint8 singlestep;              /* struct kvmi_features */
    guint8 featuresPadding[7];
} kvmiWireGetVersionReply;

/* kvmi_vm_check_command and kvmi_vm_check_event */
typedef struct {
    guint16 id;
    guint16 padding1;
    guint32 padding2;
} kvmiWireVmCheck;

typedef struct {
    guint32 vcpuCount;
    guint32 padding[3];
} kvmiWireVmGetInfoReply;

typedef struct {
    guint16 eventId;
    guint8 enable;
    guint8 padding1;
    guint32 padding2;
} kvmiWireVmControlEvents;

typedef struct {
    guint16 size;
    guint16 vcpu;
    guint8 event;
    guint8 padding[3];
    guint8 arch[536];
} kvmiWireEvent;

#define KVMI_WIRE_EVENT_SIZE 544
/* The common part every event message starts with. */
#define KVMI_WIRE_EVENT_COMMON_SIZE offsetof(kvmiWireEvent, arch)

G_STATIC_ASSERT(sizeof(kvmiWireMsgHdr) == 8);
G_STATIC_ASSERT(offsetof(kvmiWireMsgHdr, seq) == 4);
G_STATIC_ASSERT(sizeof(kvmiWireErrorCode) == 8);
G_STATIC_ASSERT(sizeof(kvmiWireGetVersionReply) == 16);
G_STATIC_ASSERT(offsetof(kvmiWireGetVersionReply, singlestep) == 8);
G_STATIC_ASSERT(sizeof(kvmiWireVmCheck) == 8);
G_STATIC_ASSERT(sizeof(kvmiWireVmGetInfoReply) == 16);
G_STATIC_ASSERT(sizeof(kvmiWireVmControlEvents) == 8);
G_STATIC_ASSERT(offsetof(kvmiWireVmControlEvents, enable) == 2);
G_STATIC_ASSERT(offsetof(kvmiWireEvent, event) == 4);
G_STATIC_ASSERT(offsetof(kvmiWireEvent, arch) == 8);
G_STATIC_ASSERT(sizeof(kvmiWireEvent) == KVMI_WIRE_EVENT_SIZE);

/* Error codes, as the kernel's KVM_E* (sent negated). */
#define KVMI_WIRE_KVM_EPERM 1
#define KVMI_WIRE_KVM_ENOENT 2
#define KVMI_WIRE_KVM_EBUSY 16
#define KVMI_WIRE_KVM_EINVAL 22
#define KVMI_WIRE_KVM_EOPNOTSUPP 95
#define KVMI_WIRE_KVM_ENOSYS 1000
