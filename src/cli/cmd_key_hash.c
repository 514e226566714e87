/*
 * virt-vmi key-hash DOMAIN --show-cookie: the cookie the tool must send
 *
 * The cookie (the SHA-1 of the key) is what QEMU checks: whoever has it
 * can introspect the guest, as with the key. So it is printed only when
 * asked for explicitly, with a warning.
 */
#include <string.h>

#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"


static int
vmiCmdKeyHashRun(const vmiCliGlobal *global, int argc, char **argv)
{
    gboolean show = FALSE;
    const GOptionEntry entries[] = {
        { "show-cookie", 0, 0, G_OPTION_ARG_NONE, &show,
          "Print the cookie, a secret as good as the key", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdKeyHash, entries);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiKey) key = NULL;
    g_autofree char *hash = NULL;
    GError *err = NULL;
    int rc;

    vmiCliHoldsKey();
    if (!vmiCliOpenDomain(&vmiCmdKeyHash, ctx, global, argc, argv, &conn, &dom, &rc))
        return rc;
    if (!(key = vmiDomainGetKey(conn, dom, &err)))
        return vmiCliFail(err);
    if (!show)
        return vmiCliUsage(ctx, "key-hash prints a secret: the cookie of domain '%s' lets "
                           "whoever has it introspect the guest, as the key does. Give "
                           "--show-cookie to print it anyway, best into a pipe (virt-vmi "
                           "key-hash %s --show-cookie | vmi-tool --key-hash-file /dev/stdin ...)",
                           dom->name, dom->name);
    hash = vmiKeyHashHex(key);
    g_printerr("warning: this is domain '%s''s introspection cookie, a secret: keep it out of "
               "command lines, logs and files others can read\n", dom->name);
    g_print("%s\n", hash);
    explicit_bzero(hash, strlen(hash));
    return VMI_EXIT_OK;
}


const vmiCliCommand vmiCmdKeyHash = {
    "key-hash", "DOMAIN --show-cookie",
    "Print the SHA-1 cookie the tool must send (a secret)",
    "Print, in hex, the SHA-1 of DOMAIN's key: the cookie_hash the\n"
    "introspection tool must send in the handshake, for tools configured\n"
    "with a hash instead of the key (vmi-tool --key-hash-file). The cookie\n"
    "is a secret as good as the key: it is printed only with --show-cookie,\n"
    "and with a warning on standard error.",
    vmiCmdKeyHashRun,
};
