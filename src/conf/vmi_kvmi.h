/*
 * vmi_kvmi.h: the KVMI v8 command and event ids, and their names
 *
 * This is the single source of truth for the names users write in
 * <vmi:allow> and for the ids QEMU is given. The ids are those of the
 * KVMI v8 kernel ABI that the introspection object's documentation uses;
 * later ABIs renumbered them, so a name maps to an id for v8 only.
 */
#pragma once

#include <glib.h>

typedef enum {
    VMI_KVMI_GET_VERSION = 2,
    VMI_KVMI_VM_CHECK_COMMAND = 3,
    VMI_KVMI_VM_CHECK_EVENT = 4,
    VMI_KVMI_VM_GET_INFO = 5,
    VMI_KVMI_VM_CONTROL_EVENTS = 6,
    VMI_KVMI_VM_READ_PHYSICAL = 7,
    VMI_KVMI_VM_WRITE_PHYSICAL = 8,
    VMI_KVMI_VCPU_GET_INFO = 9,
    VMI_KVMI_VCPU_PAUSE = 10,
    VMI_KVMI_VCPU_CONTROL_EVENTS = 11,
    VMI_KVMI_VCPU_GET_REGISTERS = 12,
    VMI_KVMI_VCPU_SET_REGISTERS = 13,
    VMI_KVMI_VCPU_GET_CPUID = 14,
    VMI_KVMI_VCPU_CONTROL_CR = 15,
    VMI_KVMI_VCPU_INJECT_EXCEPTION = 16,
    VMI_KVMI_VM_GET_MAX_GFN = 17,
    VMI_KVMI_VCPU_GET_XSAVE = 18,
    VMI_KVMI_VCPU_GET_MTRR_TYPE = 19,
    VMI_KVMI_VCPU_CONTROL_MSR = 20,
    VMI_KVMI_VM_SET_PAGE_ACCESS = 21,
    VMI_KVMI_VCPU_CONTROL_SINGLESTEP = 22,
    VMI_KVMI_VCPU_TRANSLATE_GVA = 23,
} vmiKvmiCommand;

/* The message id that events arrive with; not a command a tool may send. */
#define VMI_KVMI_EVENT_MSG_ID 1

typedef enum {
    VMI_KVMI_EVENT_UNHOOK = 0,
    VMI_KVMI_EVENT_PAUSE_VCPU = 1,
    VMI_KVMI_EVENT_HYPERCALL = 2,
    VMI_KVMI_EVENT_BREAKPOINT = 3,
    VMI_KVMI_EVENT_CR = 4,
    VMI_KVMI_EVENT_TRAP = 5,
    VMI_KVMI_EVENT_XSETBV = 6,
    VMI_KVMI_EVENT_DESCRIPTOR = 7,
    VMI_KVMI_EVENT_MSR = 8,
    VMI_KVMI_EVENT_PF = 9,
    VMI_KVMI_EVENT_SINGLESTEP = 10,
} vmiKvmiEvent;

/* One kind of KVMI id: its ids are first..last, all named. */
typedef struct {
    const char *kind;               /* "command" or "event" */
    guint first;
    guint last;
    const char *const *names;       /* indexed by id */
} vmiKvmiTable;

extern const vmiKvmiTable vmiKvmiCommands;
extern const vmiKvmiTable vmiKvmiEvents;

/* Bitmaps of ids hold every id of both tables. */
#define VMI_KVMI_MAX_ID 63

const char *vmiKvmiTableName(const vmiKvmiTable *table, guint id);
gint64 vmiKvmiTableLookup(const vmiKvmiTable *table, const char *name);
gboolean vmiKvmiTableHas(const vmiKvmiTable *table, guint64 id);
char *vmiKvmiTableNameList(const vmiKvmiTable *table, const char *sep);
gboolean vmiKvmiTableParse(const vmiKvmiTable *table, const char *value,
                           guint *id, GError **error);
