/*
 * vmid_conn.c: a libvirt connection of virt-vmid
 *
 * Every domain whose element and QEMU arguments are out of step is synced
 * with one virDomainDefineXML: at (re)connection for all domains, then on
 * each DEFINED and METADATA_CHANGE event. A domain in step is never
 * redefined, so the DEFINED event of our own define ends there; it is not
 * even looked at: each define of ours skips the next DEFINED event of its
 * domain, which is ours (libvirt sends it before any later define's), so
 * a start-up that syncs 500 domains is not followed by 500 checks that
 * would hold a user's edit back. Events only queue the domain: the sync
 * runs in a thread, one batch at a time, outside libvirt's event dispatch
 * and off the main loop: libvirt makes it wait while another client
 * starts the domain (the domain is locked during the start, its hooks
 * included), and the hook asks this daemon for keys, and whether it
 * attaches a domain started without arguments (a management layer's
 * define then start at once): the daemon attaches such a domain live at
 * its STARTED event. That promise is kept on disk (vmid_marks.h) until the
 * attach has run, so a daemon killed in between keeps it after a restart.
 */
#include <libvirt/virterror.h>
#include <string.h>

#include "daemon/vmid_conn.h"
#include "daemon/vmid_live.h"
#include "daemon/vmid_log.h"
#include "daemon/vmid_marks.h"
#include "daemon/vmid_required.h"
#include "conf/vmi_conf.h"
#include "core/vmi_paths.h"
#include "core/vmi_sockdiag.h"
#include "conf/vmi_error.h"
#include "core/vmi_sync.h"
#include "libvirt/vmi_attach.h"
#include "libvirt/vmi_domain_sync.h"
#include "libvirt/vmi_secret.h"
#include "libvirt/vmi_status.h"
#include "libvirt/vmi_watch.h"

/* how often required domains are looked at besides their events: the
 * end of a resumed guest's wait, a tool listening again */
#define VMID_REQUIRED_TICK_MS 500
/* re-checks a batch of syncs takes along */
#define VMID_RECHECKS_PER_BATCH 16
/* threads syncing a batch besides its own, one per so many domains */
#define VMID_SYNC_THREADS 3
#define VMID_SYNCS_PER_THREAD 8

typedef struct {
    vmidConn *vc;
    char *uuid;
    char *name;
    gboolean hasElement;
    gboolean required;      /* the element's required='yes' */
    char *unmonitored;      /* resumed without its tool on purpose: when, or NULL */
    char *pausedReason;     /* the daemon paused it (its live record): why, or NULL */
    char *pausedSince;      /* and when */
    char *sourcePath;       /* a unix source's socket; NULL: vsock */
    guint rehookLimit;      /* s: reconnect interval + handshake timeout + 1 */
    guint handshakeTimeout; /* s */
    vmidRequired req;
    vmiSyncResult sync;
    guint ownDefines;       /* DEFINED events still to come of our defines */
    char *error;            /* why the last sync failed, or NULL */
    gint64 syncSince;       /* when @sync last changed, µs since the epoch */
    vmidLive live;
    vmidLogTail *log;       /* while it runs */
    gint64 attachedAtStart; /* this run: when the daemon attached it live, µs; 0: not */
    char *attachError;      /* this run: why that attach failed, or NULL */
} vmidDomain;

struct _vmidConn {
    char *uri;
    vmiWatch *watch;
    guint syncId;
    GHashTable *pending;    /* UUIDs to sync */
    GHashTable *rechecks;   /* UUIDs a DEFINED event came for while their batch ran */
    GHashTable *domains;    /* UUID -> vmidDomain */
    vmidConnChangeFunc changed;
    gpointer changedOpaque;
    guint requiredTick;     /* VMID_REQUIRED_TICK_MS */
    guint requiredIdle;     /* a look at the required domains, after an event */
    guint ops;              /* syncs, pauses, resumes, attaches under way in threads */
    gboolean syncing;       /* a batch of syncs runs */
    GHashTable *batch;      /* the UUIDs of the batch under way */
    GHashTable *definedMeanwhile; /* of those, the ones a DEFINED event came for */
    guint opsDone;          /* pauses, resumes, attaches ended: their records are newer
                             * than what a batch of syncs under way read */
    GHashTable *attachAtStart; /* UUIDs the hook let start without arguments */
    GHashTable *secrets;    /* secret UUID -> virSecretPtr, of this connection */
};

static void vmidConnCheckRequiredSoon(vmidConn *vc);
static void vmidAttachLaunch(vmidDomain *d);

static void
vmidSecretFree(gpointer secret)
{
    virSecretFree(secret);
}


static void
vmidDomainFree(vmidDomain *d)
{
    vmidLogTailFree(d->log);
    vmidLiveClear(&d->live);
    g_free(d->uuid);
    g_free(d->name);
    g_free(d->error);
    g_free(d->unmonitored);
    g_free(d->pausedReason);
    g_free(d->pausedSince);
    g_free(d->sourcePath);
    g_free(d->attachError);
    g_free(d);
}


static void
vmidDomainChanged(vmidDomain *d)
{
    if (d->required)
        vmidConnCheckRequiredSoon(d->vc);
    if (d->hasElement && d->vc->changed)
        d->vc->changed(d->vc, d->uuid, d->vc->changedOpaque);
}


static void
vmidDomainOnLogLine(const char *line, gpointer opaque)
{
    vmidDomain *d = opaque;

    if (vmidLiveLogLine(&d->live, line, vmidLiveLineTime(line, g_get_real_time()))) {
        g_debug("domain '%s': %s", d->name, vmidLiveStateToString(d->live.state));
        /* attached by hand meanwhile (virt-vmi attach --live) */
        if (d->live.state == VMID_LIVE_HOOKED)
            g_clear_pointer(&d->attachError, g_free);
        vmidDomainChanged(d);
    }
}


/* QEMU runs: its state from the log of this run on. */
static void
vmidDomainRunning(vmidDomain *d)
{
    g_autofree char *log = NULL;

    if (!d->hasElement)
        return;
    vmidLiveStarted(&d->live, g_get_real_time());
    vmidRequiredReset(&d->req);
    vmidLogTailFree(d->log);
    log = g_strdup_printf("%s/%s.log", VMI_QEMU_LOG_DIR, d->name);
    d->log = vmidLogTailNew(log, vmidDomainOnLogLine, d);
    d->attachedAtStart = 0;
    g_clear_pointer(&d->attachError, g_free);
    /* before the required check this change schedules: the attach pauses
     * a required domain itself, and holds the check off meanwhile */
    if (g_hash_table_remove(d->vc->attachAtStart, d->uuid))
        vmidAttachLaunch(d);
    vmidDomainChanged(d);
}


static void
vmidDomainStopped(vmidDomain *d)
{
    g_clear_pointer(&d->log, vmidLogTailFree);
    g_clear_pointer(&d->unmonitored, g_free);
    g_clear_pointer(&d->pausedReason, g_free);
    g_clear_pointer(&d->pausedSince, g_free);
    g_clear_pointer(&d->attachError, g_free);
    d->attachedAtStart = 0;
    vmidRequiredReset(&d->req);
    vmidLiveStopped(&d->live, g_get_real_time());
    vmidDomainChanged(d);
}


static const char *
vmidSyncName(vmiSyncResult sync)
{
    switch (sync) {
    case VMI_SYNC_INVALID:
        return "invalid";
    case VMI_SYNC_FAILED:
        return "failed";
    case VMI_SYNC_IN_STEP:
    case VMI_SYNC_CHANGED:
    default:
        return "in-step";
    }
}


/* One domain's sync, done in a thread; applied on the main loop. */
typedef struct {
    char *uuid;
    vmiSyncResult result;
    /* what the main loop needs of the domain; its XML is freed in the
     * thread, so that a batch of 500 does not hold 500 documents */
    char *name;             /* NULL: undefined meanwhile, or transient */
    gboolean running;
    gboolean hasElement;
    vmiDef *def;            /* the element, if valid */
    GPtrArray *changes;
    GError *err;
    char *unmonitored;
    char *pausedReason;     /* the daemon's record of its pause (live metadata) */
    char *pausedSince;
} vmidSyncItem;

typedef struct {
    vmidConn *vc;
    vmiConn *conn;          /* a handle of the thread's own */
    GPtrArray *uuids;
    GPtrArray *items;       /* one per UUID, in their order */
    gint next;              /* the next UUID to sync */
    guint opsDone;          /* the connection's when the batch began */
} vmidSyncBatch;


static void
vmidSyncItemFree(vmidSyncItem *item)
{
    g_free(item->uuid);
    g_free(item->name);
    vmiDefFree(item->def);
    g_ptr_array_unref(item->changes);
    g_clear_error(&item->err);
    g_free(item->unmonitored);
    g_free(item->pausedReason);
    g_free(item->pausedSince);
    g_free(item);
}


static void
vmidSyncBatchFree(vmidSyncBatch *batch)
{
    vmiConnClose(batch->conn);
    g_ptr_array_unref(batch->uuids);
    g_ptr_array_unref(batch->items);
    g_free(batch);
}


static vmidSyncItem *
vmidSyncOne(vmiConn *conn, const char *uuid)
{
    vmidSyncItem *item = g_new0(vmidSyncItem, 1);
    g_autoptr(vmiDomain) dom = NULL;

    item->uuid = g_strdup(uuid);
    item->changes = g_ptr_array_new_with_free_func(g_free);
    item->result = vmiDomainSync(conn, item->uuid, &dom, item->changes, &item->err);
    if (dom) {
        item->name = g_strdup(dom->name);
        item->running = dom->running;
        item->hasElement = dom->xml->vmi != NULL;
        if (item->hasElement && item->result != VMI_SYNC_INVALID)
            item->def = vmiDomainGetDef(dom, NULL);
        item->unmonitored = vmiDomainGetUnmonitored(dom);
        /* what a restarted daemon goes on from */
        if (dom->running)
            vmiDomainGetPausedRecord(dom->dom, &item->pausedReason, &item->pausedSince);
    }
    return item;
}


/* Takes the batch's next domain until none is left. */
static gpointer
vmidSyncWorker(gpointer data)
{
    vmidSyncBatch *batch = data;
    guint i;

    while ((i = (guint)g_atomic_int_add(&batch->next, 1)) < batch->uuids->len)
        batch->items->pdata[i] = vmidSyncOne(batch->conn, batch->uuids->pdata[i]);
    return NULL;
}


/*
 * Several domains at a time: each define has libvirtd write and flush the
 * definition's file, and other domains' calls go on meanwhile (a start-up
 * of 500 domains out of step took 1.3 to 1.5 times a plain client's 500
 * defines with four threads, 1.6 to 2.2 times with one: bench/RESULTS.md).
 */
static void
vmidSyncBatchRun(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
    vmidSyncBatch *batch = data;
    guint n = MIN(VMID_SYNC_THREADS, batch->uuids->len / VMID_SYNCS_PER_THREAD);
    GThread *threads[VMID_SYNC_THREADS];
    guint i;

    g_ptr_array_set_size(batch->items, batch->uuids->len);
    for (i = 0; i < n; i++)
        threads[i] = g_thread_new("sync", vmidSyncWorker, batch);
    vmidSyncWorker(batch);
    for (i = 0; i < n; i++)
        g_thread_join(threads[i]);
    g_task_return_boolean(task, TRUE);
}


static void
vmidConnSyncApply(vmidConn *vc, vmidSyncItem *item, gboolean recordsCurrent)
{
    vmiSyncResult result = item->result;
    const char *uuid = item->uuid;
    vmidDomain *d;
    guint i;

    if (!item->name) {
        /* undefined meanwhile, or a transient domain: nothing to keep */
        g_hash_table_remove(vc->domains, uuid);
        return;
    }
    if (!(d = g_hash_table_lookup(vc->domains, uuid))) {
        recordsCurrent = TRUE;
        d = g_new0(vmidDomain, 1);
        d->vc = vc;
        d->uuid = g_strdup(uuid);
        d->sync = result;
        d->syncSince = g_get_real_time();
        vmidLiveInit(&d->live, vmiAttrs[VMI_ATTR_TIMEOUTS_UNHOOK].defaultValue);
        g_hash_table_insert(vc->domains, g_strdup(uuid), d);
    }
    g_free(d->name);
    d->name = g_strdup(item->name);
    d->hasElement = item->hasElement;
    if (vmidSyncName(d->sync) != vmidSyncName(result))
        d->syncSince = g_get_real_time();
    d->sync = result;
    /* our define's event is still to come, unless one came while the batch
     * ran: that one was queued for a check, as any other */
    if (result == VMI_SYNC_CHANGED && !g_hash_table_contains(vc->definedMeanwhile, uuid))
        d->ownDefines++;
    if (d->hasElement && result != VMI_SYNC_INVALID) {
        const vmiDef *def = item->def;

        if (def) {
            d->live.unhookTimeout = vmiDefUnhookTimeout(def);
            d->required = def->required;
            d->rehookLimit = vmiStatusRehookLimit(def);
            d->handshakeTimeout = vmiDefHandshakeTimeout(def);
            g_free(d->sourcePath);
            d->sourcePath = def->source.type == VMI_SOURCE_UNIX ?
                            g_strdup(def->source.path) : NULL;
        }
    } else {
        d->required = FALSE;
    }
    g_free(d->unmonitored);
    d->unmonitored = g_steal_pointer(&item->unmonitored);
    /* a pause, resume or attach of the daemon's under way, or ended while
     * the batch ran, knows better than what the batch read */
    if (!d->req.busy && recordsCurrent) {
        g_free(d->pausedReason);
        g_free(d->pausedSince);
        d->pausedReason = g_steal_pointer(&item->pausedReason);
        d->pausedSince = g_steal_pointer(&item->pausedSince);
    }
    if (d->unmonitored)
        g_warning("domain '%s' (%s): runs without its introspection tool, on purpose, "
                  "since %s (virt-vmi resume --unmonitored)", item->name, uuid, d->unmonitored);
    /* first seen running (start-up, reconnection, a new element) */
    if (item->running && d->hasElement && !d->log)
        vmidDomainRunning(d);
    else if ((!item->running || !d->hasElement) && d->log)
        vmidDomainStopped(d);
    g_clear_pointer(&d->error, g_free);
    if (item->err) {
        d->error = g_strdup(item->err->message);
        g_warning("domain '%s' (%s): %s", item->name, uuid, item->err->message);
    }
    for (i = 0; i < item->changes->len; i++)
        g_message("domain '%s' (%s): %s", item->name, uuid, (char *)item->changes->pdata[i]);
    vmidDomainChanged(d);
}


static void vmidConnSyncLaunch(vmidConn *vc);

static void
vmidSyncBatchDone(GObject *source, GAsyncResult *res, gpointer data)
{
    vmidSyncBatch *batch = data;
    vmidConn *vc = batch->vc;

    vc->ops--;
    vc->syncing = FALSE;
    for (guint i = 0; i < batch->items->len; i++)
        vmidConnSyncApply(vc, g_ptr_array_index(batch->items, i),
                          batch->opsDone == vc->opsDone);
    vmidSyncBatchFree(batch);
    g_hash_table_remove_all(vc->batch);
    g_hash_table_remove_all(vc->definedMeanwhile);
    /* what was queued meanwhile */
    if ((g_hash_table_size(vc->pending) || g_hash_table_size(vc->rechecks)) && !vc->syncId)
        vmidConnSyncLaunch(vc);
}


static void
vmidConnSyncLaunch(vmidConn *vc)
{
    vmiConn *conn = vmiWatchGetConn(vc->watch);
    g_autoptr(GTask) task = NULL;
    vmidSyncBatch *batch;
    GHashTableIter iter;
    gpointer uuid;

    if (!conn || vc->syncing)
        return;
    batch = g_new0(vmidSyncBatch, 1);
    batch->vc = vc;
    batch->conn = vmiConnShare(conn);
    batch->uuids = g_ptr_array_new_with_free_func(g_free);
    batch->items = g_ptr_array_new_with_free_func((GDestroyNotify)vmidSyncItemFree);
    batch->opsDone = vc->opsDone;
    g_hash_table_iter_init(&iter, vc->pending);
    while (g_hash_table_iter_next(&iter, &uuid, NULL)) {
        g_ptr_array_add(batch->uuids, g_strdup(uuid));
        g_hash_table_add(vc->batch, g_strdup(uuid));
    }
    g_hash_table_remove_all(vc->pending);
    /* re-checks (mostly of our own defines) a few at a time, behind
     * anything new: after a start-up that synced 500 domains, an edit
     * waits for a few of them, not for all */
    g_hash_table_iter_init(&iter, vc->rechecks);
    while (batch->uuids->len < VMID_RECHECKS_PER_BATCH &&
           g_hash_table_iter_next(&iter, &uuid, NULL)) {
        if (g_hash_table_add(vc->batch, g_strdup(uuid)))
            g_ptr_array_add(batch->uuids, g_strdup(uuid));
        g_hash_table_iter_remove(&iter);
    }
    vc->syncing = TRUE;
    vc->ops++;
    task = g_task_new(NULL, NULL, vmidSyncBatchDone, batch);
    g_task_set_task_data(task, batch, NULL);
    g_task_run_in_thread(task, vmidSyncBatchRun);
}


static gboolean
vmidConnSyncPending(gpointer opaque)
{
    vmidConn *vc = opaque;

    vc->syncId = 0;
    /* a batch under way: its end launches the next */
    vmidConnSyncLaunch(vc);
    return G_SOURCE_REMOVE;
}


static void
vmidConnQueue(vmidConn *vc, const char *uuid)
{
    g_debug("%s: domain %s queued for a sync", vc->uri, uuid);
    g_hash_table_add(vc->pending, g_strdup(uuid));
    if (!vc->syncId && !vc->syncing)
        vc->syncId = g_idle_add(vmidConnSyncPending, vc);
}


static void
vmidConnOnDomainEvent(const char *uuid, vmiWatchEvent event, gpointer opaque)
{
    vmidConn *vc = opaque;
    vmidDomain *d = g_hash_table_lookup(vc->domains, uuid);

    switch (event) {
    case VMI_WATCH_DEFINED:
        /* the oldest define of ours whose event has not come: this is it */
        if (d && d->ownDefines > 0) {
            d->ownDefines--;
            break;
        }
        /* ours or another client's: checked again after the batch */
        if (g_hash_table_contains(vc->batch, uuid)) {
            g_hash_table_add(vc->definedMeanwhile, g_strdup(uuid));
            g_hash_table_add(vc->rechecks, g_strdup(uuid));
            break;
        }
        vmidConnQueue(vc, uuid);
        break;
    case VMI_WATCH_ELEMENT_CHANGED:
        vmidConnQueue(vc, uuid);
        break;
    case VMI_WATCH_UNDEFINED:
        g_hash_table_remove(vc->domains, uuid);
        if (g_hash_table_remove(vc->attachAtStart, uuid))
            vmidMarkRemove(VMI_VMID_MARKS_DIR, uuid);
        break;
    case VMI_WATCH_STARTED:
        if (d)
            vmidDomainRunning(d);
        else
            vmidConnQueue(vc, uuid);
        break;
    case VMI_WATCH_STOPPED:
        if (d)
            vmidDomainStopped(d);
        break;
    case VMI_WATCH_RESUMED:
        if (d && d->required)
            vmidRequiredResumed(&d->req, g_get_real_time(), d->rehookLimit);
        if (d && vmidLiveResumed(&d->live, g_get_real_time()))
            vmidDomainChanged(d);
        else if (d && d->required)
            vmidConnCheckRequiredSoon(vc);
        break;
    }
}


/* --- required='yes': the daemon's pauses and resumes ------------------- */

typedef struct {
    vmidConn *vc;
    char *uuid;
    char *name;
    virDomainPtr dom;
    vmidRequiredAction action;
    const char *reason;     /* PAUSE: a vmidPausedReason string */
} vmidRequiredOp;


static void
vmidRequiredOpFree(vmidRequiredOp *op)
{
    virDomainFree(op->dom);
    g_free(op->uuid);
    g_free(op->name);
    g_free(op);
}


/*
 * In a thread: a tool that hooked meanwhile makes QEMU hold the `stop`
 * until it unhooks, and another client's job makes libvirt wait for its
 * lock; neither may stall the main loop (the hook asks it for keys).
 */
static void
vmidRequiredOpRun(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
    vmidRequiredOp *op = data;
    GError *err = NULL;

    switch (op->action) {
    case VMID_REQUIRED_PAUSE:
        /* the record first: whoever sees it paused sees why */
        if (!vmiDomainRecordPaused(op->dom, op->reason, &err))
            break;
        if (virDomainSuspend(op->dom) < 0) {
            vmiSetLibvirtError(&err, "cannot pause domain '%s'", op->name);
            vmiDomainRecordPaused(op->dom, NULL, NULL);
        }
        break;
    case VMID_REQUIRED_RESUME:
        if (virDomainResume(op->dom) < 0) {
            vmiSetLibvirtError(&err, "cannot resume domain '%s'", op->name);
            break;
        }
        /* left behind on a failure, the record goes once the tool hooks */
        vmiDomainRecordPaused(op->dom, NULL, NULL);
        break;
    case VMID_REQUIRED_FORGET:
        vmiDomainRecordPaused(op->dom, NULL, &err);
        break;
    case VMID_REQUIRED_NOTHING:
        break;
    }
    if (err)
        g_task_return_error(task, err);
    else
        g_task_return_boolean(task, TRUE);
}


static void
vmidRequiredOpLog(vmidDomain *d, const vmidRequiredOp *op)
{
    switch (op->action) {
    case VMID_REQUIRED_PAUSE:
        g_message("domain '%s' (%s): paused: its introspection is required (required='yes') "
                  "and no tool is hooked (%s)", op->name, op->uuid, op->reason);
        break;
    case VMID_REQUIRED_RESUME:
        g_message("domain '%s' (%s): resumed: a tool listens at %s again; it has %u s to hook",
                  op->name, op->uuid, d ? d->sourcePath : "its socket", d ? d->rehookLimit : 0);
        break;
    case VMID_REQUIRED_FORGET:
        g_debug("domain '%s': hooked again, the record of the pause removed", op->name);
        break;
    case VMID_REQUIRED_NOTHING:
        break;
    }
}


static void
vmidRequiredOpDone(GObject *source, GAsyncResult *res, gpointer data)
{
    vmidRequiredOp *op = data;
    vmidDomain *d = g_hash_table_lookup(op->vc->domains, op->uuid);
    g_autoptr(GError) err = NULL;

    op->vc->ops--;
    op->vc->opsDone++;
    g_task_propagate_boolean(G_TASK(res), &err);
    if (err)
        g_warning("domain '%s' (%s): %s", op->name, op->uuid, err->message);
    else
        vmidRequiredOpLog(d, op);
    if (d) {
        d->req.busy = FALSE;
        if (err && op->action == VMID_REQUIRED_RESUME)
            d->req.resuming = FALSE;
        g_free(d->pausedReason);
        g_free(d->pausedSince);
        vmiDomainGetPausedRecord(op->dom, &d->pausedReason, &d->pausedSince);
        vmidDomainChanged(d);
    }
    vmidRequiredOpFree(op);
}


/* @dom: taken */
static void
vmidRequiredLaunch(vmidDomain *d, virDomainPtr dom, vmidRequiredAction action,
                   const char *reason)
{
    vmidRequiredOp *op = g_new0(vmidRequiredOp, 1);
    g_autoptr(GTask) task = NULL;

    op->vc = d->vc;
    op->uuid = g_strdup(d->uuid);
    op->name = g_strdup(d->name);
    op->dom = dom;
    op->action = action;
    op->reason = reason;
    d->req.busy = TRUE;
    if (action == VMID_REQUIRED_RESUME)
        d->req.resuming = TRUE;
    d->vc->ops++;
    task = g_task_new(NULL, NULL, vmidRequiredOpDone, op);
    g_task_set_task_data(task, op, NULL);
    g_task_run_in_thread(task, vmidRequiredOpRun);
}


static vmidVcpus
vmidDomainVcpus(virDomainPtr dom)
{
    int state = VIR_DOMAIN_NOSTATE;

    if (virDomainGetState(dom, &state, NULL, 0) < 0) {
        virResetLastError();
        return VMID_VCPUS_OFF;
    }
    if (state == VIR_DOMAIN_RUNNING)
        return VMID_VCPUS_RUNNING;
    return state == VIR_DOMAIN_PAUSED ? VMID_VCPUS_PAUSED : VMID_VCPUS_OFF;
}


/* --- a domain defined and started at once: attached live --------------- */

typedef struct {
    vmidConn *vc;
    vmiConn *conn;          /* a handle of the thread's own */
    char *uuid;
    char *name;
    gboolean required;
    gboolean attached;      /* out: introspection attached */
    gboolean paused;        /* out: paused first (required='yes') */
    char *pausedReason;     /* out: the record of that pause */
    char *pausedSince;
} vmidAttachOp;


static void
vmidAttachOpFree(vmidAttachOp *op)
{
    vmiConnClose(op->conn);
    g_free(op->uuid);
    g_free(op->name);
    g_free(op->pausedReason);
    g_free(op->pausedSince);
    g_free(op);
}


/* The live definition, when it has the element and none of our arguments:
 * what the hook let start as it is. */
static gboolean
vmidAttachNeeded(vmiDomain *dom, GError **error)
{
    g_autofree char *xml = NULL;
    vmiDomainXML *live;

    if (!dom->running ||
        !(xml = vmiDomainGetXML(dom->dom, FALSE, error)) ||
        !(live = vmiDomainXMLParseString(xml, dom->name, error)))
        return FALSE;
    /* vmiDomainAttachLive attaches what the running definition says */
    vmiDomainXMLFree(dom->xml);
    dom->xml = live;
    return live->vmi && !vmiSyncHasArgs(live);
}


/*
 * In a thread. A required domain is paused first, as the daemon pauses one
 * that runs without its tool: QEMU records any `stop` whether or not an
 * introspection object exists yet (docs/kvmi.rst), so the object added
 * while paused connects only after the resume, which the daemon's
 * required handling gives once a tool listens; the guest runs unmonitored
 * only from that resume to the handshake.
 */
static void
vmidAttachOpRun(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
    vmidAttachOp *op = data;
    g_autoptr(vmiDomain) dom = NULL;
    GError *err = NULL;

    if (!(dom = vmiDomainLoad(op->conn, op->uuid, 0, &err)) || !vmidAttachNeeded(dom, &err)) {
        if (err)
            g_task_return_error(task, err);
        else
            g_task_return_boolean(task, TRUE);
        return;
    }
    /* a monitor command waits for libvirt's start job, which may not have
     * resumed the vCPUs yet (the domain runs from QEMU's launch on) */
    if (op->required)
        g_free(vmiDomainQemuMonitor(dom->dom, "{\"execute\":\"query-status\"}", NULL));
    if (op->required && !vmiDomainIsPaused(dom->dom)) {
        if (!vmiDomainRecordPaused(dom->dom,
                                   vmidPausedReasonToString(VMID_PAUSED_NOT_HOOKED_AT_START),
                                   &err)) {
            g_task_return_error(task, err);
            return;
        }
        if (virDomainSuspend(dom->dom) < 0) {
            /* attached all the same: the required handling pauses it later */
            vmiSetLibvirtError(&err, "cannot pause domain '%s'", op->name);
            g_warning("domain '%s' (%s): %s", op->name, op->uuid, err->message);
            g_clear_error(&err);
            vmiDomainRecordPaused(dom->dom, NULL, NULL);
        } else {
            op->paused = TRUE;
        }
        vmiDomainGetPausedRecord(dom->dom, &op->pausedReason, &op->pausedSince);
    }
    if (!vmiDomainAttachLive(op->conn, dom, &err)) {
        g_task_return_error(task, err);
        return;
    }
    op->attached = TRUE;
    g_task_return_boolean(task, TRUE);
}


static void
vmidAttachOpDone(GObject *source, GAsyncResult *res, gpointer data)
{
    vmidAttachOp *op = data;
    vmidDomain *d = g_hash_table_lookup(op->vc->domains, op->uuid);
    g_autoptr(GError) err = NULL;

    op->vc->ops--;
    op->vc->opsDone++;
    /* kept until now: a daemon killed during the attach does it again */
    vmidMarkRemove(VMI_VMID_MARKS_DIR, op->uuid);
    g_task_propagate_boolean(G_TASK(res), &err);
    if (err)
        g_warning("domain '%s' (%s): started without introspection arguments, and the live "
                  "attach failed%s: %s", op->name, op->uuid,
                  op->paused ? " (it stays paused: required='yes')" : "", err->message);
    else if (op->attached)
        g_message("domain '%s' (%s): started without introspection arguments (defined and "
                  "started at once): introspection attached live%s", op->name, op->uuid,
                  op->paused ? ", the guest paused first (required='yes') until a tool "
                  "listens" : "");
    if (!d)
        goto out;
    d->req.busy = FALSE;
    if (err)
        d->attachError = g_strdup(err->message);
    else if (op->attached)
        d->attachedAtStart = g_get_real_time();
    if (op->required) {
        g_free(d->pausedReason);
        g_free(d->pausedSince);
        d->pausedReason = g_steal_pointer(&op->pausedReason);
        d->pausedSince = g_steal_pointer(&op->pausedSince);
    }
    vmidDomainChanged(d);
 out:
    vmidAttachOpFree(op);
}


static void
vmidAttachLaunch(vmidDomain *d)
{
    vmiConn *conn = vmiWatchGetConn(d->vc->watch);
    g_autoptr(GTask) task = NULL;
    vmidAttachOp *op;

    if (!conn)
        return;
    op = g_new0(vmidAttachOp, 1);
    op->vc = d->vc;
    op->conn = vmiConnShare(conn);
    op->uuid = g_strdup(d->uuid);
    op->name = g_strdup(d->name);
    op->required = d->required;
    /* holds the required handling off until the attach is done */
    d->req.busy = TRUE;
    d->vc->ops++;
    task = g_task_new(NULL, NULL, vmidAttachOpDone, op);
    g_task_set_task_data(task, op, NULL);
    g_task_run_in_thread(task, vmidAttachOpRun);
}


/* The hook lets @uuid start without our arguments: attached at its start. */
gboolean
vmidConnExpectAttach(vmidConn *vc, const char *uuid, GError **error)
{
    if (!vmiWatchGetConn(vc->watch)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "not connected to %s", vc->uri);
        return FALSE;
    }
    if (!vmidMarkAdd(VMI_VMID_MARKS_DIR, vc->uri, uuid, error))
        return FALSE;
    g_hash_table_add(vc->attachAtStart, g_strdup(uuid));
    g_message("domain %s: starts without introspection arguments (defined and started at "
              "once, before the daemon synced it): attached live once it runs", uuid);
    return TRUE;
}


/* A required domain: running without its tool, or paused by the daemon
 * with a tool listening again? (docs/how-it-works.rst) */
static void
vmidDomainCheckRequired(vmidDomain *d)
{
    vmiConn *conn = vmiWatchGetConn(d->vc->watch);
    vmidRequiredInput in = { 0 };
    vmidPausedReason reason = VMID_PAUSED_NOT_HOOKED_AT_START;
    vmidRequiredAction action;
    virDomainPtr dom;

    /* a failed attach at start: left paused for whoever fixes it */
    if (!d->required || !d->hasElement || !d->log || d->unmonitored || d->req.busy || !conn ||
        d->attachError)
        return;
    if (!(dom = virDomainLookupByUUIDString(conn->conn, d->uuid))) {
        virResetLastError();
        return;
    }
    in.vcpus = vmidDomainVcpus(dom);
    in.live = &d->live;
    in.pausedByUs = d->pausedReason != NULL;
    in.rehookLimit = d->rehookLimit;
    in.handshakeTimeout = d->handshakeTimeout;
    if (in.vcpus == VMID_VCPUS_PAUSED && in.pausedByUs && d->sourcePath) {
        g_autoptr(GError) err = NULL;

        if (!vmiUnixFileListening(d->sourcePath, &in.listening, &err))
            g_debug("domain '%s': %s", d->name, err->message);
    }
    action = vmidRequiredDecide(&d->req, &in, g_get_real_time(), &reason);
    if (action == VMID_REQUIRED_NOTHING) {
        virDomainFree(dom);
        return;
    }
    vmidRequiredLaunch(d, dom, action,
                       action == VMID_REQUIRED_PAUSE ? vmidPausedReasonToString(reason) : NULL);
}


/* Whether @d waits for something no event announces: a tool listening
 * again (a paused domain of the daemon's), or the end of a resumed
 * guest's time to hook or of a handshake's. */
static gboolean
vmidDomainRequiredWaits(vmidDomain *d)
{
    return d->required && d->hasElement && !d->unmonitored &&
        (d->pausedReason || d->req.graceUntil || d->live.state == VMID_LIVE_CONNECTED);
}


static gboolean vmidConnRequiredTick(gpointer opaque);

/* The tick runs only while a domain waits (vmidDomainRequiredWaits):
 * an idle daemon has no timer. */
static void
vmidConnUpdateRequiredTick(vmidConn *vc)
{
    GHashTableIter iter;
    gpointer value;
    gboolean waits = FALSE;

    g_hash_table_iter_init(&iter, vc->domains);
    while (!waits && g_hash_table_iter_next(&iter, NULL, &value))
        waits = vmidDomainRequiredWaits(value);
    if (waits && !vc->requiredTick)
        vc->requiredTick = g_timeout_add(VMID_REQUIRED_TICK_MS, vmidConnRequiredTick, vc);
    else if (!waits && vc->requiredTick)
        g_clear_handle_id(&vc->requiredTick, g_source_remove);
}


static void
vmidConnCheckRequired(vmidConn *vc)
{
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, vc->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        vmidDomainCheckRequired(value);
    vmidConnUpdateRequiredTick(vc);
}


static gboolean
vmidConnRequiredTick(gpointer opaque)
{
    vmidConn *vc = opaque;

    /* vmidConnCheckRequired decides whether the tick goes on */
    vc->requiredTick = 0;
    vmidConnCheckRequired(vc);
    return G_SOURCE_REMOVE;
}


static gboolean
vmidConnRequiredIdle(gpointer opaque)
{
    vmidConn *vc = opaque;

    vc->requiredIdle = 0;
    vmidConnCheckRequired(vc);
    return G_SOURCE_REMOVE;
}


/* From the main loop, never from libvirt's event dispatch. */
static void
vmidConnCheckRequiredSoon(vmidConn *vc)
{
    if (!vc->requiredIdle)
        vc->requiredIdle = g_idle_add(vmidConnRequiredIdle, vc);
}



/* (Re)connected: every domain is checked again. */
static void
vmidConnOnConnected(gpointer opaque)
{
    vmidConn *vc = opaque;
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) uuids = vmiConnListPersistentDomains(vmiWatchGetConn(vc->watch), &err);

    g_hash_table_remove_all(vc->domains);
    g_hash_table_remove_all(vc->secrets);
    if (!uuids) {
        g_warning("%s: %s", vc->uri, err->message);
        return;
    }
    for (char **u = uuids; *u; u++)
        vmidConnQueue(vc, *u);
}


vmidConn *
vmidConnNew(const char *uri)
{
    static const vmiWatchCallbacks cb = { vmidConnOnConnected, vmidConnOnDomainEvent };
    vmidConn *vc = g_new0(vmidConn, 1);
    g_autoptr(GPtrArray) marks = vmidMarksLoad(VMI_VMID_MARKS_DIR, uri);

    vc->uri = g_strdup(uri);
    vc->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    vc->rechecks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    vc->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify)vmidDomainFree);
    vc->attachAtStart = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    vc->secrets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, vmidSecretFree);
    /* a promise an earlier daemon made: kept at the domain's start, or at
     * once if it runs already (the first sync finds it running) */
    for (guint i = 0; i < marks->len; i++) {
        g_message("domain %s: to be attached at its start, as promised to the hook before "
                  "this daemon started", (char *)marks->pdata[i]);
        g_hash_table_add(vc->attachAtStart, g_strdup(marks->pdata[i]));
    }
    vc->batch = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    vc->definedMeanwhile = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    vc->watch = vmiWatchNew(uri, &cb, vc);
    return vc;
}


void
vmidConnFree(vmidConn *vc)
{
    if (!vc)
        return;
    if (vc->syncId)
        g_source_remove(vc->syncId);
    if (vc->requiredTick)
        g_source_remove(vc->requiredTick);
    if (vc->requiredIdle)
        g_source_remove(vc->requiredIdle);
    /* the handles hold the connection */
    g_hash_table_unref(vc->secrets);
    vmiWatchFree(vc->watch);
    g_hash_table_unref(vc->pending);
    g_hash_table_unref(vc->rechecks);
    g_hash_table_unref(vc->domains);
    g_hash_table_unref(vc->attachAtStart);
    g_hash_table_unref(vc->batch);
    g_hash_table_unref(vc->definedMeanwhile);
    g_free(vc->uri);
    g_free(vc);
}


static void
vmidGenString(yajl_gen gen, const char *key, const char *value)
{
    yajl_gen_string(gen, (const unsigned char *)key, strlen(key));
    if (value)
        yajl_gen_string(gen, (const unsigned char *)value, strlen(value));
    else
        yajl_gen_null(gen);
}


/* @us: µs since the epoch, as ISO 8601 with milliseconds; 0: null */
static void
vmidGenTime(yajl_gen gen, const char *key, gint64 us)
{
    g_autoptr(GDateTime) when = us ? g_date_time_new_from_unix_utc(us / G_USEC_PER_SEC) : NULL;
    g_autofree char *seconds = when ? g_date_time_format(when, "%Y-%m-%dT%H:%M:%S") : NULL;
    g_autofree char *text = NULL;

    if (seconds)
        text = g_strdup_printf("%s.%03dZ", seconds, (int)(us % G_USEC_PER_SEC / 1000));
    vmidGenString(gen, key, text);
}


static void
vmidGenInt(yajl_gen gen, const char *key, long long value)
{
    yajl_gen_string(gen, (const unsigned char *)key, strlen(key));
    if (value < 0)
        yajl_gen_null(gen);
    else
        yajl_gen_integer(gen, value);
}


void
vmidConnDescribeSelf(vmidConn *vc, yajl_gen gen)
{
    yajl_gen_map_open(gen);
    vmidGenString(gen, "uri", vc->uri);
    yajl_gen_string(gen, (const unsigned char *)"connected", strlen("connected"));
    yajl_gen_bool(gen, vmiWatchGetConn(vc->watch) != NULL);
    yajl_gen_map_close(gen);
}


static void
vmidDomainDescribe(vmidDomain *d, yajl_gen gen)
{
    const vmidLive *live = &d->live;
    /* a definition that cannot run as it is says so first, unless it runs */
    gboolean syncFirst = live->state == VMID_LIVE_NOT_RUNNING && d->sync != VMI_SYNC_IN_STEP &&
                         d->sync != VMI_SYNC_CHANGED;

    yajl_gen_map_open(gen);
    vmidGenString(gen, "name", d->name);
    vmidGenString(gen, "uuid", d->uuid);
    vmidGenString(gen, "uri", d->vc->uri);
    vmidGenString(gen, "state",
                  syncFirst ? vmidSyncName(d->sync) : vmidLiveStateToString(live->state));
    vmidGenTime(gen, "since", syncFirst ? d->syncSince : live->since);
    vmidGenString(gen, "sync", vmidSyncName(d->sync));
    vmidGenTime(gen, "sync_since", d->syncSince);
    vmidGenString(gen, "error", d->error);
    yajl_gen_string(gen, (const unsigned char *)"required", strlen("required"));
    yajl_gen_bool(gen, d->required);
    vmidGenString(gen, "unmonitored", d->unmonitored);
    vmidGenString(gen, "paused_by_daemon", d->pausedReason);
    vmidGenString(gen, "paused_since", d->pausedSince);
    vmidGenTime(gen, "attached_at_start", d->attachedAtStart);
    vmidGenString(gen, "attach_error", d->attachError);
    vmidGenString(gen, "trigger", live->trigger);
    vmidGenTime(gen, "deadline", live->deadline);
    vmidGenString(gen, "reason", live->reason);
    vmidGenTime(gen, "last_handshake", live->lastHandshake);
    vmidGenInt(gen, "last_unhook_ms", live->lastUnhook < 0 ? -1 : live->lastUnhook / 1000);
    vmidGenInt(gen, "reconnects", live->reconnects);
    yajl_gen_map_close(gen);
}


void
vmidConnDescribe(vmidConn *vc, yajl_gen gen)
{
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, vc->domains);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        if (((vmidDomain *)value)->hasElement)
            vmidDomainDescribe(value, gen);
    }
}


gboolean
vmidConnDescribeDomain(vmidConn *vc, const char *uuid, yajl_gen gen)
{
    vmidDomain *d = g_hash_table_lookup(vc->domains, uuid);

    if (!d || !d->hasElement)
        return FALSE;
    vmidDomainDescribe(d, gen);
    return TRUE;
}


gboolean
vmidConnBusy(vmidConn *vc)
{
    return vc->ops > 0;
}


const char *
vmidConnGetURI(vmidConn *vc)
{
    return vc->uri;
}


/*
 * The key of a start, for the hook. The secret's handle is kept (only its
 * UUID: libvirt finds the secret again on every call, and the value is
 * never kept), which spares the start one round trip to libvirtd of the
 * two. A handle that fails is dropped and the secret looked up afresh,
 * for the error a lookup gives; a new connection starts with none
 * (vmidConnOnConnected).
 */
vmiKey *
vmidConnGetKey(vmidConn *vc, const char *secretUUID, GError **error)
{
    vmiConn *conn = vmiWatchGetConn(vc->watch);
    virSecretPtr secret;
    vmiKey *key;

    if (!conn) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "not connected to %s", vc->uri);
        return NULL;
    }
    if ((secret = g_hash_table_lookup(vc->secrets, secretUUID))) {
        if ((key = vmiSecretReadKey(secret, secretUUID, NULL)))
            return key;
        virResetLastError();
        g_hash_table_remove(vc->secrets, secretUUID);
    }
    if (!(secret = vmiSecretLookup(conn->secrets, secretUUID, error)))
        return NULL;
    g_hash_table_insert(vc->secrets, g_strdup(secretUUID), secret);
    return vmiSecretReadKey(secret, secretUUID, error);
}


void
vmidConnSetChangeFunc(vmidConn *vc, vmidConnChangeFunc func, gpointer opaque)
{
    vc->changed = func;
    vc->changedOpaque = opaque;
}
