/*
 * vmid_required.c: required='yes' while a domain runs
 *
 * QEMU refuses the tool's reconnection while a `stop` paused the guest
 * (docs/kvmi.rst): a guest the daemon paused cannot hook while paused.
 * So the daemon resumes it once a tool listens at the socket again, and
 * pauses it again if the tool has not hooked within the reconnect
 * interval and the handshake timeout, then waits longer before the next
 * try (a tool that listens but is refused would make it run unmonitored
 * that long each time).
 */
#include <string.h>

#include "daemon/vmid_required.h"

/* the longest wait between two of the daemon's resumes of one guest */
#define VMID_REQUIRED_BACKOFF_MAX_SECONDS 300

VMI_ENUM_IMPL(vmidPausedReason, VMID_PAUSED_LAST,
              "not-hooked-at-start", "tool-disconnected", "guest-reset",
              "not-hooked-after-resume");


void
vmidRequiredReset(vmidRequired *req)
{
    gboolean busy = req->busy;
    gboolean resuming = req->resuming;

    memset(req, 0, sizeof(*req));
    req->busy = busy;
    req->resuming = resuming;
}


void
vmidRequiredResumed(vmidRequired *req, gint64 now, guint rehookLimit)
{
    req->graceUntil = now + (gint64)rehookLimit * G_USEC_PER_SEC;
    req->resumedByUs = req->resuming;
    req->resuming = FALSE;
}


static vmidPausedReason
vmidRequiredReason(const vmidRequired *req, const vmidLive *live)
{
    if (req->graceUntil)
        return VMID_PAUSED_NOT_HOOKED_AFTER_RESUME;
    if (live->lost == VMI_QEMU_MSG_RESET)
        return VMID_PAUSED_GUEST_RESET;
    if (live->lost == VMI_QEMU_MSG_DISCONNECTED)
        return VMID_PAUSED_TOOL_DISCONNECTED;
    return VMID_PAUSED_NOT_HOOKED_AT_START;
}


static vmidRequiredAction
vmidRequiredRunning(vmidRequired *req, const vmidRequiredInput *in, gint64 now,
                    vmidPausedReason *reason)
{
    const vmidLive *live = in->live;
    guint shift;

    switch (live->state) {
    case VMID_LIVE_HOOKED:
        req->graceUntil = 0;
        req->failures = 0;
        req->nextResume = 0;
        return in->pausedByUs ? VMID_REQUIRED_FORGET : VMID_REQUIRED_NOTHING;
    case VMID_LIVE_UNHOOKING:
    case VMID_LIVE_UNHOOKED:
        /* QEMU holds a stop or a migration for the unhook, or the
         * migration goes on: a pause now would queue behind it */
        return VMID_REQUIRED_NOTHING;
    case VMID_LIVE_CONNECTED:
        /* a handshake under way may still succeed */
        if (now < live->since + (gint64)in->handshakeTimeout * G_USEC_PER_SEC)
            return VMID_REQUIRED_NOTHING;
        break;
    case VMID_LIVE_NOT_RUNNING:
    case VMID_LIVE_WAITING_FOR_TOOL:
    case VMID_LIVE_WRONG_KEY:
    case VMID_LIVE_LAST:
        break;
    }
    if (req->graceUntil && now < req->graceUntil)
        return VMID_REQUIRED_NOTHING;
    *reason = vmidRequiredReason(req, live);
    if (req->graceUntil && req->resumedByUs) {
        req->failures++;
        shift = MIN(req->failures - 1, 8);
        req->nextResume = now + (gint64)MIN((gint64)in->rehookLimit << shift,
                                            VMID_REQUIRED_BACKOFF_MAX_SECONDS) * G_USEC_PER_SEC;
    }
    req->graceUntil = 0;
    req->resumedByUs = FALSE;
    return VMID_REQUIRED_PAUSE;
}


vmidRequiredAction
vmidRequiredDecide(vmidRequired *req, const vmidRequiredInput *in, gint64 now,
                   vmidPausedReason *reason)
{
    if (req->busy)
        return VMID_REQUIRED_NOTHING;
    switch (in->vcpus) {
    case VMID_VCPUS_RUNNING:
        return vmidRequiredRunning(req, in, now, reason);
    case VMID_VCPUS_PAUSED:
        /* someone else's pause is theirs to end */
        if (in->pausedByUs && in->listening && now >= req->nextResume)
            return VMID_REQUIRED_RESUME;
        return VMID_REQUIRED_NOTHING;
    case VMID_VCPUS_OFF:
        break;
    }
    return VMID_REQUIRED_NOTHING;
}
