/*
 * vmid_conn.c: a libvirt connection of virt-vmid
 *
 * Every domain whose element and QEMU arguments are out of step is synced
 * with one virDomainDefineXML: at (re)connection for all domains, then on
 * each DEFINED and METADATA_CHANGE event. A domain in step is never
 * redefined, so the DEFINED event of our own define ends there. Events
 * only queue the domain: the sync runs from an idle source, outside
 * libvirt's event dispatch.
 */
#include <string.h>

#include "daemon/vmid_conn.h"
#include "daemon/vmid_live.h"
#include "daemon/vmid_log.h"
#include "conf/vmi_conf.h"
#include "core/vmi_paths.h"
#include "conf/vmi_error.h"
#include "libvirt/vmi_domain_sync.h"
#include "libvirt/vmi_secret.h"
#include "libvirt/vmi_watch.h"

typedef struct {
    vmidConn *vc;
    char *uuid;
    char *name;
    gboolean hasElement;
    gboolean required;      /* the element's required='yes' */
    char *unmonitored;      /* resumed without its tool on purpose: when, or NULL */
    vmiSyncResult sync;
    char *error;            /* why the last sync failed, or NULL */
    gint64 syncSince;       /* when @sync last changed, µs since the epoch */
    vmidLive live;
    vmidLogTail *log;       /* while it runs */
} vmidDomain;

struct _vmidConn {
    char *uri;
    vmiWatch *watch;
    guint syncId;
    GHashTable *pending;    /* UUIDs to sync */
    GHashTable *domains;    /* UUID -> vmidDomain */
    vmidConnChangeFunc changed;
    gpointer changedOpaque;
};

static void
vmidDomainFree(vmidDomain *d)
{
    vmidLogTailFree(d->log);
    vmidLiveClear(&d->live);
    g_free(d->uuid);
    g_free(d->name);
    g_free(d->error);
    g_free(d->unmonitored);
    g_free(d);
}


static void
vmidDomainChanged(vmidDomain *d)
{
    if (d->hasElement && d->vc->changed)
        d->vc->changed(d->vc, d->uuid, d->vc->changedOpaque);
}


static void
vmidDomainOnLogLine(const char *line, gpointer opaque)
{
    vmidDomain *d = opaque;

    if (vmidLiveLogLine(&d->live, line, vmidLiveLineTime(line, g_get_real_time()))) {
        g_debug("domain '%s': %s", d->name, vmidLiveStateToString(d->live.state));
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
    vmidLogTailFree(d->log);
    log = g_strdup_printf("%s/%s.log", VMI_QEMU_LOG_DIR, d->name);
    d->log = vmidLogTailNew(log, vmidDomainOnLogLine, d);
    vmidDomainChanged(d);
}


static void
vmidDomainStopped(vmidDomain *d)
{
    g_clear_pointer(&d->log, vmidLogTailFree);
    g_clear_pointer(&d->unmonitored, g_free);
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


static void
vmidConnSyncOne(vmidConn *vc, const char *uuid)
{
    g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(GError) err = NULL;
    vmiSyncResult result = vmiDomainSync(vmiWatchGetConn(vc->watch), uuid, &dom, changes, &err);
    vmidDomain *d;
    guint i;

    if (!dom) {
        /* undefined meanwhile, or a transient domain: nothing to keep */
        g_hash_table_remove(vc->domains, uuid);
        return;
    }
    if (!(d = g_hash_table_lookup(vc->domains, uuid))) {
        d = g_new0(vmidDomain, 1);
        d->vc = vc;
        d->uuid = g_strdup(uuid);
        d->sync = result;
        d->syncSince = g_get_real_time();
        vmidLiveInit(&d->live, vmiAttrs[VMI_ATTR_TIMEOUTS_UNHOOK].defaultValue);
        g_hash_table_insert(vc->domains, g_strdup(uuid), d);
    }
    g_free(d->name);
    d->name = g_strdup(dom->name);
    d->hasElement = dom->xml->vmi != NULL;
    if (vmidSyncName(d->sync) != vmidSyncName(result))
        d->syncSince = g_get_real_time();
    d->sync = result;
    if (d->hasElement && result != VMI_SYNC_INVALID) {
        g_autoptr(vmiDef) def = vmiDomainGetDef(dom, NULL);

        if (def) {
            d->live.unhookTimeout = vmiDefUnhookTimeout(def);
            d->required = def->required;
        }
    }
    g_free(d->unmonitored);
    d->unmonitored = vmiDomainGetUnmonitored(dom);
    if (d->unmonitored)
        g_warning("domain '%s' (%s): runs without its introspection tool, on purpose, "
                  "since %s (virt-vmi resume --unmonitored)", dom->name, uuid, d->unmonitored);
    /* first seen running (start-up, reconnection, a new element) */
    if (dom->running && d->hasElement && !d->log)
        vmidDomainRunning(d);
    else if ((!dom->running || !d->hasElement) && d->log)
        vmidDomainStopped(d);
    g_clear_pointer(&d->error, g_free);
    if (err) {
        d->error = g_strdup(err->message);
        g_warning("domain '%s' (%s): %s", dom->name, uuid, err->message);
    }
    for (i = 0; i < changes->len; i++)
        g_message("domain '%s' (%s): %s", dom->name, uuid, (char *)changes->pdata[i]);
    vmidDomainChanged(d);
}


static gboolean
vmidConnSyncPending(gpointer opaque)
{
    vmidConn *vc = opaque;
    g_autoptr(GHashTable) pending = g_steal_pointer(&vc->pending);
    GHashTableIter iter;
    gpointer uuid;

    vc->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    vc->syncId = 0;
    if (!vmiWatchGetConn(vc->watch))
        return G_SOURCE_REMOVE;
    g_hash_table_iter_init(&iter, pending);
    while (g_hash_table_iter_next(&iter, &uuid, NULL))
        vmidConnSyncOne(vc, uuid);
    return G_SOURCE_REMOVE;
}


static void
vmidConnQueue(vmidConn *vc, const char *uuid)
{
    g_debug("%s: domain %s queued for a sync", vc->uri, uuid);
    g_hash_table_add(vc->pending, g_strdup(uuid));
    if (!vc->syncId)
        vc->syncId = g_idle_add(vmidConnSyncPending, vc);
}


static void
vmidConnOnDomainEvent(const char *uuid, vmiWatchEvent event, gpointer opaque)
{
    vmidConn *vc = opaque;
    vmidDomain *d = g_hash_table_lookup(vc->domains, uuid);

    switch (event) {
    case VMI_WATCH_DEFINED:
    case VMI_WATCH_ELEMENT_CHANGED:
        vmidConnQueue(vc, uuid);
        break;
    case VMI_WATCH_UNDEFINED:
        g_hash_table_remove(vc->domains, uuid);
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
        if (d && vmidLiveResumed(&d->live, g_get_real_time()))
            vmidDomainChanged(d);
        break;
    }
}


/* (Re)connected: every domain is checked again. */
static void
vmidConnOnConnected(gpointer opaque)
{
    vmidConn *vc = opaque;
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) uuids = vmiConnListPersistentDomains(vmiWatchGetConn(vc->watch), &err);

    g_hash_table_remove_all(vc->domains);
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

    vc->uri = g_strdup(uri);
    vc->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    vc->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify)vmidDomainFree);
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
    vmiWatchFree(vc->watch);
    g_hash_table_unref(vc->pending);
    g_hash_table_unref(vc->domains);
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


const char *
vmidConnGetURI(vmidConn *vc)
{
    return vc->uri;
}


vmiKey *
vmidConnGetKey(vmidConn *vc, const char *secretUUID, GError **error)
{
    vmiConn *conn = vmiWatchGetConn(vc->watch);

    if (!conn) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "not connected to %s", vc->uri);
        return NULL;
    }
    return vmiSecretGetKey(conn->secrets, secretUUID, error);
}


void
vmidConnSetChangeFunc(vmidConn *vc, vmidConnChangeFunc func, gpointer opaque)
{
    vc->changed = func;
    vc->changedOpaque = opaque;
}
