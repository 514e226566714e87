/*
 * vmi_kvmi.c: the KVMI v8 command and event name tables
 */
#include "vmi_kvmi.h"
#include "vmi_error.h"

/* Names are the v8 constants in lower case, with dashes and without the
 * KVMI_ / KVMI_EVENT_ prefix. */
static const char *const commandNames[] = {
    [VMI_KVMI_GET_VERSION] = "get-version",
    [VMI_KVMI_VM_CHECK_COMMAND] = "vm-check-command",
    [VMI_KVMI_VM_CHECK_EVENT] = "vm-check-event",
    [VMI_KVMI_VM_GET_INFO] = "vm-get-info",
    [VMI_KVMI_VM_CONTROL_EVENTS] = "vm-control-events",
    [VMI_KVMI_VM_READ_PHYSICAL] = "vm-read-physical",
    [VMI_KVMI_VM_WRITE_PHYSICAL] = "vm-write-physical",
    [VMI_KVMI_VCPU_GET_INFO] = "vcpu-get-info",
    [VMI_KVMI_VCPU_PAUSE] = "vcpu-pause",
    [VMI_KVMI_VCPU_CONTROL_EVENTS] = "vcpu-control-events",
    [VMI_KVMI_VCPU_GET_REGISTERS] = "vcpu-get-registers",
    [VMI_KVMI_VCPU_SET_REGISTERS] = "vcpu-set-registers",
    [VMI_KVMI_VCPU_GET_CPUID] = "vcpu-get-cpuid",
    [VMI_KVMI_VCPU_CONTROL_CR] = "vcpu-control-cr",
    [VMI_KVMI_VCPU_INJECT_EXCEPTION] = "vcpu-inject-exception",
    [VMI_KVMI_VM_GET_MAX_GFN] = "vm-get-max-gfn",
    [VMI_KVMI_VCPU_GET_XSAVE] = "vcpu-get-xsave",
    [VMI_KVMI_VCPU_GET_MTRR_TYPE] = "vcpu-get-mtrr-type",
    [VMI_KVMI_VCPU_CONTROL_MSR] = "vcpu-control-msr",
    [VMI_KVMI_VM_SET_PAGE_ACCESS] = "vm-set-page-access",
    [VMI_KVMI_VCPU_CONTROL_SINGLESTEP] = "vcpu-control-singlestep",
    [VMI_KVMI_VCPU_TRANSLATE_GVA] = "vcpu-translate-gva",
};

static const char *const eventNames[] = {
    [VMI_KVMI_EVENT_UNHOOK] = "unhook",
    [VMI_KVMI_EVENT_PAUSE_VCPU] = "pause-vcpu",
    [VMI_KVMI_EVENT_HYPERCALL] = "hypercall",
    [VMI_KVMI_EVENT_BREAKPOINT] = "breakpoint",
    [VMI_KVMI_EVENT_CR] = "cr",
    [VMI_KVMI_EVENT_TRAP] = "trap",
    [VMI_KVMI_EVENT_XSETBV] = "xsetbv",
    [VMI_KVMI_EVENT_DESCRIPTOR] = "descriptor",
    [VMI_KVMI_EVENT_MSR] = "msr",
    [VMI_KVMI_EVENT_PF] = "pf",
    [VMI_KVMI_EVENT_SINGLESTEP] = "singlestep",
};

G_STATIC_ASSERT(G_N_ELEMENTS(commandNames) - 1 <= VMI_KVMI_MAX_ID);
G_STATIC_ASSERT(G_N_ELEMENTS(eventNames) - 1 <= VMI_KVMI_MAX_ID);

const vmiKvmiTable vmiKvmiCommands = {
    "command", VMI_KVMI_GET_VERSION, G_N_ELEMENTS(commandNames) - 1, commandNames,
};

const vmiKvmiTable vmiKvmiEvents = {
    "event", VMI_KVMI_EVENT_UNHOOK, G_N_ELEMENTS(eventNames) - 1, eventNames,
};


gboolean
vmiKvmiTableHas(const vmiKvmiTable *table, guint64 id)
{
    return id >= table->first && id <= table->last;
}


const char *
vmiKvmiTableName(const vmiKvmiTable *table, guint id)
{
    if (!vmiKvmiTableHas(table, id))
        return NULL;
    return table->names[id];
}


/* Returns the id of @name, or -1. */
gint64
vmiKvmiTableLookup(const vmiKvmiTable *table, const char *name)
{
    guint id;

    for (id = table->first; id <= table->last; id++) {
        if (g_str_equal(table->names[id], name))
            return id;
    }
    return -1;
}


char *
vmiKvmiTableNameList(const vmiKvmiTable *table, const char *sep)
{
    GString *buf = g_string_new(NULL);
    guint id;

    for (id = table->first; id <= table->last; id++) {
        if (id > table->first)
            g_string_append(buf, sep);
        g_string_append(buf, table->names[id]);
    }
    return g_string_free(buf, FALSE);
}


/*
 * Accepts a name or a decimal id, as users may write either on the
 * command line (--allow-command vcpu-pause or --allow-command 10).
 */
gboolean
vmiKvmiTableParse(const vmiKvmiTable *table, const char *value,
                  guint *id, GError **error)
{
    gint64 found = vmiKvmiTableLookup(table, value);
    guint64 num;

    if (found >= 0) {
        *id = found;
        return TRUE;
    }
    if (g_ascii_string_to_unsigned(value, 10, table->first, table->last,
                                   &num, NULL)) {
        *id = num;
        return TRUE;
    }

    {
        g_autofree char *names = vmiKvmiTableNameList(table, ", ");
        g_autofree char *quoted = vmiErrorQuote(value);
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "invalid KVMI %s '%s': expected a KVMI v8 %s name (%s) or id (%u to %u)",
                    table->kind, quoted, table->kind, names,
                    table->first, table->last);
    }
    return FALSE;
}
