/*
 * emu_object.c: the `introspection` object's properties and their checks
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "emu_object.h"
#include "conf/vmi_conf.h"

/* QEMU's QERR_* texts, as the object's properties produce them. */
#define EMU_QERR_PERMISSION_DENIED "Insufficient permission to perform this operation"

VMI_ENUM_IMPL(emuCompat, EMU_COMPAT_LAST,
              "documented",
              "fork-readonly",
              "fork-last-key");

/* Sorted by name, as QEMU lists them. */
static const emuObjectProp objectProps[] = {
    { "async_unhook", "bool" },
    { "chardev", "string" },
    { "command", "uint32" },
    { "event", "uint32" },
    { "handshake_timeout", "uint32" },
    { "key", "string" },
    { "unhook_on_shutdown", "bool" },
    { "unhook_timeout", "uint32" },
};

GQuark
emuErrorQuark(void)
{
    return g_quark_from_static_string("emu-error-quark");
}


emuObject *
emuObjectNew(const char *id)
{
    emuObject *obj = g_new0(emuObject, 1);

    obj->id = g_strdup(id);
    /* QEMU's defaults, which conf's table records */
    obj->handshakeTimeout = vmiAttrs[VMI_ATTR_TIMEOUTS_HANDSHAKE].defaultValue;
    obj->unhookTimeout = vmiAttrs[VMI_ATTR_TIMEOUTS_UNHOOK].defaultValue;
    obj->asyncUnhook = TRUE;
    obj->unhookOnShutdown = TRUE;
    obj->commands = g_array_new(FALSE, FALSE, sizeof(guint32));
    obj->events = g_array_new(FALSE, FALSE, sizeof(guint32));
    return obj;
}


void
emuObjectFree(emuObject *obj)
{
    if (!obj)
        return;
    g_free(obj->id);
    g_free(obj->chardev);
    g_free(obj->key);
    g_array_unref(obj->commands);
    g_array_unref(obj->events);
    g_free(obj);
}


const emuObjectProp *
emuObjectProps(guint *count)
{
    *count = G_N_ELEMENTS(objectProps);
    return objectProps;
}


static const emuObjectProp *
emuObjectFindProp(const char *name)
{
    guint i;

    for (i = 0; i < G_N_ELEMENTS(objectProps); i++) {
        if (g_str_equal(objectProps[i].name, name))
            return &objectProps[i];
    }
    return NULL;
}


char *
emuObjectHelp(void)
{
    GString *buf = g_string_new(EMU_OBJECT_TYPE " options:\n");
    guint i;

    for (i = 0; i < G_N_ELEMENTS(objectProps); i++)
        g_string_append_printf(buf, "  %s=<%s>\n", objectProps[i].name, objectProps[i].type);
    return g_string_free(buf, FALSE);
}


static gboolean
emuIsListProp(const char *name)
{
    return g_str_equal(name, "command") || g_str_equal(name, "event");
}


/* What the property does with a value that passed the type check. */
static gboolean
emuObjectStore(emuObject *obj, const char *name, const char *str,
               guint64 num, gboolean flag, GError **error)
{
    if (g_str_equal(name, "chardev")) {
        g_free(obj->chardev);
        obj->chardev = g_strdup(str);
    } else if (g_str_equal(name, "key")) {
        g_free(obj->key);
        obj->key = g_strdup(str);
    } else if (g_str_equal(name, "handshake_timeout")) {
        obj->handshakeTimeout = num;
    } else if (g_str_equal(name, "unhook_timeout")) {
        obj->unhookTimeout = num;
    } else if (g_str_equal(name, "async_unhook")) {
        obj->asyncUnhook = flag;
    } else if (g_str_equal(name, "unhook_on_shutdown")) {
        obj->unhookOnShutdown = flag;
    } else {
        guint32 id = num;

        /* -1 is how QEMU tells KVM "all ids": it cannot be a list entry.
         * The message prints the id with %d, as the RFC does. */
        if (id == G_MAXUINT32) {
            g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED,
                        "VMI: add %s: invalid id %d", name, (gint32)id);
            return FALSE;
        }
        g_array_append_val(g_str_equal(name, "command") ? obj->commands : obj->events, id);
    }
    return TRUE;
}


/* The checks every setter makes before looking at the value. */
static const emuObjectProp *
emuObjectSetter(emuCompat compat, const char *name, GError **error)
{
    const emuObjectProp *prop = emuObjectFindProp(name);

    if (!prop) {
        /* QEMU 5.0's object_property_find() wording */
        g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED, "Property '.%s' not found", name);
        return NULL;
    }
    if (compat == EMU_COMPAT_FORK_READONLY && emuIsListProp(name)) {
        g_set_error_literal(error, EMU_ERROR, EMU_ERROR_FAILED, EMU_QERR_PERMISSION_DENIED);
        return NULL;
    }
    return prop;
}


/* QEMU's parse_uint(): strtoull in base 0, no sign, whole string. */
static gboolean
emuParseUint(const char *str, guint64 *out)
{
    const char *p = str;
    char *end = NULL;
    guint64 val;

    errno = 0;
    val = g_ascii_strtoull(str, &end, 0);
    if (errno || end == str || *end)
        return FALSE;
    while (g_ascii_isspace(*p))
        p++;
    if (*p == '-')
        return FALSE;
    *out = val;
    return TRUE;
}


/* Both visitors read a uint64; visit_type_uint32 then narrows it. */
static gboolean
emuNarrowUint32(const char *name, guint64 num, GError **error)
{
    if (num > G_MAXUINT32) {
        g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED,
                    "Parameter '%s' expects uint32_t", name);
        return FALSE;
    }
    return TRUE;
}


gboolean
emuObjectSetText(emuObject *obj, emuCompat compat, const char *name,
                 const char *value, GError **error)
{
    const emuObjectProp *prop = emuObjectSetter(compat, name, error);
    guint64 num = 0;
    gboolean flag = FALSE;

    if (!prop)
        return FALSE;
    if (g_str_equal(prop->type, "uint32")) {
        if (!emuParseUint(value, &num)) {
            g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED,
                        "Parameter '%s' expects an uint64 value", name);
            return FALSE;
        }
        if (!emuNarrowUint32(name, num, error))
            return FALSE;
    } else if (g_str_equal(prop->type, "bool")) {
        if (!emuParseBool(value, &flag)) {
            g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED,
                        "Parameter '%s' expects 'on' or 'off'", name);
            return FALSE;
        }
    }
    return emuObjectStore(obj, name, value, num, flag, error);
}


/* The QObject input visitor's reading of a uint64: a JSON integer (a
 * negative one wraps, "for backward compatibility"). */
static gboolean
emuJsonUint64(yajl_val value, guint64 *out)
{
    char *end = NULL;

    if (!YAJL_IS_INTEGER(value)) {
        /* yajl has no uint64: a big one is a double with integer text */
        if (!YAJL_IS_NUMBER(value) || !value->u.number.r ||
            strpbrk(value->u.number.r, ".eE-"))
            return FALSE;
        errno = 0;
        *out = g_ascii_strtoull(value->u.number.r, &end, 10);
        return errno == 0 && *end == '\0';
    }
    *out = (guint64)YAJL_GET_INTEGER(value);
    return TRUE;
}


gboolean
emuObjectSetJson(emuObject *obj, emuCompat compat, const char *name,
                 yajl_val value, GError **error)
{
    const emuObjectProp *prop = emuObjectSetter(compat, name, error);
    guint64 num = 0;
    gboolean flag = FALSE;
    const char *str = NULL;

    if (!prop)
        return FALSE;
    if (g_str_equal(prop->type, "uint32")) {
        if (!emuJsonUint64(value, &num)) {
            g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED,
                        "Parameter '%s' expects uint64", name);
            return FALSE;
        }
        if (!emuNarrowUint32(name, num, error))
            return FALSE;
    } else if (g_str_equal(prop->type, "bool")) {
        if (!YAJL_IS_TRUE(value) && !YAJL_IS_FALSE(value)) {
            g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED,
                        "Invalid parameter type for '%s', expected: boolean", name);
            return FALSE;
        }
        flag = YAJL_IS_TRUE(value);
    } else {
        if (!YAJL_IS_STRING(value)) {
            g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED,
                        "Invalid parameter type for '%s', expected: string", name);
            return FALSE;
        }
        str = YAJL_GET_STRING(value);
    }
    return emuObjectStore(obj, name, str, num, flag, error);
}


/* QEMU's id_wellformed() */
static gboolean
emuIdWellformed(const char *id)
{
    const char *p;

    if (!g_ascii_isalpha(id[0]))
        return FALSE;
    for (p = id + 1; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-._", *p))
            return FALSE;
    }
    return TRUE;
}


/* Whether the item at @idx is the one QEMU's option parser keeps: with
 * repeated keys, the opts visitor only sees the last one. */
static gboolean
emuOptsItemCounts(const emuOpts *opts, guint idx, emuCompat compat)
{
    emuOpt *opt = g_ptr_array_index(opts->items, idx);
    guint i;

    if (compat == EMU_COMPAT_DOCUMENTED)
        return TRUE;
    for (i = idx + 1; i < opts->items->len; i++) {
        emuOpt *later = g_ptr_array_index(opts->items, i);

        if (g_str_equal(later->key, opt->key))
            return FALSE;
    }
    return TRUE;
}


emuObject *
emuObjectFromOpts(const emuOpts *opts, emuCompat compat, char **hint, GError **error)
{
    const char *id = emuOptsGet(opts, "id");
    g_autoptr(emuObject) obj = NULL;
    guint i;

    if (!id) {
        g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED, "Parameter 'id' is missing");
        return NULL;
    }
    if (!emuIdWellformed(id)) {
        g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED, "Parameter 'id' expects an identifier");
        *hint = g_strdup("Identifiers consist of letters, digits, '-', '.', '_', "
                         "starting with a letter.\n");
        return NULL;
    }

    obj = emuObjectNew(id);
    for (i = 0; i < opts->items->len; i++) {
        emuOpt *opt = g_ptr_array_index(opts->items, i);

        if (g_str_equal(opt->key, "qom-type") || g_str_equal(opt->key, "id"))
            continue;
        if (!emuOptsItemCounts(opts, i, compat))
            continue;
        if (!emuObjectSetText(obj, compat, opt->key, opt->value, error))
            return NULL;
    }
    return g_steal_pointer(&obj);
}


gboolean
emuObjectComplete(const emuObject *obj, guint count, GError **error)
{
    if (count > 1) {
        g_set_error_literal(error, EMU_ERROR, EMU_ERROR_FAILED,
                            "VMI: only one introspection object can be created");
        return FALSE;
    }
    if (!obj->chardev) {
        g_set_error_literal(error, EMU_ERROR, EMU_ERROR_FAILED, "VMI: chardev is not set");
        return FALSE;
    }
    return TRUE;
}


static gboolean
emuIdListHas(const GArray *list, guint id)
{
    guint i;

    if (list->len == 0)
        return TRUE;
    for (i = 0; i < list->len; i++) {
        if (g_array_index(list, guint32, i) == id)
            return TRUE;
    }
    return FALSE;
}


gboolean
emuObjectCommandAllowed(const emuObject *obj, guint id)
{
    return emuIdListHas(obj->commands, id);
}


gboolean
emuObjectEventAllowed(const emuObject *obj, guint id)
{
    return emuIdListHas(obj->events, id);
}
