/*
 * vmi_lifecycle.c: checks before a start, the key file, clean-up
 *
 *   check     arguments in step with the element, emulator able to do
 *             what the element asks
 *   prepare   check, then the key (which must be readable) and its file,
 *             root's until QEMU's user is known
 *   hand over the key file to QEMU's user (libvirt's DAC label)
 *   clean up  the key file goes
 */
#include "core/vmi_lifecycle.h"
#include "core/qemu_vmi.h"
#include "core/vmi_keyfile.h"
#include "core/vmi_probe.h"
#include "core/vmi_sync.h"
#include "conf/vmi_error.h"


static vmiKey *
vmiLifecycleFetchKey(const vmiLifecycle *lc, const vmiDef *def, GError **error)
{
    return lc->fetchKey(lc->opaque, def->keySecret, error);
}


static gboolean
vmiLifecycleCheckEmulator(const vmiLifecycle *lc, vmiDomainXML *dom, const vmiDef *def,
                          GError **error)
{
    g_autofree char *emulator = vmiDomainXMLGetEmulator(dom);
    vmiProbeResult result;
    gboolean (*probe)(const char *, const char *, const char *, vmiProbeResult *, GError **) =
        lc->probe ? lc->probe : vmiProbeEmulator;

    if (!emulator) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_UNSUPPORTED,
                    "the domain has no <emulator>: introspection needs one with the "
                    "introspection object");
        return FALSE;
    }
    return probe(emulator, lc->qemuLabel, lc->cacheDir, &result, error) &&
           vmiProbeCheckDef(emulator, result, def, error);
}


/*
 * Everything that would make the start fail, or run the domain with less
 * than it asks for, found before QEMU starts: arguments out of step with
 * the element, the key secret (only when @key asks for it), and what the
 * emulator's introspection object can do. @def NULL: the domain has no
 * element, and is left alone, whatever its <qemu:commandline> has.
 *
 * The key is read once per start: `migrate begin` and `restore begin`
 * are followed by `prepare begin` in the same operation, before QEMU runs
 * and before a migration's source is asked to unhook, and that one reads
 * it (without virt-vmid, by loading libvirt in a helper: the largest part
 * of a hook's run).
 */
static gboolean
vmiLifecycleCheckAll(const vmiLifecycle *lc, vmiDomainXML *dom, const vmiDef *def,
                     vmiKey **key, GError **error)
{
    g_autoptr(vmiKey) fetched = NULL;

    if (!def)
        return TRUE;
    if (!vmiSyncCheck(dom, def, lc->keyDir, dom->name ? dom->name : "DOMAIN", error))
        return FALSE;
    if (key && def->keySecret && !(fetched = vmiLifecycleFetchKey(lc, def, error)))
        return FALSE;
    if (!vmiLifecycleCheckEmulator(lc, dom, def, error))
        return FALSE;
    if (key)
        *key = g_steal_pointer(&fetched);
    return TRUE;
}


gboolean
vmiLifecycleCheck(const vmiLifecycle *lc, vmiDomainXML *dom, const vmiDef *def,
                  GError **error)
{
    return vmiLifecycleCheckAll(lc, dom, def, NULL, error);
}


/*
 * The check, then the key file. QEMU's user is not known yet (libvirt
 * labels the domain later), so the file is root's until handed over.
 */
gboolean
vmiLifecyclePrepare(const vmiLifecycle *lc, vmiDomainXML *dom, const vmiDef *def,
                    GError **error)
{
    g_autoptr(vmiKey) key = NULL;

    if (!vmiLifecycleCheckAll(lc, dom, def, &key, error))
        return FALSE;
    return !key || vmiKeyFileWrite(lc->keyDir, dom->uuid, key, error);
}


/* The key file becomes readable by @dacLabel, QEMU's user:group, only. */
gboolean
vmiLifecycleHandOver(const vmiLifecycle *lc, vmiDomainXML *dom, const vmiDef *def,
                     const char *dacLabel, GError **error)
{
    uid_t uid = 0;
    gid_t gid = 0;
    g_autofree char *selinuxLabel = NULL;

    if (!def || !def->keySecret)
        return TRUE;
    if (dacLabel && !vmiParseDACLabel(dacLabel, &uid, &gid, error))
        return FALSE;
    if (!vmiKeyFileChown(lc->keyDir, dom->uuid, uid, gid, error))
        return FALSE;
    /* on an SELinux host, the domain's file label, as libvirt gives its disks */
    if ((selinuxLabel = vmiDomainXMLGetSELinuxImageLabel(dom)))
        return vmiKeyFileSetLabel(lc->keyDir, dom->uuid, selinuxLabel, error);
    return TRUE;
}


gboolean
vmiLifecycleCleanUp(const vmiLifecycle *lc, const char *domUUID, GError **error)
{
    return vmiKeyFileRemove(lc->keyDir, domUUID, error);
}


/*
 * A fresh definition (the element, none of our arguments) that starts
 * without them, for virt-vmid to attach live once QEMU runs: what that
 * attach needs, checked before the start as a start's check would: an
 * emulator able to do what the element asks, and objects QMP can create
 * (no allow-list of several ids). The key is the daemon's to read.
 */
gboolean
vmiLifecycleCheckAttachable(const vmiLifecycle *lc, vmiDomainXML *dom, const vmiDef *def,
                            GError **error)
{
    return vmiQemuDefHasQmpForm(def, dom->uuid, lc->keyDir, error) &&
           vmiLifecycleCheckEmulator(lc, dom, def, error);
}


/*
 * Before a live attach to a running domain: what the emulator can do,
 * then the key file QEMU's secret object reads, written as at a start and
 * handed at once to @dacLabel (the running QEMU's user:group). @dom is the
 * live definition; its arguments are not checked, QEMU already runs.
 */
gboolean
vmiLifecyclePrepareLive(const vmiLifecycle *lc, vmiDomainXML *dom, const vmiDef *def,
                        const char *dacLabel, GError **error)
{
    g_autoptr(vmiKey) key = NULL;

    if (!vmiLifecycleCheckEmulator(lc, dom, def, error))
        return FALSE;
    if (!def->keySecret)
        return TRUE;
    if (!(key = vmiLifecycleFetchKey(lc, def, error)) ||
        !vmiKeyFileWrite(lc->keyDir, dom->uuid, key, error))
        return FALSE;
    if (!vmiLifecycleHandOver(lc, dom, def, dacLabel, error)) {
        vmiKeyFileRemove(lc->keyDir, dom->uuid, NULL);
        return FALSE;
    }
    return TRUE;
}
