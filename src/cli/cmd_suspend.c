/*
 * virt-vmi suspend DOMAIN, virt-vmi resume DOMAIN
 *
 * QEMU holds a pause back until the introspection tool has removed its
 * hooks, for at most the unhook timeout: suspend shows that wait.
 */
#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"
#include "vmi_progress.h"


static gboolean
vmiSuspendJob(gpointer opaque, GError **error)
{
    return vmiDomainSuspend(opaque, error);
}


static int
vmiCmdSuspendRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdSuspend, NULL);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    g_autofree char *what = NULL;
    GError *err = NULL;
    double elapsed, limit = 0;
    int rc;

    if (!vmiCliOpenDomain(&vmiCmdSuspend, ctx, global, argc, argv, &conn, &dom, &rc))
        return rc;

    if (dom->xml->vmi && (def = vmiDomainGetDef(dom, NULL))) {
        limit = vmiDefUnhookTimeout(def);
        what = g_strdup_printf("Suspending '%s': waiting for the introspection tool to unhook",
                               dom->name);
    } else {
        what = g_strdup_printf("Suspending '%s'", dom->name);
    }

    if (!vmiProgressRun(what, limit, vmiSuspendJob, dom, &elapsed, &err))
        return vmiCliFail(err);
    if (limit > 0 && elapsed >= limit)
        g_print("Domain '%s' suspended after %.2f s: the tool did not unhook within the "
                "unhook timeout (%.0f s), so QEMU cut its connection\n", dom->name, elapsed, limit);
    else if (limit > 0)
        g_print("Domain '%s' suspended after %.2f s, once the introspection tool unhooked\n",
                dom->name, elapsed);
    else
        g_print("Domain '%s' suspended\n", dom->name);
    return VMI_EXIT_OK;
}


static int
vmiCmdResumeRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdResume, NULL);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    GError *err = NULL;
    int rc;

    if (!vmiCliOpenDomain(&vmiCmdResume, ctx, global, argc, argv, &conn, &dom, &rc))
        return rc;
    if (!vmiDomainResume(dom, &err))
        return vmiCliFail(err);
    g_print("Domain '%s' resumed: the introspection tool may connect again\n", dom->name);
    return VMI_EXIT_OK;
}


const vmiCliCommand vmiCmdSuspend = {
    "suspend", "DOMAIN",
    "Pause a domain, showing the wait for the tool's unhook",
    "Pause DOMAIN, as 'virsh suspend'. QEMU first asks the introspection\n"
    "tool to remove its hooks and waits until it closes its connection, at\n"
    "most the unhook timeout: on a terminal, the wait is shown.",
    vmiCmdSuspendRun,
    VMI_DOMAIN_LOAD_ANY,
};

const vmiCliCommand vmiCmdResume = {
    "resume", "DOMAIN",
    "Resume a paused domain",
    "Resume DOMAIN, as 'virsh resume'. QEMU lets the introspection tool\n"
    "connect again.",
    vmiCmdResumeRun,
    VMI_DOMAIN_LOAD_ANY,
};
