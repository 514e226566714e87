/*
 * vmi_settings.h: /etc/libvirt-vmi/libvirt-vmi.conf
 */
#pragma once

#include <glib.h>

#define VMI_SETTINGS_FILE "/etc/libvirt-vmi/libvirt-vmi.conf"
#define VMI_CACHE_DIR "/var/cache/libvirt-vmi"
#define VMI_QEMU_CONF "/etc/libvirt/qemu.conf"

typedef struct {
    char *hookURI;      /* the daemon the hook reads key secrets from */
} vmiSettings;

void vmiSettingsFree(vmiSettings *settings);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmiSettings, vmiSettingsFree)

vmiSettings *vmiSettingsLoad(const char *path, GError **error);

char *vmiSettingsQemuDACLabel(const char *qemuConf, GError **error);
