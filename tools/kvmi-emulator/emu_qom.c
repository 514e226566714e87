/*
 * emu_qom.c: the introspection object and its chardev, as QMP sees them
 *
 * object-add (QEMU 5.0's: properties flat or in "props") and object-del of
 * the introspection object, with the object's checks in QEMU's order;
 * secrets added through QMP remembered for key=; chardev-add/-remove of the
 * reconnecting socket clients the emulator runs; and what query-chardev,
 * qom-list and qom-get show of all these.
 */
#include <string.h>

#include "emu_context.h"
#include "emu_handlers.h"
#include "emu_log.h"
#include "emu_secret.h"

#define EMU_QERR_PERMISSION_DENIED "Insufficient permission to perform this operation"


/* --- object-add and object-del ------------------------------------------- */

/* QEMU 5.0's object-add takes the properties flat or in "props". */
static gboolean
emuObjectAddMerge(emuRequest *req, GPtrArray *keys, GPtrArray *values, gboolean *hadProps)
{
    yajl_val args = req->args;
    yajl_val props = emuJsonGet(args, "props");
    gsize i;

    *hadProps = props != NULL;
    if (props && !YAJL_IS_OBJECT(props)) {
        emuProxyReplyError(req, "Invalid parameter type for 'props', expected: dict");
        return FALSE;
    }
    for (i = 0; YAJL_IS_OBJECT(args) && i < args->u.object.len; i++) {
        if (g_str_equal(args->u.object.keys[i], "props"))
            continue;
        g_ptr_array_add(keys, (gpointer)args->u.object.keys[i]);
        g_ptr_array_add(values, args->u.object.values[i]);
    }
    for (i = 0; props && i < props->u.object.len; i++) {
        guint j;

        for (j = 0; j < keys->len; j++) {
            if (g_str_equal(g_ptr_array_index(keys, j), props->u.object.keys[i])) {
                emuProxyReplyError(req, "Option in 'props' conflicts with top level");
                return FALSE;
            }
        }
        g_ptr_array_add(keys, (gpointer)props->u.object.keys[i]);
        g_ptr_array_add(values, props->u.object.values[i]);
    }
    return TRUE;
}


static const char *
emuMergedString(GPtrArray *keys, GPtrArray *values, const char *key)
{
    guint i;

    /* a repeated JSON key: the last one counts, as in QEMU's QDict */
    for (i = keys->len; i > 0; i--) {
        if (g_str_equal(g_ptr_array_index(keys, i - 1), key)) {
            yajl_val val = g_ptr_array_index(values, i - 1);

            return YAJL_IS_STRING(val) ? YAJL_GET_STRING(val) : NULL;
        }
    }
    return NULL;
}


typedef struct {
    emuRequest *req;
    emuObject *obj;
    GHashTable *objects;            /* id -> QOM type */
    GHashTable *chardevs;           /* QEMU's chardev labels */
} emuObjectAddCtx;


static void
emuObjectAddFree(gpointer data)
{
    emuObjectAddCtx *add = data;

    emuObjectFree(add->obj);
    if (add->objects)
        g_hash_table_unref(add->objects);
    if (add->chardevs)
        g_hash_table_unref(add->chardevs);
    g_free(add);
}


/* user_creatable_add_type() after the properties: the child, then complete() */
static void
emuObjectAddFinish(emuObjectAddCtx *add)
{
    emuRequest *req = add->req;
    g_autoptr(GError) err = NULL;
    emuVmi *vmi;

    if (g_hash_table_contains(add->objects, add->obj->id) ||
        (emuCtx.vmi && g_str_equal(emuVmiObject(emuCtx.vmi)->id, add->obj->id))) {
        g_autofree char *desc = g_strdup_printf("attempt to add duplicate property '%s' to "
                                                "object (type 'container')", add->obj->id);
        emuProxyReplyError(req, desc);
        return;
    }
    if (!emuObjectComplete(add->obj, emuCtx.vmi ? 2 : 1, &err)) {
        emuProxyReplyError(req, err->message);
        return;
    }
    /* the machine is ready: the notifier runs inside the command */
    emuLogEnterMonitor();
    vmi = emuVmiNew(add->obj, FALSE, add->chardevs, add->objects, &err);
    emuLogLeaveMonitor();
    if (!vmi) {
        emuProxyReplyError(req, err->message);
        return;
    }
    add->obj = NULL;
    emuCtx.vmi = vmi;
    emuVmiStart(vmi);
    emuProxyReplyEmpty(req);
}


static void
emuObjectAddChardevs(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    emuObjectAddCtx *add = opaque;
    gsize i;

    add->chardevs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (i = 0; YAJL_IS_ARRAY(ret) && i < ret->u.array.len; i++) {
        const char *label = emuJsonGetString(ret->u.array.values[i], "label");

        if (label)
            g_hash_table_add(add->chardevs, g_strdup(label));
    }
    emuObjectAddFinish(add);
}


static void
emuObjectAddObjects(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    emuObjectAddCtx *add = opaque;
    gsize i;

    add->objects = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (i = 0; YAJL_IS_ARRAY(ret) && i < ret->u.array.len; i++) {
        const char *name = emuJsonGetString(ret->u.array.values[i], "name");
        const char *type = emuJsonGetString(ret->u.array.values[i], "type");

        /* "child<secret>" */
        if (name && type && g_str_has_prefix(type, "child<") && g_str_has_suffix(type, ">"))
            g_hash_table_replace(add->objects, g_strdup(name),
                                 g_strndup(type + 6, strlen(type) - 7));
    }
    emuSessionCall(emuCtx.priv, "query-chardev", NULL, emuObjectAddChardevs, add);
}


static void
emuObjectAddIntrospection(emuRequest *req, GPtrArray *keys, GPtrArray *values)
{
    const char *id = emuMergedString(keys, values, "id");
    emuObjectAddCtx *add;
    guint i;

    if (!id) {
        emuProxyReplyError(req, "Parameter 'id' is missing");
        return;
    }
    add = g_new0(emuObjectAddCtx, 1);
    add->req = req;
    add->obj = emuObjectNew(id);
    req->data = add;
    req->dataFree = emuObjectAddFree;
    for (i = 0; i < keys->len; i++) {
        const char *key = g_ptr_array_index(keys, i);
        g_autoptr(GError) err = NULL;
        guint j;
        gboolean later = FALSE;

        if (g_str_equal(key, "qom-type") || g_str_equal(key, "id"))
            continue;
        for (j = i + 1; j < keys->len; j++)
            later |= g_str_equal(key, g_ptr_array_index(keys, j));
        if (later)
            continue;
        if (!emuObjectSetJson(add->obj, emuCtx.compat, key,
                              g_ptr_array_index(values, i), &err)) {
            emuProxyReplyError(req, err->message);
            return;
        }
    }
    emuSessionCall(emuCtx.priv, "qom-list", "{\"path\": \"/objects\"}", emuObjectAddObjects, add);
}


/* QEMU 7.2 takes the properties flat only */
static char *
emuObjectAddFlat(emuRequest *req, GPtrArray *keys, GPtrArray *values)
{
    yajl_gen gen = emuJsonGenNew(FALSE);
    GString *out;
    guint i;

    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "execute");
    emuJsonGenString(gen, req->execute);
    emuJsonGenKey(gen, "arguments");
    yajl_gen_map_open(gen);
    for (i = 0; i < keys->len; i++) {
        emuJsonGenKey(gen, g_ptr_array_index(keys, i));
        emuJsonGenValue(gen, g_ptr_array_index(values, i));
    }
    yajl_gen_map_close(gen);
    if (req->id) {
        emuJsonGenKey(gen, "id");
        emuJsonGenValue(gen, req->id);
    }
    yajl_gen_map_close(gen);
    out = emuJsonGenFinish(gen);
    g_string_truncate(out, out->len - 1);
    return g_string_free(out, FALSE);
}


/* A secret QEMU accepted: remember it for key= */
static GString *
emuSecretAddFilter(emuRequest *req, const char *msg, gsize len)
{
    yajl_val merged = req->data;

    if (emuIsSuccess(msg, len))
        emuSecretsAddJson(merged);
    return NULL;
}


/* The merged arguments as a tree of their own, for the secret registry. */
static yajl_val
emuMergedTree(GPtrArray *keys, GPtrArray *values)
{
    yajl_gen gen = emuJsonGenNew(FALSE);
    g_autoptr(GString) out = NULL;
    guint i;

    yajl_gen_map_open(gen);
    for (i = 0; i < keys->len; i++) {
        emuJsonGenKey(gen, g_ptr_array_index(keys, i));
        emuJsonGenValue(gen, g_ptr_array_index(values, i));
    }
    yajl_gen_map_close(gen);
    out = emuJsonGenFinish(gen);
    return emuJsonParse(out->str, out->len);
}


void
emuObjectAdd(emuRequest *req)
{
    g_autoptr(GPtrArray) keys = g_ptr_array_new();
    g_autoptr(GPtrArray) values = g_ptr_array_new();
    const char *type;
    const char *id;
    gboolean hadProps;

    if (!YAJL_IS_OBJECT(req->args)) {
        emuProxyForward(req, NULL);
        return;
    }
    if (!emuObjectAddMerge(req, keys, values, &hadProps))
        return;
    type = emuMergedString(keys, values, "qom-type");
    id = emuMergedString(keys, values, "id");
    if (type && g_str_equal(type, EMU_OBJECT_TYPE)) {
        emuObjectAddIntrospection(req, keys, values);
        return;
    }
    if (id && emuCtx.vmi && g_str_equal(emuVmiObject(emuCtx.vmi)->id, id)) {
        g_autofree char *desc = g_strdup_printf("attempt to add duplicate property '%s' to "
                                                "object (type 'container')", id);
        emuProxyReplyError(req, desc);
        return;
    }
    if (type && g_str_equal(type, "secret")) {
        req->data = emuMergedTree(keys, values);
        req->dataFree = (GDestroyNotify)yajl_tree_free;
    }
    if (hadProps) {
        g_free(req->raw);
        req->raw = emuObjectAddFlat(req, keys, values);
        req->len = strlen(req->raw);
    }
    emuProxyForward(req, req->data ? emuSecretAddFilter : NULL);
}


static GString *
emuObjectDelFilter(emuRequest *req, const char *msg, gsize len)
{
    if (emuIsSuccess(msg, len))
        emuSecretsRemove(req->data);
    return NULL;
}


void
emuObjectDel(emuRequest *req)
{
    const char *id = req->args ? emuJsonGetString(req->args, "id") : NULL;
    emuVmi *vmi = emuCtx.vmi;

    if (id && vmi && g_str_equal(emuVmiObject(vmi)->id, id)) {
        /* user_creatable_can_be_deleted() */
        if (emuChardevConnected(emuVmiChardev(vmi))) {
            g_autofree char *desc = g_strdup_printf("object '%s' is in use, can not be deleted",
                                                    id);
            emuProxyReplyError(req, desc);
            return;
        }
        emuCtx.vmi = NULL;
        emuVmiFree(vmi);
        emuProxyReplyEmpty(req);
        return;
    }
    if (id && emuSecretsLookup(id)) {
        req->data = g_strdup(id);
        req->dataFree = g_free;
        emuProxyForward(req, emuObjectDelFilter);
        return;
    }
    emuProxyForward(req, NULL);
}


/* --- the chardevs -------------------------------------------------------- */

/* A reconnecting socket client is the introspection object's kind: the
 * emulator runs it (QEMU would connect it to the tool). */
static emuChardevSpec *
emuChardevAddSpec(yajl_val args)
{
    const char *id = emuJsonGetString(args, "id");
    yajl_val backend = emuJsonGet(args, "backend");
    yajl_val data = emuJsonGet(backend, "data");
    yajl_val addr = emuJsonGet(data, "addr");
    yajl_val addrData = emuJsonGet(addr, "data");
    const char *btype = emuJsonGetString(backend, "type");
    const char *atype = emuJsonGetString(addr, "type");
    yajl_val server = emuJsonGet(data, "server");
    yajl_val reconnect = emuJsonGet(data, "reconnect");
    emuChardevSpec *spec;

    if (!id || !btype || !g_str_equal(btype, "socket") || !YAJL_IS_FALSE(server) ||
        !YAJL_IS_INTEGER(reconnect) || YAJL_GET_INTEGER(reconnect) <= 0 || !atype)
        return NULL;
    spec = g_new0(emuChardevSpec, 1);
    spec->id = g_strdup(id);
    spec->reconnect = MIN(YAJL_GET_INTEGER(reconnect), G_MAXINT32);
    if (g_str_equal(atype, "unix") && emuJsonGetString(addrData, "path")) {
        spec->addr.type = EMU_ADDR_UNIX;
        spec->addr.path = g_strdup(emuJsonGetString(addrData, "path"));
        return spec;
    }
    if (g_str_equal(atype, "vsock") && emuJsonGetString(addrData, "cid") &&
        emuJsonGetString(addrData, "port")) {
        spec->addr.type = EMU_ADDR_VSOCK;
        spec->addr.cid = g_strdup(emuJsonGetString(addrData, "cid"));
        spec->addr.port = g_strdup(emuJsonGetString(addrData, "port"));
        return spec;
    }
    emuChardevSpecFree(spec);
    return NULL;
}


static void
emuChardevAddChecked(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    emuRequest *req = opaque;
    emuChardevSpec *spec = req->data;
    gsize i;

    for (i = 0; YAJL_IS_ARRAY(ret) && i < ret->u.array.len; i++) {
        const char *label = emuJsonGetString(ret->u.array.values[i], "label");

        if (label && g_str_equal(label, spec->id)) {
            g_autofree char *msg = g_strdup_printf("Chardev with id '%s' already exists",
                                                   spec->id);
            emuProxyReplyError(req, msg);
            return;
        }
    }
    g_ptr_array_add(emuCtx.chardevs, emuChardevNew(spec));
    emuProxyReplyEmpty(req);
}


void
emuChardevAdd(emuRequest *req)
{
    emuChardevSpec *spec = req->args ? emuChardevAddSpec(req->args) : NULL;

    if (!spec) {
        emuProxyForward(req, NULL);
        return;
    }
    req->data = spec;
    req->dataFree = (GDestroyNotify)emuChardevSpecFree;
    if (emuContextFindChardev(spec->id)) {
        g_autofree char *msg = g_strdup_printf("Chardev with id '%s' already exists",
                                               spec->id);
        emuProxyReplyError(req, msg);
        return;
    }
    emuSessionCall(emuCtx.priv, "query-chardev", NULL, emuChardevAddChecked, req);
}


void
emuChardevRemove(emuRequest *req)
{
    const char *id = req->args ? emuJsonGetString(req->args, "id") : NULL;
    emuChardev *chr = id ? emuContextFindChardev(id) : NULL;

    if (!chr) {
        emuProxyForward(req, NULL);
        return;
    }
    if (emuChardevAttached(chr)) {
        g_autofree char *desc = g_strdup_printf("Chardev '%s' is busy", id);

        emuProxyReplyError(req, desc);
        return;
    }
    emuContextRemoveChardev(chr);
    emuProxyReplyEmpty(req);
}


static emuMonitor *
emuFindMonitor(const char *label)
{
    GPtrArray *mons = emuProxyMonitors();
    guint i;

    for (i = 0; i < mons->len; i++) {
        emuMonitor *mon = g_ptr_array_index(mons, i);

        if (g_str_equal(mon->spec->label, label))
            return mon;
    }
    return NULL;
}


static void
emuGenChardevInfo(yajl_gen gen, gboolean open, const char *filename, const char *label)
{
    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "frontend-open");
    yajl_gen_bool(gen, open);
    emuJsonGenKey(gen, "filename");
    emuJsonGenString(gen, filename);
    emuJsonGenKey(gen, "label");
    emuJsonGenString(gen, label);
    yajl_gen_map_close(gen);
}


/* QEMU's list without the private monitor, the proxied monitors as QEMU
 * would show them, and the chardevs the emulator runs. */
static GString *
emuQueryChardevFilter(emuRequest *req, const char *msg, gsize len)
{
    yajl_val tree = emuJsonParse(msg, len);
    yajl_val ret = emuJsonGet(tree, "return");
    yajl_gen gen;
    gsize i;

    if (!YAJL_IS_ARRAY(ret)) {
        yajl_tree_free(tree);
        return NULL;
    }
    gen = emuQmpReturnBegin(req->pretty);
    yajl_gen_array_open(gen);
    for (i = 0; i < ret->u.array.len; i++) {
        yajl_val info = ret->u.array.values[i];
        const char *label = emuJsonGetString(info, "label");
        emuMonitor *mon = label ? emuFindMonitor(label) : NULL;

        if (label && g_str_equal(label, EMU_PRIVATE_MONITOR))
            continue;
        if (mon) {
            g_autofree char *filename = emuMonitorHasClient(mon) || mon->spec->stdio ?
                g_strdup(mon->spec->filename) :
                g_strdup_printf("disconnected:%s", mon->spec->filename);

            emuGenChardevInfo(gen, TRUE, filename, label);
            continue;
        }
        emuJsonGenValue(gen, info);
    }
    for (i = 0; i < emuCtx.chardevs->len; i++) {
        emuChardev *chr = g_ptr_array_index(emuCtx.chardevs, i);
        g_autofree char *filename = emuChardevFilename(chr);

        emuGenChardevInfo(gen, emuChardevAttached(chr), filename, emuChardevId(chr));
    }
    yajl_gen_array_close(gen);
    yajl_tree_free(tree);
    return emuQmpReturnEnd(gen, req->id);
}


/* --- QOM ------------------------------------------------------------------- */

static gboolean
emuIsOurObjectPath(const char *path)
{
    g_autofree char *ours = NULL;

    if (!emuCtx.vmi || !path)
        return FALSE;
    ours = g_strdup_printf("/objects/%s", emuVmiObject(emuCtx.vmi)->id);
    return g_str_equal(path, ours);
}


static GString *
emuQomListObjectsFilter(emuRequest *req, const char *msg, gsize len)
{
    yajl_val tree = emuJsonParse(msg, len);
    yajl_val ret = emuJsonGet(tree, "return");
    yajl_gen gen;
    gsize i;

    if (!YAJL_IS_ARRAY(ret) || !emuCtx.vmi) {
        yajl_tree_free(tree);
        return NULL;
    }
    gen = emuQmpReturnBegin(req->pretty);
    yajl_gen_array_open(gen);
    for (i = 0; i < ret->u.array.len; i++)
        emuJsonGenValue(gen, ret->u.array.values[i]);
    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "name");
    emuJsonGenString(gen, emuVmiObject(emuCtx.vmi)->id);
    emuJsonGenKey(gen, "type");
    emuJsonGenString(gen, "child<" EMU_OBJECT_TYPE ">");
    yajl_gen_map_close(gen);
    yajl_gen_array_close(gen);
    yajl_tree_free(tree);
    return emuQmpReturnEnd(gen, req->id);
}


static void
emuReplyReturn(emuRequest *req, void (*fill)(yajl_gen gen, gpointer opaque), gpointer opaque)
{
    yajl_gen gen = emuQmpReturnBegin(req->pretty);

    fill(gen, opaque);
    emuProxyReply(req, emuQmpReturnEnd(gen, req->id));
}


static void
emuFillPropList(yajl_gen gen, gpointer opaque)
{
    const emuObjectProp *props;
    guint n, i;

    props = emuObjectProps(&n);
    yajl_gen_array_open(gen);
    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "name");
    emuJsonGenString(gen, "type");
    emuJsonGenKey(gen, "type");
    emuJsonGenString(gen, "string");
    yajl_gen_map_close(gen);
    for (i = 0; i < n; i++) {
        yajl_gen_map_open(gen);
        emuJsonGenKey(gen, "name");
        emuJsonGenString(gen, props[i].name);
        emuJsonGenKey(gen, "type");
        emuJsonGenString(gen, props[i].type);
        yajl_gen_map_close(gen);
    }
    yajl_gen_array_close(gen);
}


void
emuQomList(emuRequest *req)
{
    const char *path = req->args ? emuJsonGetString(req->args, "path") : NULL;

    if (emuIsOurObjectPath(path))
        emuReplyReturn(req, emuFillPropList, NULL);
    else if (path && g_str_equal(path, "/objects"))
        emuProxyForward(req, emuQomListObjectsFilter);
    else
        emuProxyForward(req, NULL);
}


static void
emuFillPropValue(yajl_gen gen, gpointer opaque)
{
    const char *name = opaque;
    const emuObject *obj = emuVmiObject(emuCtx.vmi);

    if (g_str_equal(name, "type"))
        emuJsonGenString(gen, EMU_OBJECT_TYPE);
    else if (g_str_equal(name, "handshake_timeout"))
        yajl_gen_integer(gen, obj->handshakeTimeout);
    else if (g_str_equal(name, "unhook_timeout"))
        yajl_gen_integer(gen, obj->unhookTimeout);
    else if (g_str_equal(name, "async_unhook"))
        yajl_gen_bool(gen, obj->asyncUnhook);
    else
        yajl_gen_bool(gen, obj->unhookOnShutdown);
}


void
emuQomGet(emuRequest *req)
{
    const char *path = req->args ? emuJsonGetString(req->args, "path") : NULL;
    const char *prop = req->args ? emuJsonGetString(req->args, "property") : NULL;
    static const char *const readable[] = {
        "type", "handshake_timeout", "unhook_timeout", "async_unhook", "unhook_on_shutdown", NULL
    };
    static const char *const writeOnly[] = { "chardev", "key", "command", "event", NULL };

    if (!emuIsOurObjectPath(path) || !prop) {
        emuProxyForward(req, NULL);
        return;
    }
    if (g_strv_contains(readable, prop)) {
        emuReplyReturn(req, emuFillPropValue, (gpointer)prop);
    } else if (g_strv_contains(writeOnly, prop)) {
        emuProxyReplyError(req, EMU_QERR_PERMISSION_DENIED);
    } else {
        g_autofree char *desc = g_strdup_printf("Property '.%s' not found", prop);

        emuProxyReplyError(req, desc);
    }
}




void
emuQueryChardev(emuRequest *req)
{
    emuProxyForward(req, emuQueryChardevFilter);
}
