/*
 * virt-vmi get DOMAIN: print the element
 */
#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"


static int
vmiCmdGetRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdGet, NULL);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    g_autofree char *xml = NULL;
    GError *err = NULL;
    int rc;

    if (!vmiCliOpenDomain(&vmiCmdGet, ctx, global, argc, argv, &conn, &dom, &rc))
        return rc;
    if (!(def = vmiDomainGetDef(dom, &err)))
        return vmiCliFail(err);

    xml = vmiDefFormat(def);
    g_print("%s", xml);
    return VMI_EXIT_OK;
}


const vmiCliCommand vmiCmdGet = {
    "get", "DOMAIN",
    "Print a domain's <vmi:introspection> element",
    "Print the <vmi:introspection> element of DOMAIN's persistent definition,\n"
    "in canonical form. A domain without one, or with an invalid one, is an\n"
    "error.",
    vmiCmdGetRun,
};
