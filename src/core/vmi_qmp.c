/*
 * vmi_qmp.c: QEMU monitor replies about the introspection chardev
 */
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "core/vmi_qmp.h"
#include "core/qemu_vmi.h"
#include "conf/vmi_error.h"


/*
 * yajl_tree_parse recurses once per nesting level: 300k levels overflow
 * the stack. QMP replies nest a few levels, so a cheap scan of the
 * brackets outside strings refuses deeper ones before yajl sees them.
 */
#define VMI_QMP_MAX_DEPTH 64

static gboolean
vmiQmpJSONDepthOK(const char *json)
{
    gboolean inString = FALSE;
    guint depth = 0;
    const char *p;

    for (p = json; *p; p++) {
        if (inString) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                inString = FALSE;
        } else if (*p == '"') {
            inString = TRUE;
        } else if (*p == '[' || *p == '{') {
            if (++depth > VMI_QMP_MAX_DEPTH)
                return FALSE;
        } else if ((*p == ']' || *p == '}') && depth) {
            depth--;
        }
    }
    return TRUE;
}


/*
 * What `query-chardev` says of the introspection chardev. A client
 * socket that is not connected has a filename starting "disconnected:".
 */
gboolean
vmiQmpParseChardevs(const char *reply, vmiQmpChardevState *state, GError **error)
{
    char errbuf[256] = "";
    const char *retPath[] = { "return", NULL };
    yajl_val root = NULL;
    yajl_val list;
    size_t i;

    memset(state, 0, sizeof(*state));
    if (!vmiQmpJSONDepthOK(reply)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "unexpected query-chardev reply: nested deeper than %d levels",
                    VMI_QMP_MAX_DEPTH);
        return FALSE;
    }
    root = yajl_tree_parse(reply, errbuf, sizeof(errbuf));
    if (!root || !(list = yajl_tree_get(root, retPath, yajl_t_array))) {
        g_autofree char *quoted = vmiErrorQuote(errbuf[0] ? errbuf : reply);

        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "unexpected query-chardev reply: %s", quoted);
        yajl_tree_free(root);
        return FALSE;
    }
    for (i = 0; i < YAJL_GET_ARRAY(list)->len; i++) {
        yajl_val entry = YAJL_GET_ARRAY(list)->values[i];
        const char *labelPath[] = { "label", NULL };
        const char *filePath[] = { "filename", NULL };
        const char *label = YAJL_GET_STRING(yajl_tree_get(entry, labelPath, yajl_t_string));
        const char *file = YAJL_GET_STRING(yajl_tree_get(entry, filePath, yajl_t_string));

        if (!label || !g_str_equal(label, VMI_QEMU_CHARDEV_ID))
            continue;
        /* QEMU's labels are unique; should one come twice, the last counts */
        state->found = TRUE;
        g_free(state->filename);
        state->filename = g_strdup(file ? file : "");
        state->connected = file && !g_str_has_prefix(file, "disconnected:");
    }
    yajl_tree_free(root);
    return TRUE;
}


/* --- building commands ------------------------------------------------ */

static void
vmiQmpGenString(yajl_gen gen, const char *str)
{
    yajl_gen_string(gen, (const unsigned char *)str, strlen(str));
}


static char *
vmiQmpGenFinish(yajl_gen gen)
{
    const unsigned char *buf;
    size_t len;
    char *out;

    yajl_gen_get_buf(gen, &buf, &len);
    out = g_strndup((const char *)buf, len);
    yajl_gen_free(gen);
    return out;
}


static const vmiQemuProp *
vmiQmpFindProp(const vmiQemuObject *obj, const char *key)
{
    guint i;

    for (i = 0; i < obj->props->len; i++) {
        const vmiQemuProp *prop = &g_array_index(obj->props, vmiQemuProp, i);

        if (g_str_equal(prop->key, key))
            return prop;
    }
    return NULL;
}


static gboolean
vmiQmpGenValue(yajl_gen gen, const vmiQemuProp *prop, GError **error)
{
    guint64 num;

    if (prop->type == VMI_QEMU_PROP_STRING) {
        vmiQmpGenString(gen, prop->value);
        return TRUE;
    }
    if (!g_ascii_string_to_unsigned(prop->value, 10, 0, G_MAXUINT32, &num, error))
        return FALSE;
    yajl_gen_integer(gen, (long long)num);
    return TRUE;
}


/* "key": value, the value as vmiQmpGenValue types it */
static gboolean
vmiQmpGenProp(yajl_gen gen, const vmiQemuProp *prop, GError **error)
{
    vmiQmpGenString(gen, prop->key);
    return vmiQmpGenValue(gen, prop, error);
}


/*
 * chardev-add of the socket client -chardev describes: "path" is a unix
 * address, "cid" and "port" a vsock one (QMP takes both as strings),
 * "reconnect" a number; the client is what -chardev's default means.
 */
static char *
vmiQmpBuildChardevAdd(const vmiQemuObject *obj, GError **error)
{
    const vmiQemuProp *path = vmiQmpFindProp(obj, "path");
    yajl_gen gen = yajl_gen_alloc(NULL);
    guint i;

    yajl_gen_map_open(gen);
    vmiQmpGenString(gen, "execute");
    vmiQmpGenString(gen, "chardev-add");
    vmiQmpGenString(gen, "arguments");
    yajl_gen_map_open(gen);
    vmiQmpGenString(gen, "id");
    vmiQmpGenString(gen, obj->id);
    vmiQmpGenString(gen, "backend");
    yajl_gen_map_open(gen);
    vmiQmpGenString(gen, "type");
    vmiQmpGenString(gen, obj->type);
    vmiQmpGenString(gen, "data");
    yajl_gen_map_open(gen);
    vmiQmpGenString(gen, "addr");
    yajl_gen_map_open(gen);
    vmiQmpGenString(gen, "type");
    vmiQmpGenString(gen, path ? "unix" : "vsock");
    vmiQmpGenString(gen, "data");
    yajl_gen_map_open(gen);
    for (i = 0; i < obj->props->len; i++) {
        const vmiQemuProp *prop = &g_array_index(obj->props, vmiQemuProp, i);

        if (g_str_equal(prop->key, "reconnect"))
            continue;
        if (!g_str_equal(prop->key, "path") && !g_str_equal(prop->key, "cid") &&
            !g_str_equal(prop->key, "port")) {
            g_set_error(error, VMI_ERROR, VMI_ERROR_UNSUPPORTED,
                        "chardev '%s': no QMP form for its '%s' parameter", obj->id, prop->key);
            yajl_gen_free(gen);
            return NULL;
        }
        if (!vmiQmpGenProp(gen, prop, error)) {
            yajl_gen_free(gen);
            return NULL;
        }
    }
    yajl_gen_map_close(gen);
    yajl_gen_map_close(gen);
    vmiQmpGenString(gen, "server");
    yajl_gen_bool(gen, 0);
    for (i = 0; i < obj->props->len; i++) {
        const vmiQemuProp *prop = &g_array_index(obj->props, vmiQemuProp, i);

        if (!g_str_equal(prop->key, "reconnect"))
            continue;
        if (!vmiQmpGenProp(gen, prop, error)) {
            yajl_gen_free(gen);
            return NULL;
        }
    }
    yajl_gen_map_close(gen);
    yajl_gen_map_close(gen);
    yajl_gen_map_close(gen);
    yajl_gen_map_close(gen);
    return vmiQmpGenFinish(gen);
}


/*
 * object-add in QEMU 5.0's form (the properties in "props"), each with
 * the JSON type QEMU's visitor wants (if it has one at all:
 * vmiQemuObjectHasQmpForm).
 */
static char *
vmiQmpBuildObjectAdd(const vmiQemuObject *obj, GError **error)
{
    yajl_gen gen;
    guint i;

    if (!vmiQemuObjectHasQmpForm(obj, error))
        return NULL;
    gen = yajl_gen_alloc(NULL);
    yajl_gen_map_open(gen);
    vmiQmpGenString(gen, "execute");
    vmiQmpGenString(gen, "object-add");
    vmiQmpGenString(gen, "arguments");
    yajl_gen_map_open(gen);
    vmiQmpGenString(gen, "qom-type");
    vmiQmpGenString(gen, obj->type);
    vmiQmpGenString(gen, "id");
    vmiQmpGenString(gen, obj->id);
    vmiQmpGenString(gen, "props");
    yajl_gen_map_open(gen);
    for (i = 0; i < obj->props->len; i++) {
        const vmiQemuProp *prop = &g_array_index(obj->props, vmiQemuProp, i);

        if (!vmiQmpGenProp(gen, prop, error)) {
            yajl_gen_free(gen);
            return NULL;
        }
    }
    yajl_gen_map_close(gen);
    yajl_gen_map_close(gen);
    yajl_gen_map_close(gen);
    return vmiQmpGenFinish(gen);
}


/* The QMP command that creates @obj as its argument does. */
char *
vmiQmpBuildAdd(const vmiQemuObject *obj, GError **error)
{
    if (g_str_equal(obj->option, "-chardev"))
        return vmiQmpBuildChardevAdd(obj, error);
    return vmiQmpBuildObjectAdd(obj, error);
}


char *
vmiQmpBuildCommand(const char *execute, const char *argKey, const char *argValue)
{
    yajl_gen gen = yajl_gen_alloc(NULL);

    yajl_gen_map_open(gen);
    vmiQmpGenString(gen, "execute");
    vmiQmpGenString(gen, execute);
    if (argKey) {
        vmiQmpGenString(gen, "arguments");
        yajl_gen_map_open(gen);
        vmiQmpGenString(gen, argKey);
        vmiQmpGenString(gen, argValue);
        yajl_gen_map_close(gen);
    }
    yajl_gen_map_close(gen);
    return vmiQmpGenFinish(gen);
}


/* chardev-remove or object-del of @obj */
char *
vmiQmpBuildRemove(const vmiQemuObject *obj)
{
    if (g_str_equal(obj->option, "-chardev"))
        return vmiQmpBuildCommand("chardev-remove", "id", obj->id);
    return vmiQmpBuildCommand("object-del", "id", obj->id);
}


/* --- reading replies -------------------------------------------------- */

static yajl_val
vmiQmpParse(const char *reply, const char *what, GError **error)
{
    char errbuf[256] = "";
    yajl_val root;

    if (!vmiQmpJSONDepthOK(reply)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "unexpected %s reply: nested deeper than %d levels",
                    what, VMI_QMP_MAX_DEPTH);
        return NULL;
    }
    if (!(root = yajl_tree_parse(reply, errbuf, sizeof(errbuf))) || !YAJL_IS_OBJECT(root)) {
        g_autofree char *quoted = vmiErrorQuote(errbuf[0] ? errbuf : reply);

        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "unexpected %s reply: %s", what, quoted);
        yajl_tree_free(root);
        return NULL;
    }
    return root;
}


/* query-migrate's "status" ("setup", "active", "completed"...), or NULL
 * with @error when the reply has none. */
char *
vmiQmpParseMigrationStatus(const char *reply, GError **error)
{
    const char *path[] = { "return", "status", NULL };
    yajl_val root = vmiQmpParse(reply, "query-migrate", error);
    const char *status;
    char *copy = NULL;

    if (!root)
        return NULL;
    if ((status = YAJL_GET_STRING(yajl_tree_get(root, path, yajl_t_string))))
        copy = g_strdup(status);
    else
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "unexpected query-migrate reply: no return.status");
    yajl_tree_free(root);
    return copy;
}


/*
 * A command's reply: TRUE for a return. QEMU's error: FALSE, with its
 * description in @qemuError (if asked) and in @error as "WHAT: DESC".
 */
gboolean
vmiQmpParseReturn(const char *reply, const char *what, char **qemuError, GError **error)
{
    const char *retPath[] = { "return", NULL };
    const char *descPath[] = { "error", "desc", NULL };
    yajl_val root = vmiQmpParse(reply, what, error);
    const char *desc;

    if (!root)
        return FALSE;
    if (yajl_tree_get(root, retPath, yajl_t_any)) {
        yajl_tree_free(root);
        return TRUE;
    }
    desc = YAJL_GET_STRING(yajl_tree_get(root, descPath, yajl_t_string));
    if (desc) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "%s: QEMU: %s", what, desc);
        if (qemuError)
            *qemuError = g_strdup(desc);
    } else {
        g_autofree char *quoted = vmiErrorQuote(reply);

        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "unexpected %s reply: %s",
                    what, quoted);
    }
    yajl_tree_free(root);
    return FALSE;
}


/*
 * What `qom-list /objects` lists: the objects' ids mapped to their QOM
 * types ("child<secret>" gives "secret").
 */
GHashTable *
vmiQmpParseObjects(const char *reply, GError **error)
{
    const char *retPath[] = { "return", NULL };
    g_autoptr(GHashTable) objects = NULL;
    yajl_val root = vmiQmpParse(reply, "qom-list", error);
    yajl_val list;
    size_t i;

    if (!root)
        return NULL;
    if (!(list = yajl_tree_get(root, retPath, yajl_t_array))) {
        g_autofree char *quoted = vmiErrorQuote(reply);

        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "unexpected qom-list reply: %s",
                    quoted);
        yajl_tree_free(root);
        return NULL;
    }
    objects = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (i = 0; i < YAJL_GET_ARRAY(list)->len; i++) {
        yajl_val entry = YAJL_GET_ARRAY(list)->values[i];
        const char *namePath[] = { "name", NULL };
        const char *typePath[] = { "type", NULL };
        const char *name = YAJL_GET_STRING(yajl_tree_get(entry, namePath, yajl_t_string));
        const char *type = YAJL_GET_STRING(yajl_tree_get(entry, typePath, yajl_t_string));

        if (!name || !type || !g_str_has_prefix(type, "child<") || !g_str_has_suffix(type, ">"))
            continue;
        g_hash_table_replace(objects, g_strdup(name),
                             g_strndup(type + 6, strlen(type) - 7));
    }
    yajl_tree_free(root);
    return g_steal_pointer(&objects);
}
