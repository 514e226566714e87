/*
 * emu_object.h: the `introspection` object's properties and their checks
 *
 * The same object comes from `-object introspection,...` (QemuOpts text)
 * and from QMP `object-add` (JSON): each property is set as QEMU's visitors
 * would set it, with QEMU's messages, and the allow-list properties behave
 * as the selected compatibility mode says (see emuCompat).
 */
#pragma once

#include <glib.h>
#include <yajl/yajl_tree.h>

#include "emu_opts.h"
#include "conf/vmi_enum.h"

typedef enum {
    /* The seed's interface: every command=/event= adds to the list. */
    EMU_COMPAT_DOCUMENTED,
    /* The published fork: command=/event= have no setter at all. */
    EMU_COMPAT_FORK_READONLY,
    /* The published fork with the setter fixed: the option parser keeps
     * only the last command= and the last event=. */
    EMU_COMPAT_FORK_LAST_KEY,

    EMU_COMPAT_LAST
} emuCompat;

VMI_ENUM_DECL(emuCompat);

#define EMU_OBJECT_TYPE "introspection"

typedef struct {
    char *id;
    char *chardev;
    char *key;
    guint32 handshakeTimeout;   /* seconds */
    guint32 unhookTimeout;      /* seconds */
    gboolean asyncUnhook;
    gboolean unhookOnShutdown;
    GArray *commands;           /* guint32; empty: all allowed */
    GArray *events;             /* guint32; empty: all allowed */
} emuObject;

emuObject *emuObjectNew(const char *id);
void emuObjectFree(emuObject *obj);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(emuObject, emuObjectFree);

/* QEMU's own errors come back as these, with the exact text. */
#define EMU_ERROR (emuErrorQuark())
GQuark emuErrorQuark(void);
typedef enum {
    EMU_ERROR_FAILED,        /* GenericError */
    EMU_ERROR_NOT_FOUND,     /* DeviceNotFound */
} emuErrorCode;

/* Sets one property from command line text / from a QMP JSON value. */
gboolean emuObjectSetText(emuObject *obj, emuCompat compat, const char *name,
                          const char *value, GError **error);
gboolean emuObjectSetJson(emuObject *obj, emuCompat compat, const char *name,
                          yajl_val value, GError **error);

/* The `-object introspection,...` option: id and properties, in the order
 * and with the repeats the compatibility mode gives. @hint gets QEMU's
 * error hint, if any. */
emuObject *emuObjectFromOpts(const emuOpts *opts, emuCompat compat,
                             char **hint, GError **error);

/* The object's own check when it is completed (count: how many
 * introspection objects exist, this one included). */
gboolean emuObjectComplete(const emuObject *obj, guint count, GError **error);

/* "introspection options:" as `-object introspection,help` prints it. */
char *emuObjectHelp(void);

/* The QOM view: property names and types ("string", "uint32", "bool"). */
typedef struct {
    const char *name;
    const char *type;
} emuObjectProp;
const emuObjectProp *emuObjectProps(guint *count);

gboolean emuObjectCommandAllowed(const emuObject *obj, guint id);
gboolean emuObjectEventAllowed(const emuObject *obj, guint id);
