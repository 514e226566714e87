/*
 * emu_migrate.c: migrate, held as the RFC holds it
 *
 * The KVMI QEMU intercepts a migration where its thread would start: the
 * command has returned, the status stays "setup" (kvmi-v12: "wait-unplug")
 * until the tool has unhooked. The real QEMU cannot be stopped there, so
 * the emulator answers `migrate` itself, shows the held status (events and
 * query-migrate), and runs the command when the unhook is done, on the
 * client's monitor (where a fd: URI's descriptor is); QEMU's repeated
 * "setup" event is then dropped. A cancel while held ends as the RFC's
 * does: "cancelling" until the unhook, then "cancelled".
 */
#include <string.h>

#include "emu_context.h"
#include "emu_handlers.h"
#include "emu_log.h"

#define EMU_MIGRATE_POLL_MS 100

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

static emuMigration migration;

static void emuMigratePoll(void);


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


/*
 * A migrate QEMU runs at once (no tool to unhook): the object still
 * follows it, as its migration state notifier does, so that its failure
 * or cancel clears the pending flag (a save cancelled after its pause,
 * say, or the reconnects stay refused).
 */
static GString *
emuMigrateFollow(emuRequest *req, const char *msg, gsize len)
{
    if (!emuIsSuccess(msg, len)) {
        emuVmiMigrationFailed();
        return NULL;
    }
    migration.pollNone = 0;
    if (!migration.pollTimer)
        emuMigratePoll();
    return NULL;
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
    /* migrate_init() announces "setup" inside the command, before its
     * reply (libvirt checks the job on the reply); "wait-unplug" comes
     * from the migration thread, after */
    emuMigrationEvent("setup");
    emuProxyReplyEmpty(req);
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
        emuProxyForward(req, emuMigrateFollow);
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


void
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


void
emuMigrateCancel(emuRequest *req)
{
    if (!migration.held || g_str_equal(migration.status, "cancelling")) {
        emuProxyForward(req, NULL);
        return;
    }
    /* migrate_fd_cancel(): the thread that would finish it is not running */
    migration.status = "cancelling";
    emuMigrationEvent("cancelling");
    emuProxyReplyEmpty(req);
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
    gen = emuQmpReturnBegin(req->pretty);
    yajl_gen_map_open(gen);
    if (blocked) {
        emuJsonGenKey(gen, "blocked-reasons");
        emuJsonGenValue(gen, blocked);
    }
    emuJsonGenKey(gen, "status");
    emuJsonGenString(gen, migration.status);
    yajl_gen_map_close(gen);
    yajl_tree_free(tree);
    return emuQmpReturnEnd(gen, req->id);
}


void
emuQueryMigrate(emuRequest *req)
{
    emuProxyForward(req, migration.held ? emuQueryMigrateFilter : NULL);
}
