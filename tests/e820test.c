/*
 * e820test: the emulator's e820 table, as QEMU 7.2 builds it, for the host
 * kinds one machine cannot be all of: Intel and AMD vCPUs, KVM and TCG,
 * old and new machine types. The integration tests check the table the
 * QEMU in use sends on the host they run on; this checks every rule on
 * any host.
 */
#include "emu_e820.h"
#include "emu_handshake.h"

#define MiB (G_GUINT64_CONSTANT(1) << 20)
#define GiB (G_GUINT64_CONSTANT(1) << 30)
#define RAM 1
#define RESERVED 2

/* "info mtree" of a q35 guest with 3 GiB: 2 GiB below 4 GiB, 1 GiB above */
#define MTREE_Q35_3G \
    "memory-region: system\n" \
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n" \
    "    0000000000000000-000000007fffffff (prio 0, ram): alias ram-below-4g @pc.ram 0000000000000000-000000007fffffff\n" \
    "    0000000100000000-000000013fffffff (prio 0, ram): alias ram-above-4g @pc.ram 0000000080000000-00000000bfffffff\n"
#define MTREE_PC_64M \
    "    0000000000000000-0000000003ffffff (prio 0, ram): alias ram-below-4g @pc.ram 0000000000000000-0000000003ffffff\n"

typedef struct {
    guint64 address, length;
    guint32 type;
} Entry;

/* macros, not const variables: C allows only constant expressions in the
 * cases' static initializer (gcc takes the variables as an extension) */
#define KVM_PAGES { 0xfeffc000, 0x4000, RESERVED }
#define AMD_HOLE { 0xfd00000000, 0x300000000, RESERVED }

typedef struct {
    const char *name;
    emuE820Input in;
    Entry expected[8];      /* QEMU's table order */
    guint count;
} Case;


static void
testCase(gconstpointer data)
{
    const Case *c = data;
    g_autoptr(GArray) table = emuE820Build(&c->in);
    guint i;

    g_assert_cmpuint(table->len, ==, c->count);
    for (i = 0; i < c->count; i++) {
        kvmiWireE820Entry *e = &g_array_index(table, kvmiWireE820Entry, i);

        g_assert_cmphex(e->address, ==, c->expected[i].address);
        g_assert_cmphex(e->length, ==, c->expected[i].length);
        g_assert_cmpuint(e->type, ==, c->expected[i].type);
        g_assert_cmpuint(e->padding, ==, 0);
    }
}


int
main(int argc, char **argv)
{
    static const Case cases[] = {
        { "intel-kvm-pc-64m",
          { MTREE_PC_64M, TRUE, "pc-i440fx-7.2-machine", "GenuineIntel", 39 },
          { KVM_PAGES, { 0, 64 * MiB, RAM } }, 2 },
        { "amd-kvm-pc-64m",
          { MTREE_PC_64M, TRUE, "pc-i440fx-7.2-machine", "AuthenticAMD", 48 },
          { KVM_PAGES, { 0, 64 * MiB, RAM }, AMD_HOLE }, 3 },
        { "intel-kvm-q35-3g",
          { MTREE_Q35_3G, TRUE, "pc-q35-7.2-machine", "GenuineIntel", 46 },
          { KVM_PAGES, { 0, 2 * GiB, RAM }, { 4 * GiB, GiB, RAM } }, 3 },
        { "amd-kvm-q35-3g",
          { MTREE_Q35_3G, TRUE, "pc-q35-7.2-machine", "AuthenticAMD", 48 },
          { KVM_PAGES, { 0, 2 * GiB, RAM }, AMD_HOLE, { 4 * GiB, GiB, RAM } }, 4 },
        /* TCG's qemu64 vCPU is an AMD one with 40 bits: the hole, no KVM pages */
        { "tcg-pc-64m",
          { MTREE_PC_64M, FALSE, "pc-i440fx-7.2-machine", "AuthenticAMD", 40 },
          { { 0, 64 * MiB, RAM }, AMD_HOLE }, 2 },
        /* the hole needs 40 bits, and a 7.1+ machine type */
        { "amd-39-bits",
          { MTREE_PC_64M, TRUE, "pc-i440fx-7.2-machine", "AuthenticAMD", 39 },
          { KVM_PAGES, { 0, 64 * MiB, RAM } }, 2 },
        { "amd-machine-7.0",
          { MTREE_PC_64M, TRUE, "pc-i440fx-7.0-machine", "AuthenticAMD", 48 },
          { KVM_PAGES, { 0, 64 * MiB, RAM } }, 2 },
        { "amd-machine-7.1",
          { MTREE_PC_64M, TRUE, "pc-q35-7.1-machine", "AuthenticAMD", 48 },
          { KVM_PAGES, { 0, 64 * MiB, RAM }, AMD_HOLE }, 3 },
        /* nothing QEMU reported: nothing invented */
        { "nothing-known", { NULL, FALSE, NULL, NULL, 0 }, { { 0 } }, 0 },
    };
    guint i;

    g_test_init(&argc, &argv, NULL);
    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/e820/%s", cases[i].name);

        g_test_add_data_func(path, &cases[i], testCase);
    }
    return g_test_run();
}
