/*
 * vmi_watch.c: a libvirt connection kept open, and its domain events
 *
 * libvirt's callbacks only record what happened and hand it on; nothing
 * here calls back into libvirt from inside its event dispatch. A closed
 * connection is reopened from a timeout, never from libvirt's close
 * callback, where the connection is still in use.
 */
#include <libvirt/virterror.h>

#include "libvirt/vmi_watch.h"
#include "conf/vmi_conf.h"

#define VMI_WATCH_BACKOFF_MIN_SECONDS 1
#define VMI_WATCH_BACKOFF_MAX_SECONDS 30

struct _vmiWatch {
    char *uri;
    vmiConn *conn;
    int lifecycleId;
    int metadataId;
    guint reconnectId;
    guint backoff;
    vmiWatchCallbacks cb;
    gpointer opaque;
};

static void vmiWatchScheduleReconnect(vmiWatch *watch);


static void
vmiWatchReport(vmiWatch *watch, virDomainPtr dom, vmiWatchEvent event)
{
    char uuid[VIR_UUID_STRING_BUFLEN];

    if (virDomainGetUUIDString(dom, uuid) == 0)
        watch->cb.domainEvent(uuid, event, watch->opaque);
}


static int
vmiWatchOnLifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail,
                    void *opaque)
{
    vmiWatch *watch = opaque;

    g_debug("%s: domain %s: lifecycle event %d (detail %d)", watch->uri,
            virDomainGetName(dom), event, detail);
    switch ((virDomainEventType)event) {
    case VIR_DOMAIN_EVENT_DEFINED:
        vmiWatchReport(watch, dom, VMI_WATCH_DEFINED);
        break;
    case VIR_DOMAIN_EVENT_UNDEFINED:
        vmiWatchReport(watch, dom, VMI_WATCH_UNDEFINED);
        break;
    case VIR_DOMAIN_EVENT_STARTED:
        vmiWatchReport(watch, dom, VMI_WATCH_STARTED);
        break;
    case VIR_DOMAIN_EVENT_STOPPED:
        vmiWatchReport(watch, dom, VMI_WATCH_STOPPED);
        break;
    case VIR_DOMAIN_EVENT_RESUMED:
        vmiWatchReport(watch, dom, VMI_WATCH_RESUMED);
        break;
    case VIR_DOMAIN_EVENT_SUSPENDED:
    case VIR_DOMAIN_EVENT_SHUTDOWN:
    case VIR_DOMAIN_EVENT_PMSUSPENDED:
    case VIR_DOMAIN_EVENT_CRASHED:
    default:
        break;
    }
    return 0;
}


static void
vmiWatchOnMetadata(virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri,
                   void *opaque)
{
    /* the element, or the live state libvirt-vmi records (resume --unmonitored) */
    if (type == VIR_DOMAIN_METADATA_ELEMENT && (g_strcmp0(nsuri, VMI_NAMESPACE_URI) == 0 ||
                                                g_strcmp0(nsuri, VMI_STATE_NAMESPACE_URI) == 0))
        vmiWatchReport(opaque, dom, VMI_WATCH_ELEMENT_CHANGED);
}


static void
vmiWatchDrop(vmiWatch *watch)
{
    if (!watch->conn)
        return;
    if (watch->lifecycleId >= 0)
        virConnectDomainEventDeregisterAny(watch->conn->conn, watch->lifecycleId);
    if (watch->metadataId >= 0)
        virConnectDomainEventDeregisterAny(watch->conn->conn, watch->metadataId);
    watch->lifecycleId = watch->metadataId = -1;
    virResetLastError();
    g_clear_pointer(&watch->conn, vmiConnClose);
}


/* libvirt closed the connection (libvirtd stopped, or restarted). */
static void
vmiWatchOnClose(virConnectPtr conn, int reason, void *opaque)
{
    vmiWatch *watch = opaque;

    g_message("%s: connection closed, reconnecting", watch->uri);
    vmiWatchScheduleReconnect(watch);
}


static gboolean
vmiWatchConnect(vmiWatch *watch)
{
    g_autoptr(GError) err = NULL;

    if (!(watch->conn = vmiConnOpen(watch->uri, &err))) {
        g_warning("%s", err->message);
        return FALSE;
    }
    watch->lifecycleId = virConnectDomainEventRegisterAny(
        watch->conn->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        VIR_DOMAIN_EVENT_CALLBACK(vmiWatchOnLifecycle), watch, NULL);
    watch->metadataId = virConnectDomainEventRegisterAny(
        watch->conn->conn, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
        VIR_DOMAIN_EVENT_CALLBACK(vmiWatchOnMetadata), watch, NULL);
    if (watch->lifecycleId < 0 || watch->metadataId < 0 ||
        virConnectRegisterCloseCallback(watch->conn->conn, vmiWatchOnClose, watch, NULL) < 0) {
        g_warning("%s: cannot register for events: %s", watch->uri, virGetLastErrorMessage());
        vmiWatchDrop(watch);
        return FALSE;
    }
    g_message("%s: connected", watch->uri);
    watch->backoff = VMI_WATCH_BACKOFF_MIN_SECONDS;
    watch->cb.connected(watch->opaque);
    return TRUE;
}


static gboolean
vmiWatchRetry(gpointer opaque)
{
    vmiWatch *watch = opaque;

    watch->reconnectId = 0;
    vmiWatchDrop(watch);
    if (!vmiWatchConnect(watch))
        vmiWatchScheduleReconnect(watch);
    return G_SOURCE_REMOVE;
}


static void
vmiWatchScheduleReconnect(vmiWatch *watch)
{
    if (watch->reconnectId)
        return;
    watch->reconnectId = g_timeout_add_seconds(watch->backoff, vmiWatchRetry, watch);
    watch->backoff = MIN(watch->backoff * 2, VMI_WATCH_BACKOFF_MAX_SECONDS);
}


vmiWatch *
vmiWatchNew(const char *uri, const vmiWatchCallbacks *cb, gpointer opaque)
{
    vmiWatch *watch = g_new0(vmiWatch, 1);

    watch->uri = g_strdup(uri);
    watch->lifecycleId = watch->metadataId = -1;
    watch->backoff = VMI_WATCH_BACKOFF_MIN_SECONDS;
    watch->cb = *cb;
    watch->opaque = opaque;
    /* from the main loop: the callbacks may use what this returns */
    watch->reconnectId = g_idle_add(vmiWatchRetry, watch);
    return watch;
}


void
vmiWatchFree(vmiWatch *watch)
{
    if (!watch)
        return;
    if (watch->reconnectId)
        g_source_remove(watch->reconnectId);
    if (watch->conn)
        virConnectUnregisterCloseCallback(watch->conn->conn, vmiWatchOnClose);
    vmiWatchDrop(watch);
    g_free(watch->uri);
    g_free(watch);
}


const char *
vmiWatchGetURI(vmiWatch *watch)
{
    return watch->uri;
}


vmiConn *
vmiWatchGetConn(vmiWatch *watch)
{
    return watch->conn;
}
