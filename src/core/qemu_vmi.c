/*
 * qemu_vmi.c: build the -chardev, -object secret and -object
 * introspection arguments for a <vmi:introspection> definition
 */

#include "core/qemu_vmi.h"
#include "core/vmi_keyfile.h"
#include "conf/vmi_error.h"
#include "conf/vmi_kvmi.h"


/* QEMU's option syntax: a comma inside a value is written twice. */
static void
vmiQemuAppendValue(GString *buf, const char *value)
{
    const char *p;

    for (p = value; *p; p++) {
        if (*p == ',')
            g_string_append_c(buf, ',');
        g_string_append_c(buf, *p);
    }
}


/*
 * The three objects, as a list of typed properties in argument order:
 * the one description both the command line arguments and the QMP
 * commands of a live attach are made from.
 */
static void
vmiQemuObjectAdd(vmiQemuObject *obj, const char *key, vmiQemuPropType type, char *value)
{
    vmiQemuProp prop = { key, type, value };

    g_array_append_val(obj->props, prop);
}


static void
vmiQemuPropClear(gpointer data)
{
    vmiQemuProp *prop = data;

    g_free(prop->value);
}


static vmiQemuObject *
vmiQemuObjectNew(const char *option, const char *type, const char *id)
{
    vmiQemuObject *obj = g_new0(vmiQemuObject, 1);

    obj->option = option;
    obj->type = type;
    obj->id = id;
    obj->props = g_array_new(FALSE, FALSE, sizeof(vmiQemuProp));
    g_array_set_clear_func(obj->props, vmiQemuPropClear);
    return obj;
}


void
vmiQemuObjectFree(vmiQemuObject *obj)
{
    if (!obj)
        return;
    g_array_unref(obj->props);
    g_free(obj);
}


static vmiQemuObject *
vmiQemuBuildChardev(const vmiDef *def)
{
    vmiQemuObject *obj = vmiQemuObjectNew("-chardev", "socket", VMI_QEMU_CHARDEV_ID);

    if (def->source.type == VMI_SOURCE_UNIX) {
        vmiQemuObjectAdd(obj, "path", VMI_QEMU_PROP_STRING, g_strdup(def->source.path));
    } else {
        vmiQemuObjectAdd(obj, "cid", VMI_QEMU_PROP_STRING,
                         g_strdup_printf("%u", def->source.cid));
        vmiQemuObjectAdd(obj, "port", VMI_QEMU_PROP_STRING,
                         g_strdup_printf("%u", def->source.port));
    }
    /* Always explicit: QEMU's introspection object refuses a chardev
     * without reconnect=N. */
    vmiQemuObjectAdd(obj, "reconnect", VMI_QEMU_PROP_UINT,
                     g_strdup_printf("%u", vmiDefReconnect(def)));
    return obj;
}


static vmiQemuObject *
vmiQemuBuildSecret(const char *keyDir, const char *domainUUID)
{
    vmiQemuObject *obj = vmiQemuObjectNew("-object", "secret", VMI_QEMU_SECRET_ID);

    vmiQemuObjectAdd(obj, "format", VMI_QEMU_PROP_STRING, g_strdup("raw"));
    vmiQemuObjectAdd(obj, "file", VMI_QEMU_PROP_STRING,
                     vmiKeyFilePath(keyDir ? keyDir : VMI_KEY_DIR_DEFAULT, domainUUID));
    return obj;
}


static void
vmiQemuAppendIds(vmiQemuObject *obj, const char *prop, guint64 bitmap)
{
    guint id;

    for (id = 0; id <= VMI_KVMI_MAX_ID; id++) {
        if (bitmap & (G_GUINT64_CONSTANT(1) << id))
            vmiQemuObjectAdd(obj, prop, VMI_QEMU_PROP_UINT, g_strdup_printf("%u", id));
    }
}


static vmiQemuObject *
vmiQemuBuildIntrospection(const vmiDef *def)
{
    vmiQemuObject *obj = vmiQemuObjectNew("-object", "introspection", VMI_QEMU_OBJECT_ID);

    vmiQemuObjectAdd(obj, "chardev", VMI_QEMU_PROP_STRING, g_strdup(VMI_QEMU_CHARDEV_ID));
    if (def->keySecret)
        vmiQemuObjectAdd(obj, "key", VMI_QEMU_PROP_STRING, g_strdup(VMI_QEMU_SECRET_ID));
    if (def->handshakeTimeout)
        vmiQemuObjectAdd(obj, "handshake_timeout", VMI_QEMU_PROP_UINT,
                         g_strdup_printf("%u", def->handshakeTimeout));
    if (def->unhookTimeout)
        vmiQemuObjectAdd(obj, "unhook_timeout", VMI_QEMU_PROP_UINT,
                         g_strdup_printf("%u", def->unhookTimeout));
    vmiQemuAppendIds(obj, "command", vmiDefEffectiveCommands(def));
    vmiQemuAppendIds(obj, "event", vmiDefEffectiveEvents(def));
    return obj;
}


/*
 * The chardev, the secret (if the element has a key) and the
 * introspection object, in the order QEMU has to create them.
 * @keyDir NULL means VMI_KEY_DIR_DEFAULT.
 */
GPtrArray *
vmiQemuBuildObjects(const vmiDef *def, const char *domainUUID, const char *keyDir)
{
    GPtrArray *objs = g_ptr_array_new_with_free_func((GDestroyNotify)vmiQemuObjectFree);

    g_ptr_array_add(objs, vmiQemuBuildChardev(def));
    if (def->keySecret)
        g_ptr_array_add(objs, vmiQemuBuildSecret(keyDir, domainUUID));
    g_ptr_array_add(objs, vmiQemuBuildIntrospection(def));
    return objs;
}


/* "TYPE,id=ID,KEY=VALUE..." */
static char *
vmiQemuFormatObject(const vmiQemuObject *obj)
{
    GString *buf = g_string_new(obj->type);
    guint i;

    g_string_append_printf(buf, ",id=%s", obj->id);
    for (i = 0; i < obj->props->len; i++) {
        const vmiQemuProp *prop = &g_array_index(obj->props, vmiQemuProp, i);

        g_string_append_printf(buf, ",%s=", prop->key);
        vmiQemuAppendValue(buf, prop->value);
    }
    return g_string_free(buf, FALSE);
}


/*
 * Returns the arguments as argv elements: option, value, option, value...
 * @keyDir NULL means VMI_KEY_DIR_DEFAULT.
 */
GStrv
vmiQemuBuildArgs(const vmiDef *def, const char *domainUUID, const char *keyDir)
{
    g_autoptr(GPtrArray) objs = vmiQemuBuildObjects(def, domainUUID, keyDir);
    GPtrArray *args = g_ptr_array_new_null_terminated(6, g_free, TRUE);
    guint i;

    for (i = 0; i < objs->len; i++) {
        const vmiQemuObject *obj = g_ptr_array_index(objs, i);

        g_ptr_array_add(args, g_strdup(obj->option));
        g_ptr_array_add(args, vmiQemuFormatObject(obj));
    }
    return (GStrv)g_ptr_array_free(args, FALSE);
}


/*
 * Whether an option/value pair is one this project generates, so that a
 * resync can replace ours and keep every argument the user added.
 */
gboolean
vmiQemuArgIsOurs(const char *option, const char *value)
{
    if (g_str_equal(option, "-chardev"))
        return g_str_has_prefix(value, "socket,id=" VMI_QEMU_CHARDEV_ID ",");
    if (g_str_equal(option, "-object"))
        return g_str_has_prefix(value, "secret,id=" VMI_QEMU_SECRET_ID ",") ||
               g_str_has_prefix(value, "introspection,id=" VMI_QEMU_OBJECT_ID ",");
    return FALSE;
}


/*
 * Whether QMP object-add can create @obj. A JSON object holds a key once,
 * and QEMU refuses a list ("Parameter 'command' expects uint64"): a
 * property the arguments repeat (a command=/event= allow-list of several
 * ids) has no QMP form.
 */
gboolean
vmiQemuObjectHasQmpForm(const vmiQemuObject *obj, GError **error)
{
    guint i, j;

    for (i = 0; i < obj->props->len; i++) {
        const vmiQemuProp *prop = &g_array_index(obj->props, vmiQemuProp, i);
        guint count = 0;

        for (j = 0; j < obj->props->len; j++)
            count += g_str_equal(g_array_index(obj->props, vmiQemuProp, j).key, prop->key);
        if (count > 1) {
            g_set_error(error, VMI_ERROR, VMI_ERROR_UNSUPPORTED,
                        "the %s object's allow-list has %u %s ids, and QMP object-add takes "
                        "one value per property (QEMU refuses a list): an allow-list of "
                        "several ids can only be given on QEMU's command line",
                        obj->type, count, prop->key);
            return FALSE;
        }
    }
    return TRUE;
}


/* Whether every object @def makes can be added live (vmiQemuObjectHasQmpForm). */
gboolean
vmiQemuDefHasQmpForm(const vmiDef *def, const char *domainUUID, const char *keyDir,
                     GError **error)
{
    g_autoptr(GPtrArray) objs = vmiQemuBuildObjects(def, domainUUID, keyDir);

    for (guint i = 0; i < objs->len; i++) {
        if (!vmiQemuObjectHasQmpForm(g_ptr_array_index(objs, i), error))
            return FALSE;
    }
    return TRUE;
}
