/*
 * vmi_probe.h: what an emulator's introspection object can do
 */
#pragma once

#include <glib.h>

#include "conf/vmi_conf.h"

typedef enum {
    VMI_PROBE_ENFORCED,     /* every repeated command=/event= counts */
    VMI_PROBE_READONLY,     /* command=/event= cannot be set at all */
    VMI_PROBE_LAST_ONLY,    /* only the last repeated key counts */
    VMI_PROBE_NO_OBJECT,    /* no introspection object: not a KVMI QEMU */

    VMI_PROBE_LAST
} vmiProbeResult;

VMI_ENUM_DECL(vmiProbeResult);
const char *vmiProbeResultDescribe(vmiProbeResult result);

/* @dacLabel: QEMU's "user:group" (libvirt's DAC label), the emulator runs as */
gboolean vmiProbeEmulator(const char *emulator, const char *dacLabel,
                          const char *cacheDir, vmiProbeResult *result,
                          GError **error);
gboolean vmiProbeHasObject(const char *emulator, const char *dacLabel, gboolean *has,
                           GError **error);
gboolean vmiProbeCheckDef(const char *emulator, vmiProbeResult result,
                          const vmiDef *def, GError **error);
