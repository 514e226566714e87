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

typedef enum {
    VMI_QEMU_PROP_STRING,
    VMI_QEMU_PROP_UINT,     /* QEMU reads a uint32 (over QMP: a JSON number) */
} vmiQemuPropType;

typedef struct {
    const char *key;
    vmiQemuPropType type;
    char *value;            /* as on the command line, before comma doubling */
} vmiQemuProp;

/* One -chardev or -object: what both the arguments and QMP are made of */
typedef struct {
    const char *option;     /* "-chardev" or "-object" */
    const char *type;       /* the chardev backend or the QOM type */
    const char *id;
    GArray *props;          /* of vmiQemuProp, in argument order; keys may repeat */
} vmiQemuObject;

void vmiQemuObjectFree(vmiQemuObject *obj);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmiQemuObject, vmiQemuObjectFree)

GPtrArray *vmiQemuBuildObjects(const vmiDef *def, const char *domainUUID,
                               const char *keyDir);
gboolean vmiQemuObjectHasQmpForm(const vmiQemuObject *obj, GError **error);
gboolean vmiQemuDefHasQmpForm(const vmiDef *def, const char *domainUUID, const char *keyDir,
                              GError **error);
GStrv vmiQemuBuildArgs(const vmiDef *def, const char *domainUUID,
                       const char *keyDir);
gboolean vmiQemuArgIsOurs(const char *option, const char *value);
