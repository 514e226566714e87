/*
 * emu_handshake.h: the introspection handshake's byte layouts (RFC)
 *
 * QEMU -> tool: struct qemu_vmi_to_introspector, 104 + 24 * n bytes;
 * tool -> QEMU: struct qemu_vmi_from_introspector, 24 bytes.
 * Byte order is the host's.
 */
#pragma once

#include <glib.h>

#define EMU_VMI_NAME_SIZE 64
#define EMU_VMI_COOKIE_HASH_SIZE 20
#define EMU_VMI_CPU_TYPE_X86_64 1
/* e820_count is a uint8_t, but QEMU allows 8 * sizeof(it) entries */
#define EMU_VMI_MAX_E820 8

typedef struct {
    guint32 structSize;
    guint8 uuid[16];
    guint8 cpuType;
    guint8 padding[3];
    gint64 startTime;
    char name[EMU_VMI_NAME_SIZE];
    /* struct qemu_vmi_to_introspector_x86 */
    guint8 e820Count;
    guint8 archPadding[3];
    guint8 hole[4];                 /* the entries are 8-byte aligned */
} emuVmiToIntrospector;

typedef struct {
    guint64 address;
    guint64 length;
    guint32 type;
    guint32 padding;
} emuVmiE820Entry;

typedef struct {
    guint32 structSize;
    guint8 cookieHash[EMU_VMI_COOKIE_HASH_SIZE];
} emuVmiFromIntrospector;

G_STATIC_ASSERT(sizeof(emuVmiToIntrospector) == 104);
G_STATIC_ASSERT(G_STRUCT_OFFSET(emuVmiToIntrospector, cpuType) == 20);
G_STATIC_ASSERT(G_STRUCT_OFFSET(emuVmiToIntrospector, startTime) == 24);
G_STATIC_ASSERT(G_STRUCT_OFFSET(emuVmiToIntrospector, name) == 32);
G_STATIC_ASSERT(G_STRUCT_OFFSET(emuVmiToIntrospector, e820Count) == 96);
G_STATIC_ASSERT(sizeof(emuVmiE820Entry) == 24);
G_STATIC_ASSERT(sizeof(emuVmiFromIntrospector) == 24);

/* @e820: emuVmiE820Entry, any order. Warns (as QEMU) when it has more
 * entries than fit, and sends none then. */
GBytes *emuHandshakeBuild(const guint8 *uuid, gint64 startTimeMs, const char *name,
                          const GArray *e820);

/* SHA-1 of the whole key, what the tool must send back. */
void emuHandshakeCookie(GBytes *key, guint8 *hash);
