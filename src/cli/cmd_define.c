/*
 * virt-vmi define FILE: define a whole domain carrying the element
 */
#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"
#include "vmi_load.h"


static int
vmiCmdDefineRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdDefine, NULL);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiLoaded) loaded = NULL;
    g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *name = NULL;
    GError *err = NULL;
    int rc;

    if (!vmiCliParseOptions(ctx, &argc, &argv, &rc))
        return rc;
    if (argc != 2)
        return vmiCliUsage(ctx, "define takes exactly one FILE");

    if (!(loaded = vmiLoadFile(argv[1], &err)) ||
        !(conn = vmiConnOpen(global->uri, &err)) ||
        !(name = vmiDomainDefine(conn, loaded->dom, loaded->def, argv[1], changes, &err)))
        return vmiCliFail(err);
    g_print("Domain '%s' defined from %s\n", name, argv[1]);
    vmiCliReportChanges(NULL, name, changes);
    return VMI_EXIT_OK;
}


const vmiCliCommand vmiCmdDefine = {
    "define", "FILE",
    "Define a domain from an XML file carrying the element",
    "Define (or redefine) the domain of FILE, a domain XML whose <metadata>\n"
    "carries <vmi:introspection>, as 'virsh define' does, with the QEMU\n"
    "arguments the element needs put into its <qemu:commandline> first. The\n"
    "element is validated, and a <vmi:key> must name an existing secret.",
    vmiCmdDefineRun,
};
