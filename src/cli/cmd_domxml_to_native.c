/*
 * virt-vmi domxml-to-native [--key-dir DIR] [--uuid UUID] FILE
 */
#include "vmi_cli.h"
#include "vmi_load.h"
#include "core/qemu_vmi.h"


static int
vmiCmdDomxmlToNativeRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autofree char *keyDir = NULL;
    g_autofree char *uuid = NULL;
    const GOptionEntry entries[] = {
        { "key-dir", 0, 0, G_OPTION_ARG_FILENAME, &keyDir,
          "Directory of the per-run key files (default " VMI_KEY_DIR_DEFAULT ")", "DIR" },
        { "uuid", 0, 0, G_OPTION_ARG_STRING, &uuid,
          "The domain's UUID, for a bare <vmi:introspection> element", "UUID" },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdDomxmlToNative, entries);
    g_autoptr(vmiLoaded) loaded = NULL;
    g_auto(GStrv) args = NULL;
    GError *err = NULL;
    size_t i;
    int rc;

    if (!vmiCliParseOptions(ctx, &argc, &argv, &rc))
        return rc;
    if (argc != 2)
        return vmiCliUsage(ctx, "domxml-to-native takes exactly one FILE");
    if (keyDir && !g_path_is_absolute(keyDir))
        return vmiCliUsage(ctx, "invalid value '%s' for option '--key-dir': expected an absolute path",
                           keyDir);

    if (!(loaded = vmiLoadFile(argv[1], &err)) ||
        !vmiLoadedSetUUID(loaded, uuid, &err))
        return vmiCliFail(err);

    args = vmiQemuBuildArgs(loaded->def, loaded->uuid, keyDir);
    for (i = 0; args[i] && args[i + 1]; i += 2)
        g_print("%s %s\n", args[i], args[i + 1]);
    return VMI_EXIT_OK;
}


const vmiCliCommand vmiCmdDomxmlToNative = {
    "domxml-to-native", "[--key-dir DIR] [--uuid UUID] FILE",
    "Print the QEMU arguments for the element",
    "Print the QEMU arguments generated for the <vmi:introspection> element\n"
    "of a domain XML FILE (or of a bare element, with --uuid), one option\n"
    "and its value per line. The key itself never appears: QEMU reads it\n"
    "from DIR/DOMAIN-UUID/key, written only while the domain runs.",
    vmiCmdDomxmlToNativeRun,
};
