/*
 * emu_e820.c: the guest's e820 map, as QEMU 7.2 builds it
 */
#include <stdio.h>
#include <string.h>

#include "emu_e820.h"
#include "emu_handshake.h"

#define E820_RAM 1
#define E820_RESERVED 2
#define KVM_IDENTITY_BASE 0xfeffc000ULL
#define KVM_IDENTITY_SIZE 0x4000ULL
#define AMD_HT_START 0xfd00000000ULL
#define AMD_HT_SIZE 0x300000000ULL       /* up to 1 TiB */


static void
emuE820Add(GArray *table, guint64 address, guint64 length, guint32 type)
{
    kvmiWireE820Entry entry = { address, length, type, 0 };

    g_array_append_val(table, entry);
}


/* "  0000000100000000-000000017fffffff (prio 0, ram): alias ram-above-4g @pc.ram ..." */
static gboolean
emuE820FindAlias(const char *mtree, const char *alias, guint64 *start, guint64 *end)
{
    g_autofree char *needle = g_strdup_printf(": alias %s @", alias);
    const char *hit = strstr(mtree, needle);
    const char *line;

    if (!hit)
        return FALSE;
    for (line = hit; line > mtree && line[-1] != '\n'; line--)
        ;
    return sscanf(line, " %" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x",
                  start, end) == 2 && *end >= *start;
}


/* pc_machine_class: enforce_amd_1tb_hole is true from the 7.1 types on */
static gboolean
emuE820EnforcesAmdHole(const char *type)
{
    const char *ver = NULL;
    guint major = 0, minor = 0;

    if (!type)
        return FALSE;
    if (g_str_has_prefix(type, "pc-i440fx-"))
        ver = type + strlen("pc-i440fx-");
    else if (g_str_has_prefix(type, "pc-q35-"))
        ver = type + strlen("pc-q35-");
    if (!ver || sscanf(ver, "%u.%u", &major, &minor) != 2)
        return FALSE;
    return major > 7 || (major == 7 && minor >= 1);
}


GArray *
emuE820Build(const emuE820Input *in)
{
    GArray *table = g_array_new(FALSE, TRUE, sizeof(kvmiWireE820Entry));
    guint64 start, end;

    /* KVM's pages come first: kvm_arch_init() runs before the machine */
    if (in->kvm)
        emuE820Add(table, KVM_IDENTITY_BASE, KVM_IDENTITY_SIZE, E820_RESERVED);
    if (in->mtree && emuE820FindAlias(in->mtree, "ram-below-4g", &start, &end))
        emuE820Add(table, start, end - start + 1, E820_RAM);
    if (in->cpuVendor && g_str_equal(in->cpuVendor, "AuthenticAMD") &&
        emuE820EnforcesAmdHole(in->machineType) && in->physBits >= 40)
        emuE820Add(table, AMD_HT_START, AMD_HT_SIZE, E820_RESERVED);
    if (in->mtree && emuE820FindAlias(in->mtree, "ram-above-4g", &start, &end))
        emuE820Add(table, start, end - start + 1, E820_RAM);
    return table;
}
