/*
 * virt-vmi key-hash DOMAIN: the cookie the tool must send
 */
#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"


static int
vmiCmdKeyHashRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdKeyHash, NULL);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiKey) key = NULL;
    g_autofree char *hash = NULL;
    GError *err = NULL;
    int rc;

    if (!vmiCliOpenDomain(&vmiCmdKeyHash, ctx, global, argc, argv, &conn, &dom, &rc))
        return rc;
    if (!(key = vmiDomainGetKey(conn, dom, &err)))
        return vmiCliFail(err);
    hash = vmiKeyHashHex(key);
    g_print("%s\n", hash);
    return VMI_EXIT_OK;
}


const vmiCliCommand vmiCmdKeyHash = {
    "key-hash", "DOMAIN",
    "Print the SHA-1 cookie the tool must send",
    "Print, in hex, the SHA-1 of DOMAIN's key: the cookie_hash the\n"
    "introspection tool must send in the handshake, for tools configured\n"
    "with a hash instead of the key (vmi-tool --key-hash).",
    vmiCmdKeyHashRun,
};
