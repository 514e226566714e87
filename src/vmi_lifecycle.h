/*
 * vmi_lifecycle.h: what has to happen around a domain's start and stop,
 * shared by the libvirt hook (daemon mode) and virt-vmi start/destroy
 * (embedded mode)
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "conf/vmi_domain_xml.h"

typedef struct {
    virConnectPtr conn;     /* to read key secrets */
    const char *keyDir;
    const char *cacheDir;   /* emulator probe results; NULL: no cache */
} vmiLifecycle;

gboolean vmiLifecycleCheck(const vmiLifecycle *lc, vmiDomainXML *dom,
                           const vmiDef *def, GError **error);
gboolean vmiLifecycleWriteKey(const vmiLifecycle *lc, vmiDomainXML *dom,
                              const vmiDef *def, const char *dacLabel, GError **error);
gboolean vmiLifecycleCleanUp(const vmiLifecycle *lc, const char *domUUID, GError **error);
