/*
 * fuzz_qmp: the QMP reply parser (src/core/vmi_qmp.c)
 *
 * The input is a query-chardev reply. A reply that parses describes the
 * chardev consistently (a connected one has a filename that does not
 * say "disconnected:"); one that does not says why, briefly; neither
 * crashes, leaks or recurses without bound.
 */
#include "fuzz_common.h"
#include "core/qemu_vmi.h"
#include "core/vmi_qmp.h"


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzzInit();
    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *reply = fuzzString(data, size);
    g_autoptr(GError) err = NULL;
    vmiQmpChardevState state;

    if (!vmiQmpParseChardevs(reply, &state, &err)) {
        fuzzCheckError(err, "parsing query-chardev");
        g_assert_false(state.found);
        g_assert_null(state.filename);
        return 0;
    }
    g_assert_no_error(err);
    if (!state.found) {
        g_assert_false(state.connected);
        g_assert_null(state.filename);
    } else {
        g_assert_nonnull(state.filename);
        g_assert_true(!state.connected ||
                      !g_str_has_prefix(state.filename, "disconnected:"));
    }
    g_free(state.filename);
    return 0;
}
