/*
 * vmi_paths.h: where libvirt-vmi's files and programs are on a host
 *
 * The hook's directory and name come from meson (vmi_config.h), which
 * also installs the link there.
 */
#pragma once

#include <glib.h>

#include "vmi_config.h"

/* the daemon a command talks to when not told (-c URI) */
#define VMI_DEFAULT_URI "qemu:///system"

#define VMI_HOOK_PATH VMI_HOOK_DIR "/" VMI_HOOK_NAME
#define VMI_HOOK_BINARY "libvirt-vmi-hook"
#define VMI_HOOK_KEY_HELPER "libvirt-vmi-hook-key"

/* the per-run key files of the system driver (vmi_keyfile.h) */
#define VMI_KEY_DIR_DEFAULT "/run/libvirt-vmi"
#define VMI_SETTINGS_FILE "/etc/libvirt-vmi/libvirt-vmi.conf"
#define VMI_CACHE_DIR "/var/cache/libvirt-vmi"
/* libvirt's QEMU driver configuration: the user and group QEMU runs as */
#define VMI_QEMU_CONF "/etc/libvirt/qemu.conf"

/* where libvirt's system QEMU driver keeps each domain's log, NAME.log */
#define VMI_QEMU_LOG_DIR "/var/log/libvirt/qemu"

/* virt-vmid's, beside the key files: both are the daemon's run state */
#define VMI_VMID_PID_FILE VMI_KEY_DIR_DEFAULT "/virt-vmid.pid"
#define VMI_VMID_SOCKET VMI_KEY_DIR_DEFAULT "/virt-vmid.sock"
/* the domains it promised the hook to attach at their start (vmid_marks.h) */
#define VMI_VMID_MARKS_DIR VMI_KEY_DIR_DEFAULT "/attach-at-start"

char *vmiFindSibling(const char *self, const char *name);
