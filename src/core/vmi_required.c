/*
 * vmi_required.c: required='yes': the wait for the tool's handshake
 *
 * QEMU connects to the tool as soon as the machine exists, paused at birth
 * (-S, -incoming) or not, and says so in the domain log. The hook waits
 * here at `started begin` of a restore or an incoming migration, virt-vmi
 * start before it resumes a guest it started paused (docs/how-it-works.rst,
 * "Required introspection").
 */
#include "core/vmi_required.h"
#include "core/vmi_qemu_log.h"
#include "conf/vmi_error.h"


static char *
vmiRequiredDescribeSource(const vmiDef *def)
{
    if (def->source.type == VMI_SOURCE_UNIX)
        return g_strdup_printf("unix socket %s", def->source.path);
    return g_strdup_printf("vsock CID %u port %u", def->source.cid, def->source.port);
}


gboolean
vmiRequiredWaitHooked(const char *log, const vmiDef *def, double *waited, GError **error)
{
    g_autofree char *where = NULL;
    vmiQemuLogRun run = { 0 };
    guint timeout = vmiDefHandshakeTimeout(def);
    gint64 t0 = g_get_monotonic_time();
    GError *err = NULL;
    gboolean ok;

    ok = vmiQemuLogWaitHooked(log, timeout * 1000, &run, &err);
    if (waited)
        *waited = (g_get_monotonic_time() - t0) / 1e6;
    if (err) {
        g_propagate_prefixed_error(error, err, "introspection is required, and ");
    } else if (!ok) {
        where = vmiRequiredDescribeSource(def);
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "introspection is required (required='yes') and the tool did not hook "
                    "within the handshake timeout (%u s), so the guest is not resumed: %s%s%s",
                    timeout,
                    run.reason ? "QEMU said '" : run.connected ? "QEMU reached a tool at " :
                                 "QEMU could not reach a tool at ",
                    run.reason ? run.reason : where,
                    run.reason ? "'" : run.connected ? ", the handshake did not complete" : "");
    }
    vmiQemuLogRunClear(&run);
    return ok;
}
