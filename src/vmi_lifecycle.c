/*
 * vmi_lifecycle.c: checks before a start, the key file, clean-up
 */
#include "vmi_lifecycle.h"
#include "vmi_keyfile.h"
#include "vmi_probe.h"
#include "vmi_secret.h"
#include "vmi_sync.h"
#include "conf/vmi_error.h"


/*
 * Everything that would make the start fail, or run the domain with less
 * than it asks for, found before QEMU starts: arguments out of step with
 * the element, the key secret, and what the emulator's introspection
 * object can do. @def NULL: the domain has no element (then it must not
 * have our arguments either).
 */
gboolean
vmiLifecycleCheck(const vmiLifecycle *lc, vmiDomainXML *dom, const vmiDef *def,
                  GError **error)
{
    g_autofree char *emulator = vmiDomainXMLGetEmulator(dom);
    g_auto(GStrv) env = vmiDomainXMLGetQemuEnv(dom);
    vmiProbeResult result;

    if (!vmiSyncCheck(dom, def, lc->keyDir, dom->name ? dom->name : "DOMAIN", error))
        return FALSE;
    if (!def)
        return TRUE;
    if (def->keySecret && !vmiSecretCheck(lc->conn, def->keySecret, error))
        return FALSE;

    if (!emulator) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_UNSUPPORTED,
                    "the domain has no <emulator>: introspection needs one with the "
                    "introspection object");
        return FALSE;
    }
    return vmiProbeEmulator(emulator, (const char *const *)env, lc->cacheDir, &result, error) &&
           vmiProbeCheckDef(emulator, result, def, error);
}


/* The per-run key file, readable only by @dacLabel, QEMU's user:group. */
gboolean
vmiLifecycleWriteKey(const vmiLifecycle *lc, vmiDomainXML *dom, const vmiDef *def,
                     const char *dacLabel, GError **error)
{
    g_autoptr(vmiKey) key = NULL;
    uid_t uid = 0;
    gid_t gid = 0;

    if (!def->keySecret)
        return TRUE;
    if (dacLabel && !vmiParseDACLabel(dacLabel, &uid, &gid, error))
        return FALSE;
    if (!(key = vmiSecretGetKey(lc->conn, def->keySecret, error)))
        return FALSE;
    return vmiKeyFileWrite(lc->keyDir, dom->uuid, key, uid, gid, error);
}


gboolean
vmiLifecycleCleanUp(const vmiLifecycle *lc, const char *domUUID, GError **error)
{
    return vmiKeyFileRemove(lc->keyDir, domUUID, error);
}
