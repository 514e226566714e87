/*
 * vmi_qmp.h: what QEMU's monitor says of the introspection chardev
 *
 * Apart from qemu_vmi.c, in a library of its own (vmiqmp): only the
 * libvirt layer asks QEMU's monitor, and the hook, which links the core
 * library, stays without a JSON parser.
 */
#pragma once

#include <glib.h>

typedef struct {
    gboolean found;         /* QEMU has the introspection chardev */
    gboolean connected;
    char *filename;
} vmiQmpChardevState;

gboolean vmiQmpParseChardevs(const char *reply, vmiQmpChardevState *state,
                             GError **error);

#include "core/qemu_vmi.h"

/* QMP commands of a live attach and detach, made from vmiQemuBuildObjects */
char *vmiQmpBuildAdd(const vmiQemuObject *obj, GError **error);
char *vmiQmpBuildRemove(const vmiQemuObject *obj);
char *vmiQmpBuildCommand(const char *execute, const char *argKey, const char *argValue);

char *vmiQmpParseMigrationStatus(const char *reply, GError **error);
gboolean vmiQmpParseReturn(const char *reply, const char *what, char **qemuError,
                           GError **error);
GHashTable *vmiQmpParseObjects(const char *reply, GError **error);
