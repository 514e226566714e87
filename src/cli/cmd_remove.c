/*
 * virt-vmi remove DOMAIN: drop the element and its arguments
 */
#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"


static int
vmiCmdRemoveRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdRemove, NULL);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);
    GError *err = NULL;
    int rc;

    if (!vmiCliOpenDomain(&vmiCmdRemove, ctx, global, argc, argv, &conn, &dom, &rc))
        return rc;
    if (!vmiDomainApply(conn, dom, NULL, changes, &err))
        return vmiCliFail(err);
    vmiCliReportChanges(dom, dom->name, changes);
    return VMI_EXIT_OK;
}


const vmiCliCommand vmiCmdRemove = {
    "remove", "DOMAIN",
    "Stop introspecting a domain",
    "Remove the <vmi:introspection> element from DOMAIN's persistent\n"
    "definition, and the QEMU arguments libvirt-vmi put in its\n"
    "<qemu:commandline>; the user's own arguments stay. The key secret is\n"
    "kept (virsh secret-undefine removes it).",
    vmiCmdRemoveRun,
};
