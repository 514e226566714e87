/*
 * vmi_apparmor.h: the AppArmor rules a confined QEMU needs for
 * <vmi:introspection>, and where they go on a Debian/Ubuntu host
 */
#pragma once

#include <glib.h>

#include "conf/vmi_conf.h"

#define VMI_APPARMOR_DIR "/etc/apparmor.d"
/* Debian's libvirt-daemon-system: the rules every domain's profile includes */
#define VMI_APPARMOR_LIBVIRT_QEMU "abstractions/libvirt-qemu"
/* ... and the file that abstraction includes for site additions */
#define VMI_APPARMOR_LOCAL "local/abstractions/libvirt-qemu"
/* ours: the rules, and the one line the local file gets to include them */
#define VMI_APPARMOR_RULES "abstractions/libvirt-vmi"
#define VMI_APPARMOR_INCLUDE "include if exists <" VMI_APPARMOR_RULES ">"

char *vmiAppArmorQuotePath(const char *path, GError **error);
char *vmiAppArmorRules(const char *keyDir, GPtrArray *defs, GError **error);

typedef enum {
    VMI_APPARMOR_NO_LIBVIRT,    /* libvirt's profiles are not installed: nothing to do */
    VMI_APPARMOR_MISSING,       /* our rules or the include line are missing */
    VMI_APPARMOR_STALE,         /* our rules are not what the domains need now */
    VMI_APPARMOR_IN_PLACE,
} vmiAppArmorState;

vmiAppArmorState vmiAppArmorGetState(const char *aaDir, const char *rules);
gboolean vmiAppArmorInstall(const char *aaDir, const char *rules, GError **error);
gboolean vmiAppArmorAddSource(const char *aaDir, const char *keyDir, const vmiDef *def,
                              GError **error);
gboolean vmiAppArmorKernelEnabled(void);
