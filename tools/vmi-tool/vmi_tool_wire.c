/*
 * vmi_tool_wire.c: names for the values the wire carries
 */
#include "vmi_tool_wire.h"


/* @err as sent (negated); NULL for 0 and codes KVMI v8 does not use. */
const char *
vmiToolErrorName(gint32 err)
{
    switch (-(gint64)err) {
    case KVMI_WIRE_KVM_EPERM: return "EPERM";
    case KVMI_WIRE_KVM_ENOENT: return "ENOENT";
    case KVMI_WIRE_KVM_EBUSY: return "EBUSY";
    case KVMI_WIRE_KVM_EINVAL: return "EINVAL";
    case KVMI_WIRE_KVM_EOPNOTSUPP: return "EOPNOTSUPP";
    case KVMI_WIRE_KVM_ENOSYS: return "ENOSYS";
    }
    return NULL;
}


const char *
vmiToolCpuTypeName(guint8 cpuType)
{
    switch (cpuType) {
    case KVMI_WIRE_CPU_TYPE_I386: return "i386";
    case KVMI_WIRE_CPU_TYPE_X86_64: return "x86_64";
    }
    return "unknown";
}


/* QEMU sends its QemuUUID bytes, which are in the order of the text form. */
char *
vmiToolFormatUuid(const guint8 u[16])
{
    return g_strdup_printf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                           "%02x%02x%02x%02x%02x%02x",
                           u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
                           u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}
