/*
 * vmi_tool_wire.h: what the tool makes of the wire: its limits on the
 * handshake and names for the values it prints (the layouts themselves
 * are kvmi_wire.h's)
 */
#pragma once

#include <glib.h>

#include "kvmi_wire.h"

/* What a tool must accept: struct_size, uuid, cpu_type and start_time. */
#define VMI_TOOL_HANDSHAKE_MIN 32
/* The header offset the name is known from. */
#define VMI_TOOL_HANDSHAKE_NAME_END 96
/* e820_count is a byte: this much covers every entry it can announce. */
#define VMI_TOOL_HANDSHAKE_KEEP (KVMI_WIRE_HANDSHAKE_E820_START + 255 * sizeof(kvmiWireE820Entry))
/* QEMU sends at most 104 + 8 * 24 bytes; anything this large is not QEMU. */
#define VMI_TOOL_HANDSHAKE_MAX 65536

const char *vmiToolErrorName(gint32 err);
const char *vmiToolCpuTypeName(guint8 cpuType);
char *vmiToolFormatUuid(const guint8 uuid[16]);
