/*
 * qemu_vmi.h: what QEMU's introspection object is given
 *
 * The KVMI QEMU is based on QEMU 5.0, so arguments use the key=value
 * syntax (not JSON). The key never appears in them: QEMU reads it from
 * a per-run file named by a `secret` object.
 */
#pragma once

#include <glib.h>

#include "conf/vmi_conf.h"
#include "core/vmi_paths.h"

#define VMI_QEMU_CHARDEV_ID "charvmi0"
#define VMI_QEMU_OBJECT_ID "vmi0"
#define VMI_QEMU_SECRET_ID "vmi0-key"

GStrv vmiQemuBuildArgs(const vmiDef *def, const char *domainUUID,
                       const char *keyDir);
gboolean vmiQemuArgIsOurs(const char *option, const char *value);
