/*
 * emu_intercept.c: the QMP commands a KVMI QEMU treats differently
 */
#include <string.h>

#include "emu_context.h"
#include "emu_intercept.h"
#include "emu_log.h"
#include "emu_secret.h"
#include "emu_vmi.h"

#define EMU_MIGRATE_POLL_MS 100
#define EMU_QERR_PERMISSION_DENIED "Insufficient permission to perform this operation"

typedef void (*emuStatusFunc)(emuRequest *req, const char *status);

typedef struct {
    emuRequest *req;
    emuStatusFunc func;
} emuStatusQuery;

/* A migrate answered at once and held, as QEMU holds it before the
 * migration thread starts. */
typedef struct {
    gboolean held;
    const char *status;             /* what query-migrate and events say */
    gboolean events;                /* the "events" capability was on */
    emuMonitor *mon;                /* where its fd: URI's fd lives */
    char *command;                  /* the migrate to run on release */
    guint pollTimer;
    guint pollNone;
} emuMigration;

/* A command whose client may be answered before the action runs. */
typedef struct {
    emuRequest *req;                /* NULL once answered */
} emuDeferred;

static emuMigration migration;
static void (*quitFunc)(void);

static void emuMigratePoll(void);


void
emuInterceptSetQuitFunc(void (*func)(void))
{
    quitFunc = func;
}


void
emuInterceptQemuGone(void)
{
    if (quitFunc)
        quitFunc();
}


/* --- helpers ------------------------------------------------------------- */

static gboolean
emuIsHmp(emuRequest *req)
{
    return g_str_equal(req->execute, "human-monitor-command");
}


/* What a VMI interception logs inside a QMP command goes to stderr without
 * prefix; inside an HMP command it goes to that command's output. */
static emuInterceptResult
emuInterceptCall(emuRequest *req, emuAction action, emuVmiContinueFunc cont, gpointer opaque)
{
    emuInterceptResult ret;

    if (emuIsHmp(req)) {
        emuLogCaptureBegin();
        ret = emuVmiIntercept(action, cont, opaque);
        g_free(req->data);
        req->data = emuLogCaptureEnd();
        req->dataFree = g_free;
        return ret;
    }
    emuLogEnterMonitor();
    ret = emuVmiIntercept(action, cont, opaque);
    emuLogLeaveMonitor();
    return ret;
}


/* HMP: the captured messages come before QEMU's own output. */
static GString *
emuHmpFilter(emuRequest *req, const char *msg, gsize len)
{
    yajl_val tree;
    yajl_val ret;
    g_autofree char *text = NULL;
    yajl_gen gen;

    if (!req->data || !*(const char *)req->data)
        return NULL;
    tree = emuJsonParse(msg, len);
    ret = emuJsonGet(tree, "return");
    if (!YAJL_IS_STRING(ret)) {
        yajl_tree_free(tree);
        return NULL;
    }
    text = g_strconcat(req->data, YAJL_GET_STRING(ret), NULL);
    gen = emuJsonGenNew(req->pretty);
    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "return");
    emuJsonGenString(gen, text);
    if (req->id) {
        emuJsonGenKey(gen, "id");
        emuJsonGenValue(gen, req->id);
    }
    yajl_gen_map_close(gen);
    yajl_tree_free(tree);
    return emuJsonGenFinish(gen);
}


static emuReplyFilter
emuReplyFilterFor(emuRequest *req)
{
    return emuIsHmp(req) ? emuHmpFilter : NULL;
}


static void
emuStatusDone(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    g_autofree emuStatusQuery *query = opaque;

    query->func(query->req, ret ? emuJsonGetString(ret, "status") : NULL);
}


static void
emuQueryStatus(emuRequest *req, emuStatusFunc func)
{
    emuStatusQuery *query = g_new0(emuStatusQuery, 1);

    query->req = req;
    query->func = func;
    emuSessionCall(emuCtx.priv, "query-status", NULL, emuStatusDone, query);
}


static gboolean
emuIsSuccess(const char *msg, gsize len)
{
    g_autofree char *key = emuJsonFirstKey(msg, len);

    return key && g_str_equal(key, "return");
}


/* --- stop, cont, system_reset, system_powerdown -------------------------- */

static void
emuReleaseRequest(gpointer opaque)
{
    emuRequest *req = opaque;

    emuProxyForward(req, emuReplyFilterFor(req));
}


static void
emuStopWithStatus(emuRequest *req, const char *status)
{
    /* qmp_stop(): during an incoming migration it only clears autostart */
    if (status && g_str_equal(status, "inmigrate")) {
        emuProxyForward(req, NULL);
        return;
    }
    /* delayed or waiting: the reply, and what the monitor does next, wait */
    if (emuInterceptCall(req, EMU_ACTION_SUSPEND, emuReleaseRequest, req) ==
        EMU_INTERCEPT_CONTINUE)
        emuProxyForward(req, emuReplyFilterFor(req));
}


static gboolean
emuHmpSucceeded(const char *msg, gsize len)
{
    yajl_val tree = emuJsonParse(msg, len);
    yajl_val ret = emuJsonGet(tree, "return");
    gboolean ok = YAJL_IS_STRING(ret) && YAJL_GET_STRING(ret)[0] == '\0';

    yajl_tree_free(tree);
    return ok;
}


/* qmp_cont() intercepts after vm_start(), when it got that far */
static GString *
emuContFilter(emuRequest *req, const char *msg, gsize len)
{
    const char *prior = req->data;
    gboolean ok = emuIsHmp(req) ? emuHmpSucceeded(msg, len) : emuIsSuccess(msg, len);

    if (!ok || !prior || g_str_equal(prior, "inmigrate") || g_str_equal(prior, "suspended"))
        return NULL;
    req->data = NULL;
    req->dataFree = NULL;
    emuInterceptCall(req, EMU_ACTION_RESUME, NULL, NULL);
    g_free((char *)prior);
    return emuIsHmp(req) ? emuHmpFilter(req, msg, len) : NULL;
}


static void
emuContWithStatus(emuRequest *req, const char *status)
{
    req->data = g_strdup(status);
    req->dataFree = g_free;
    emuProxyForward(req, emuContFilter);
}


static void
emuSystemReset(emuRequest *req)
{
    emuInterceptCall(req, EMU_ACTION_FORCE_RESET, NULL, NULL);
    emuProxyForward(req, emuReplyFilterFor(req));
}


static void
emuPowerdownDone(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
}


static void
emuPowerdownRelease(gpointer opaque)
{
    g_autofree emuDeferred *deferred = opaque;

    /* qemu_system_powerdown_request() */
    if (deferred->req)
        emuReleaseRequest(deferred->req);
    else
        emuSessionCall(emuCtx.priv, "system_powerdown", NULL, emuPowerdownDone, NULL);
}


static void
emuSystemPowerdown(emuRequest *req)
{
    emuDeferred *deferred = g_new0(emuDeferred, 1);

    deferred->req = req;
    switch (emuInterceptCall(req, EMU_ACTION_SHUTDOWN, emuPowerdownRelease, deferred)) {
    case EMU_INTERCEPT_CONTINUE:
        g_free(deferred);
        emuProxyForward(req, emuReplyFilterFor(req));
        break;
    case EMU_INTERCEPT_DELAYED:
        /* qmp_system_powerdown() returns: only the request is delayed */
        deferred->req = NULL;
        if (emuIsHmp(req))
            emuProxyReply(req, emuHmpFilter(req, "{\"return\": \"\"}", 14) ?:
                          g_string_new("{\"return\": \"\"}\n"));
        else
            emuProxyReplyEmpty(req);
        break;
    case EMU_INTERCEPT_WAIT:
        break;
    }
}


/* HMP: "stop", "c", "system_reset"... with or without arguments */
static void
emuHmp(emuRequest *req)
{
    const char *line = req->args ? emuJsonGetString(req->args, "command-line") : NULL;
    g_auto(GStrv) words = NULL;
    const char *cmd;

    if (!line) {
        emuProxyForward(req, NULL);
        return;
    }
    words = g_strsplit_set(line, " \t", 2);
    cmd = words[0] ? words[0] : "";
    if (g_str_equal(cmd, "stop") || g_str_equal(cmd, "s"))
        emuQueryStatus(req, emuStopWithStatus);
    else if (g_str_equal(cmd, "cont") || g_str_equal(cmd, "c"))
        emuQueryStatus(req, emuContWithStatus);
    else if (g_str_equal(cmd, "system_reset"))
        emuSystemReset(req);
    else if (g_str_equal(cmd, "system_powerdown"))
        emuSystemPowerdown(req);
    else
        emuProxyForward(req, NULL);
}


/* --- migrate ----------------------------------------------------------- */

static void
emuFillStatus(yajl_gen gen, gpointer opaque)
{
    emuJsonGenKey(gen, "status");
    emuJsonGenString(gen, opaque);
}


static void
emuMigrationEvent(const char *status)
{
    if (migration.events)
        emuProxyBroadcastEvent("MIGRATION", emuFillStatus, (gpointer)status);
}


static void
emuMigrationClear(void)
{
    migration.held = FALSE;
    migration.status = NULL;
    migration.mon = NULL;
    g_clear_pointer(&migration.command, g_free);
}


static void
emuMigratePollDone(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    const char *status = ret ? emuJsonGetString(ret, "status") : NULL;

    if (status && (g_str_equal(status, "failed") || g_str_equal(status, "cancelled"))) {
        /* the migration state notifier: migration_has_failed() */
        emuVmiMigrationFailed();
        return;
    }
    if (status && g_str_equal(status, "completed"))
        return;
    /* not started yet for a while: nothing to follow */
    if (!status && ++migration.pollNone > 50)
        return;
    migration.pollTimer = g_timeout_add(EMU_MIGRATE_POLL_MS, (GSourceFunc)emuMigratePoll, NULL);
}


static void
emuMigratePoll(void)
{
    migration.pollTimer = 0;
    emuSessionCall(emuCtx.priv, "query-migrate", NULL, emuMigratePollDone, NULL);
}


/* The released migrate command's own reply (its client had its answer). */
static void
emuMigrateInjectedDone(emuSession *session, const char *msg, gsize len, gpointer opaque)
{
    emuMigrationClear();
    if (!emuIsSuccess(msg, len)) {
        GPtrArray *mons = emuProxyMonitors();
        guint i;

        for (i = 0; i < mons->len; i++)
            ((emuMonitor *)g_ptr_array_index(mons, i))->dropMigrationSetup = FALSE;
        emuMigrationEvent("failed");
        emuVmiMigrationFailed();
        return;
    }
    migration.pollNone = 0;
    if (!migration.pollTimer)
        emuMigratePoll();
}


/* start_live_migration_thread(), or what a cancelled one comes to */
static void
emuMigrateRelease(void)
{
    GPtrArray *mons = emuProxyMonitors();
    guint i;

    if (!migration.held)
        return;
    if (g_str_equal(migration.status, "cancelling")) {
        emuMigrationEvent("cancelled");
        emuMigrationClear();
        emuVmiMigrationFailed();
        return;
    }
    /* QEMU will announce "setup" again: its clients already had it */
    for (i = 0; i < mons->len; i++)
        ((emuMonitor *)g_ptr_array_index(mons, i))->dropMigrationSetup = migration.events;
    emuProxyInject(migration.mon, migration.command, emuMigrateInjectedDone, NULL);
}


static void
emuMigrateContinue(gpointer opaque)
{
    g_autofree emuDeferred *deferred = opaque;

    if (deferred->req)
        emuReleaseRequest(deferred->req);
    else
        emuMigrateRelease();
}


/* The command to run on release, with an id of the emulator's. */
static char *
emuMigrateCommand(emuRequest *req)
{
    yajl_gen gen = emuJsonGenNew(FALSE);
    GString *out;

    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "execute");
    emuJsonGenString(gen, "migrate");
    if (req->args) {
        emuJsonGenKey(gen, "arguments");
        emuJsonGenValue(gen, req->args);
    }
    emuJsonGenKey(gen, "id");
    emuJsonGenString(gen, "qemu-kvmi-migrate");
    yajl_gen_map_close(gen);
    out = emuJsonGenFinish(gen);
    g_string_truncate(out, out->len - 1);
    return g_string_free(out, FALSE);
}


static void
emuMigrateHoldBack(emuRequest *req, gboolean events)
{
    migration.held = TRUE;
    migration.events = events;
    migration.mon = req->mon;
    migration.command = emuMigrateCommand(req);
    migration.status = "setup";
    emuProxyReplyEmpty(req);
    emuMigrationEvent("setup");
    if (emuCtx.migrateHold == EMU_MIGRATE_HOLD_WAIT_UNPLUG) {
        migration.status = "wait-unplug";
        emuMigrationEvent("wait-unplug");
    }
}


static gboolean
emuMigrationRunning(const char *status)
{
    static const char *const idle[] = { "none", "completed", "failed", "cancelled", NULL };

    return status && !g_strv_contains(idle, status);
}


typedef struct {
    emuRequest *req;
    gboolean events;
} emuMigrateQuery;


static void
emuMigrateWithState(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    g_autofree emuMigrateQuery *query = opaque;
    emuRequest *req = query->req;
    const char *status = ret ? emuJsonGetString(ret, "status") : NULL;
    emuDeferred *deferred;

    /* QEMU's own checks come first: leave them to it */
    if (emuMigrationRunning(status)) {
        emuProxyForward(req, NULL);
        return;
    }
    deferred = g_new0(emuDeferred, 1);
    deferred->req = req;
    switch (emuInterceptCall(req, EMU_ACTION_MIGRATE, emuMigrateContinue, deferred)) {
    case EMU_INTERCEPT_CONTINUE:
        g_free(deferred);
        emuProxyForward(req, NULL);
        break;
    case EMU_INTERCEPT_DELAYED:
        deferred->req = NULL;
        emuMigrateHoldBack(req, query->events);
        break;
    case EMU_INTERCEPT_WAIT:
        /* the whole command waits, then runs as it is */
        break;
    }
}


static void
emuMigrateWithCaps(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    emuMigrateQuery *query = opaque;
    gsize i;

    for (i = 0; YAJL_IS_ARRAY(ret) && i < ret->u.array.len; i++) {
        yajl_val cap = ret->u.array.values[i];
        const char *name = emuJsonGetString(cap, "capability");

        if (name && g_str_equal(name, "events"))
            query->events = YAJL_IS_TRUE(emuJsonGet(cap, "state"));
    }
    emuSessionCall(emuCtx.priv, "query-migrate", NULL, emuMigrateWithState, query);
}


static void
emuMigrate(emuRequest *req)
{
    emuMigrateQuery *query;
    yajl_val resume = req->args ? emuJsonGet(req->args, "resume") : NULL;

    if (migration.held) {
        emuProxyReplyError(req, "There's a migration process in progress");
        return;
    }
    if (YAJL_IS_TRUE(resume)) {
        emuProxyForward(req, NULL);
        return;
    }
    query = g_new0(emuMigrateQuery, 1);
    query->req = req;
    emuSessionCall(emuCtx.priv, "query-migrate-capabilities", NULL, emuMigrateWithCaps, query);
}


static void
emuMigrateCancel(emuRequest *req)
{
    if (!migration.held || g_str_equal(migration.status, "cancelling")) {
        emuProxyForward(req, NULL);
        return;
    }
    /* migrate_fd_cancel(): the thread that would finish it is not running */
    migration.status = "cancelling";
    emuProxyReplyEmpty(req);
    emuMigrationEvent("cancelling");
}


static GString *
emuQueryMigrateFilter(emuRequest *req, const char *msg, gsize len)
{
    yajl_val tree;
    yajl_val blocked;
    yajl_gen gen;

    if (!migration.held)
        return NULL;
    tree = emuJsonParse(msg, len);
    blocked = emuJsonGet(emuJsonGet(tree, "return"), "blocked-reasons");
    gen = emuJsonGenNew(req->pretty);
    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "return");
    yajl_gen_map_open(gen);
    if (blocked) {
        emuJsonGenKey(gen, "blocked-reasons");
        emuJsonGenValue(gen, blocked);
    }
    emuJsonGenKey(gen, "status");
    emuJsonGenString(gen, migration.status);
    yajl_gen_map_close(gen);
    if (req->id) {
        emuJsonGenKey(gen, "id");
        emuJsonGenValue(gen, req->id);
    }
    yajl_gen_map_close(gen);
    yajl_tree_free(tree);
    return emuJsonGenFinish(gen);
}


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
} emuObjectAdd;


static void
emuObjectAddFree(gpointer data)
{
    emuObjectAdd *add = data;

    emuObjectFree(add->obj);
    if (add->objects)
        g_hash_table_unref(add->objects);
    if (add->chardevs)
        g_hash_table_unref(add->chardevs);
    g_free(add);
}


/* user_creatable_add_type() after the properties: the child, then complete() */
static void
emuObjectAddFinish(emuObjectAdd *add)
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
    emuObjectAdd *add = opaque;
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
    emuObjectAdd *add = opaque;
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
    emuObjectAdd *add;
    guint i;

    if (!id) {
        emuProxyReplyError(req, "Parameter 'id' is missing");
        return;
    }
    add = g_new0(emuObjectAdd, 1);
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


static void
emuObjectAdd_(emuRequest *req)
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


static void
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


static void
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


static void
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
    gen = emuJsonGenNew(req->pretty);
    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "return");
    yajl_gen_array_open(gen);
    for (i = 0; i < ret->u.array.len; i++) {
        yajl_val info = ret->u.array.values[i];
        const char *label = emuJsonGetString(info, "label");
        emuMonitor *mon = label ? emuFindMonitor(label) : NULL;

        if (label && g_str_equal(label, EMU_PRIVATE_MONITOR))
            continue;
        if (mon && !mon->spec->stdio) {
            g_autofree char *filename = emuMonitorHasClient(mon) ?
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
    if (req->id) {
        emuJsonGenKey(gen, "id");
        emuJsonGenValue(gen, req->id);
    }
    yajl_gen_map_close(gen);
    yajl_tree_free(tree);
    return emuJsonGenFinish(gen);
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
    gen = emuJsonGenNew(req->pretty);
    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "return");
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
    if (req->id) {
        emuJsonGenKey(gen, "id");
        emuJsonGenValue(gen, req->id);
    }
    yajl_gen_map_close(gen);
    yajl_tree_free(tree);
    return emuJsonGenFinish(gen);
}


static void
emuReplyReturn(emuRequest *req, void (*fill)(yajl_gen gen, gpointer opaque), gpointer opaque)
{
    yajl_gen gen = emuJsonGenNew(req->pretty);

    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "return");
    fill(gen, opaque);
    if (req->id) {
        emuJsonGenKey(gen, "id");
        emuJsonGenValue(gen, req->id);
    }
    yajl_gen_map_close(gen);
    emuProxyReply(req, emuJsonGenFinish(gen));
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


static void
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


static void
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


/* --- dispatch ------------------------------------------------------------ */

static void
emuStop(emuRequest *req)
{
    emuQueryStatus(req, emuStopWithStatus);
}


static void
emuCont(emuRequest *req)
{
    emuQueryStatus(req, emuContWithStatus);
}


static void
emuQueryMigrate(emuRequest *req)
{
    emuProxyForward(req, migration.held ? emuQueryMigrateFilter : NULL);
}


static void
emuQueryChardev(emuRequest *req)
{
    emuProxyForward(req, emuQueryChardevFilter);
}


static const struct {
    const char *name;
    void (*handler)(emuRequest *req);
} handlers[] = {
    { "stop", emuStop },
    { "cont", emuCont },
    { "system_reset", emuSystemReset },
    { "system_powerdown", emuSystemPowerdown },
    { "migrate", emuMigrate },
    { "migrate_cancel", emuMigrateCancel },
    { "query-migrate", emuQueryMigrate },
    { "object-add", emuObjectAdd_ },
    { "object-del", emuObjectDel },
    { "chardev-add", emuChardevAdd },
    { "chardev-remove", emuChardevRemove },
    { "query-chardev", emuQueryChardev },
    { "qom-list", emuQomList },
    { "qom-get", emuQomGet },
    { "human-monitor-command", emuHmp },
};


void
emuInterceptDispatch(emuRequest *req)
{
    guint i;

    if (req->execute) {
        for (i = 0; i < G_N_ELEMENTS(handlers); i++) {
            if (g_str_equal(handlers[i].name, req->execute)) {
                handlers[i].handler(req);
                return;
            }
        }
    }
    emuProxyForward(req, NULL);
}


gboolean
emuInterceptEvent(emuMonitor *mon, const char *name, const char *msg, gsize len)
{
    yajl_val tree;
    const char *status;
    gboolean drop;

    if (!name || !g_str_equal(name, "MIGRATION") || !mon->dropMigrationSetup)
        return TRUE;
    tree = emuJsonParse(msg, len);
    status = emuJsonGetString(emuJsonGet(tree, "data"), "status");
    drop = status && g_str_equal(status, "setup");
    yajl_tree_free(tree);
    if (drop)
        mon->dropMigrationSetup = FALSE;
    return !drop;
}


void
emuInterceptPrivateEvent(emuSession *session, const char *msg, gsize len,
                         const char *name, gpointer opaque)
{
    /* qemu_register_reset(): every reset, the guest's and system_reset */
    if (name && g_str_equal(name, "RESET"))
        emuVmiReset();
}
