/*
 * virt-vmi key-create DOMAIN: a random key in a new libvirt secret
 */
#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"


static int
vmiCmdKeyCreateRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdKeyCreate, NULL);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiKey) key = NULL;
    g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *uuid = NULL;
    GError *err = NULL;
    int rc;

    vmiCliHoldsKey();
    if (!vmiCliOpenDomain(&vmiCmdKeyCreate, ctx, global, argc, argv, &conn, &dom, &rc))
        return rc;
    if (!(key = vmiKeyNewRandom(&err)) ||
        !(uuid = vmiDomainAddKey(conn, dom, key, changes, &err)))
        return vmiCliFail(err);
    g_print("Domain '%s': new %zu-byte key in secret %s\n", dom->name, key->len, uuid);
    vmiCliReportChanges(dom, dom->name, changes);
    return VMI_EXIT_OK;
}


const vmiCliCommand vmiCmdKeyCreate = {
    "key-create", "DOMAIN",
    "Authenticate the tool with a new random key",
    "Make a random 32-byte key, keep it in a new libvirt secret (usage tls,\n"
    "name libvirt-vmi/DOMAIN-UUID) and name that secret in DOMAIN's\n"
    "<vmi:key>. The tool must answer the handshake with the key's SHA-1\n"
    "(virt-vmi key-hash --show-cookie prints it). The key is never printed.",
    vmiCmdKeyCreateRun,
};
