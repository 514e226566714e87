/*
 * virt-vmi validate FILE
 */
#include "vmi_cli.h"
#include "vmi_load.h"


static int
vmiCmdValidateRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdValidate, NULL);
    g_autoptr(vmiLoaded) loaded = NULL;
    GError *err = NULL;
    int rc;

    if (!vmiCliParseOptions(ctx, &argc, &argv, &rc))
        return rc;
    if (argc != 2)
        return vmiCliUsage(ctx, "validate takes exactly one FILE");

    if (!(loaded = vmiLoadFile(argv[1], &err)))
        return vmiCliFail(err);

    g_print("%s validates\n", argv[1]);
    return VMI_EXIT_OK;
}


const vmiCliCommand vmiCmdValidate = {
    "validate", "FILE",
    "Check a domain's <vmi:introspection> element",
    "Check the <vmi:introspection> element of a domain XML FILE (or a bare\n"
    "element) against the schema and the semantic rules. Exit status 0 when\n"
    "valid, 1 with the errors on standard error when not. FILE '-' reads\n"
    "standard input.",
    vmiCmdValidateRun,
};
