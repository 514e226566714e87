/*
 * vmi_settings.h: /etc/libvirt-vmi/libvirt-vmi.conf
 */
#pragma once

#include <glib.h>

#include "core/vmi_paths.h"

typedef struct {
    char *hookURI;      /* the daemon the hook reads key secrets from */
} vmiSettings;

void vmiSettingsFree(vmiSettings *settings);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmiSettings, vmiSettingsFree)

vmiSettings *vmiSettingsLoad(const char *path, GError **error);

char *vmiSettingsQemuDACLabel(const char *qemuConf, GError **error);
gboolean vmiSettingsSaveHookURI(const char *path, const char *uri, GError **error);
