/*
 * virt-vmi key-import DOMAIN --file F: an operator's key in a new secret
 */
#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"


static int
vmiCmdKeyImportRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autofree char *file = NULL;
    const GOptionEntry entries[] = {
        { "file", 0, 0, G_OPTION_ARG_FILENAME, &file,
          "The key: all the bytes of a regular file, as QEMU reads a raw secret, "
          "or '-' for standard input", "FILE" },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdKeyImport, entries);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiKey) key = NULL;
    g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *uuid = NULL;
    GError *err = NULL;
    int rc;

    vmiCliHoldsKey();
    if (!vmiCliParseOptions(ctx, &argc, &argv, &rc))
        return rc;
    if (argc != 2)
        return vmiCliUsage(ctx, "key-import takes exactly one DOMAIN");
    if (!file)
        return vmiCliUsage(ctx, "key-import needs --file FILE");

    if (!(key = vmiKeyReadFile(file, &err))) {
        g_prefix_error(&err, "option '--file': ");
        return vmiCliFail(err);
    }
    if (!(conn = vmiConnOpen(global->uri, &err)) ||
        !(dom = vmiDomainLoad(conn, argv[1], 0, &err)) ||
        !(uuid = vmiDomainAddKey(conn, dom, key, changes, &err)))
        return vmiCliFail(err);
    g_print("Domain '%s': %zu-byte key from %s in new secret %s\n",
            dom->name, key->len, g_str_equal(file, "-") ? "standard input" : file, uuid);
    vmiCliReportChanges(dom, dom->name, changes);
    return VMI_EXIT_OK;
}


const vmiCliCommand vmiCmdKeyImport = {
    "key-import", "DOMAIN --file FILE",
    "Authenticate the tool with a key you have",
    "Keep the key in FILE (all its bytes, a trailing newline included, as\n"
    "QEMU reads a raw secret file) in a new libvirt secret and name that\n"
    "secret in DOMAIN's <vmi:key>. FILE must be a regular file; '-' reads\n"
    "the key from standard input (a pipe keeps it off the disk).",
    vmiCmdKeyImportRun,
};
