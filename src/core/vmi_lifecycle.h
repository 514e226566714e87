/*
 * vmi_lifecycle.h: what has to happen around a domain's start and stop,
 * shared by the libvirt hook (daemon mode) and virt-vmi start/destroy
 * (embedded mode)
 */
#pragma once

#include <glib.h>

#include "conf/vmi_domain_xml.h"
#include "core/vmi_key.h"
#include "core/vmi_probe.h"

/* Reads the key a libvirt secret holds: in-process, or through a helper. */
typedef vmiKey *(*vmiKeyFetchFunc)(gpointer opaque, const char *secretUUID, GError **error);

typedef struct {
    vmiKeyFetchFunc fetchKey;
    gpointer opaque;
    const char *keyDir;
    const char *cacheDir;   /* emulator probe results; NULL: no cache */
    const char *qemuLabel;  /* QEMU's DAC label, user:group: the probe runs as it */
    /* how the emulator is probed; NULL: vmiProbeEmulator (the fuzzing
     * harness of the hook runs none) */
    gboolean (*probe)(const char *emulator, const char *dacLabel, const char *cacheDir,
                      vmiProbeResult *result, GError **error);
} vmiLifecycle;

gboolean vmiLifecycleCheck(const vmiLifecycle *lc, vmiDomainXML *dom,
                           const vmiDef *def, GError **error);
gboolean vmiLifecyclePrepare(const vmiLifecycle *lc, vmiDomainXML *dom,
                             const vmiDef *def, GError **error);
gboolean vmiLifecycleHandOver(const vmiLifecycle *lc, vmiDomainXML *dom,
                              const vmiDef *def, const char *dacLabel, GError **error);
gboolean vmiLifecycleCheckAttachable(const vmiLifecycle *lc, vmiDomainXML *dom,
                                     const vmiDef *def, GError **error);
gboolean vmiLifecyclePrepareLive(const vmiLifecycle *lc, vmiDomainXML *dom,
                                 const vmiDef *def, const char *dacLabel, GError **error);
gboolean vmiLifecycleCleanUp(const vmiLifecycle *lc, const char *domUUID, GError **error);
