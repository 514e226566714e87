/*
 * vmi_status.c: gather what `virt-vmi status` shows
 *
 * Each part is looked at on its own and a failure is recorded, not
 * fatal: a status is most needed when something is broken.
 */
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <string.h>

#include "libvirt/vmi_status.h"
#include "core/vmi_sockdiag.h"
#include "libvirt/vmi_secret.h"
#include "core/vmi_sync.h"
#include "conf/vmi_error.h"

/* QEMU cuts a refused handshake (a wrong key) as soon as it reads it */
#define VMI_STATUS_SETTLE_US (500 * G_TIME_SPAN_MILLISECOND)
#define VMI_STATUS_POLL_US (100 * G_TIME_SPAN_MILLISECOND)


void
vmiStatusFree(vmiStatus *status)
{
    if (!status)
        return;
    vmiDefFree(status->def);
    g_free(status->defError);
    g_free(status->argsError);
    g_free(status->secretError);
    g_free(status->chardev.filename);
    g_free(status->chardevError);
    g_free(status->keyFileError);
    g_free(status->unmonitored);
    g_free(status->pausedReason);
    g_free(status->pausedSince);
    g_free(status);
}


static char *
vmiStatusTakeMessage(GError *err)
{
    char *msg = g_strdup(err->message);

    g_error_free(err);
    return msg;
}


/* Whether a socket listens at @path, asked of the kernel without
 * connecting (vmiUnixFileListening). */
vmiListenState
vmiStatusUnixListening(const char *path)
{
    g_autoptr(GError) err = NULL;
    gboolean listening;

    if (!vmiUnixFileListening(path, &listening, &err))
        return VMI_LISTEN_UNKNOWN;
    return listening ? VMI_LISTEN_YES : VMI_LISTEN_NO;
}


static void
vmiStatusQueryChardev(vmiStatus *status, vmiDomain *dom)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *reply = vmiDomainQemuMonitor(dom->dom, "{\"execute\":\"query-chardev\"}",
                                                  &err);

    if (!reply || !vmiQmpParseChardevs(reply, &status->chardev, &err))
        status->chardevError = g_strdup(err->message);
}


vmiStatus *
vmiStatusGet(vmiConn *conn, vmiDomain *dom)
{
    g_autoptr(vmiStatus) status = g_new0(vmiStatus, 1);
    GError *err = NULL;

    status->running = dom->running;
    status->unmonitored = vmiDomainGetUnmonitored(dom);
    if (dom->running)
        vmiDomainGetPausedRecord(dom->dom, &status->pausedReason, &status->pausedSince);
    if (dom->xml->vmi && !(status->def = vmiDomainGetDef(dom, &err)))
        status->defError = vmiStatusTakeMessage(err);
    if ((status->def || !dom->xml->vmi) &&
        !vmiSyncCheck(dom->xml, status->def, conn->keyDir, dom->name, &err))
        status->argsError = vmiStatusTakeMessage(err);
    if (!status->def)
        return g_steal_pointer(&status);

    if (status->def->keySecret && !vmiSecretCheck(conn->secrets, status->def->keySecret, &err))
        status->secretError = vmiStatusTakeMessage(err);

    if (status->running) {
        vmiStatusQueryChardev(status, dom);
        if (!status->chardev.connected && status->def->source.type == VMI_SOURCE_UNIX)
            status->listening = vmiStatusUnixListening(status->def->source.path);
    }

    if (status->def->keySecret) {
        status->keyFileChecked = TRUE;
        if (!vmiKeyFileGetState(conn->keyDir, dom->uuid, &status->keyFile, &err))
            status->keyFileError = vmiStatusTakeMessage(err);
    }
    return g_steal_pointer(&status);
}


/*
 * How long a tool may take to hook a guest that runs again: QEMU retries
 * its connection every reconnect seconds, then gives the tool the
 * handshake timeout; one second more for the settling.
 */
double
vmiStatusRehookLimit(const vmiDef *def)
{
    guint handshake = def->handshakeTimeout ? def->handshakeTimeout :
                      vmiAttrs[VMI_ATTR_TIMEOUTS_HANDSHAKE].defaultValue;

    return vmiDefReconnect(def) + handshake + 1;
}


/*
 * Whether the guest runs (not paused, not shut off): only then QEMU lets
 * the tool hook it.
 */
gboolean
vmiStatusGuestRuns(vmiDomain *dom)
{
    int state = VIR_DOMAIN_NOSTATE;

    if (virDomainGetState(dom->dom, &state, NULL, 0) < 0) {
        virResetLastError();
        return FALSE;
    }
    return state == VIR_DOMAIN_RUNNING;
}


/*
 * Waits, at most @limit seconds, until the tool has hooked the guest
 * again: QEMU's introspection chardev is connected, and still is half a
 * second later (QEMU drops a refused handshake at once). What `virt-vmi
 * status` reads, without virt-vmid: QEMU's monitor. @where ("on the
 * destination") goes into the messages; NULL: "again".
 */
gboolean
vmiStatusWaitHooked(vmiDomain *dom, const vmiDef *def, double limit, const char *where,
                    GError **error)
{
    g_autofree char *again = g_strdup_printf(" %s", where ? where : "again");

    gint64 deadline = g_get_monotonic_time() + (gint64)(limit * G_USEC_PER_SEC);
    gint64 connectedSince = 0;
    g_autofree char *lastError = NULL;
    g_autofree char *filename = NULL;

    for (;;) {
        g_autoptr(vmiStatus) status = g_new0(vmiStatus, 1);
        gint64 now;

        vmiStatusQueryChardev(status, dom);
        now = g_get_monotonic_time();
        g_free(lastError);
        lastError = g_steal_pointer(&status->chardevError);
        if (status->chardev.filename) {
            g_free(filename);
            filename = g_strdup(status->chardev.filename);
        }
        if (!lastError && status->chardev.found && status->chardev.connected) {
            if (!connectedSince)
                connectedSince = now;
            else if (now - connectedSince >= VMI_STATUS_SETTLE_US)
                return TRUE;
        } else {
            connectedSince = 0;
        }
        if (!lastError && !status->chardev.found) {
            g_set_error(error, VMI_ERROR, VMI_ERROR_NOT_FOUND,
                        "QEMU of domain '%s' has no introspection chardev: it runs without "
                        "introspection", dom->name);
            return FALSE;
        }
        if (now >= deadline && !connectedSince)
            break;
        if (now >= deadline + VMI_STATUS_SETTLE_US)
            break;
        g_usleep(VMI_STATUS_POLL_US);
    }

    if (lastError) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "cannot tell whether the introspection tool hooked domain '%s'%s: %s",
                    dom->name, again, lastError);
    } else {
        const char *hint = "";

        /* this host's socket: not the destination's */
        if (!where && def->source.type == VMI_SOURCE_UNIX) {
            vmiListenState listening = vmiStatusUnixListening(def->source.path);
            if (listening == VMI_LISTEN_NO)
                hint = "; nothing listens at the socket: start the introspection tool";
            else if (listening == VMI_LISTEN_YES)
                hint = "; a tool listens at the socket, but QEMU does not let it hook "
                       "(a refused handshake, or QEMU refuses to reconnect: see the "
                       "domain's log)";
        }
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "the introspection tool did not hook domain '%s'%s within %.0f s "
                    "(QEMU's chardev: %s)%s: the guest runs unmonitored",
                    dom->name, again, limit, filename ? filename : "?", hint);
    }
    return FALSE;
}
