/*
 * vmi_domain_sync.c: bring one domain's <qemu:commandline> in step with
 * its element: what `virt-vmi sync` and virt-vmid do for each domain
 */
#include "libvirt/vmi_domain_sync.h"


vmiSyncResult
vmiDomainSync(vmiConn *conn, const char *name, vmiDomain **loaded, GPtrArray *changes,
              GError **error)
{
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    guint before = changes->len;
    vmiSyncResult result;

    if (!(dom = vmiDomainLoad(conn, name, 0, error)))
        return VMI_SYNC_FAILED;
    /* Without the element, leftover arguments of ours are removed. */
    if (dom->xml->vmi && !(def = vmiDomainGetDef(dom, error)))
        result = VMI_SYNC_INVALID;
    else if (!vmiDomainApply(conn, dom, def, changes, error))
        result = VMI_SYNC_FAILED;
    else
        result = changes->len > before ? VMI_SYNC_CHANGED : VMI_SYNC_IN_STEP;
    if (loaded)
        *loaded = g_steal_pointer(&dom);
    return result;
}
