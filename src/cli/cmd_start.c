/*
 * virt-vmi start DOMAIN, virt-vmi destroy DOMAIN
 */
#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"


static int
vmiCmdLifecycle(const vmiCliCommand *cmd, const vmiCliGlobal *global, int argc, char **argv,
                gboolean start)
{
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(cmd, NULL);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    GError *err = NULL;
    int rc;

    /* embedded mode: the start reads the key, writes the key file */
    if (start)
        vmiCliHoldsKey();
    if (!vmiCliOpenDomain(cmd, ctx, global, argc, argv, &conn, &dom, &rc))
        return rc;
    if (!(start ? vmiDomainStart(conn, dom, &err) : vmiDomainDestroy(conn, dom, &err)))
        return vmiCliFail(err);
    g_print("Domain '%s' %s\n", dom->name, start ? "started" : "destroyed");
    return VMI_EXIT_OK;
}


static int
vmiCmdStartRun(const vmiCliGlobal *global, int argc, char **argv)
{
    return vmiCmdLifecycle(&vmiCmdStart, global, argc, argv, TRUE);
}


static int
vmiCmdDestroyRun(const vmiCliGlobal *global, int argc, char **argv)
{
    return vmiCmdLifecycle(&vmiCmdDestroy, global, argc, argv, FALSE);
}


const vmiCliCommand vmiCmdStart = {
    "start", "DOMAIN",
    "Start a domain (embedded mode: with the hook's work)",
    "Start DOMAIN, as 'virsh start'. With the embedded driver\n"
    "(-c 'qemu:///embed?root=DIR'), which runs no hooks, first do what the\n"
    "libvirt hook does in daemon mode: check the element, its arguments,\n"
    "the key secret and the emulator, and write the per-run key file.",
    vmiCmdStartRun,
};

const vmiCliCommand vmiCmdDestroy = {
    "destroy", "DOMAIN",
    "Stop a domain at once (embedded mode: with clean-up)",
    "Stop DOMAIN at once, as 'virsh destroy'. With the embedded driver,\n"
    "also remove its per-run key file, as the hook does in daemon mode.",
    vmiCmdDestroyRun,
    VMI_DOMAIN_LOAD_ANY,
};
