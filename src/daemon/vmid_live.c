/*
 * vmid_live.c: a running domain's introspection state, from QEMU's words
 *
 * QEMU's introspection object adds no QMP events: its log lines are what
 * it says of the tool (docs/kvmi.rst). They are read from the domain's log
 * rather than asked over QMP, which would queue behind a held `stop` or
 * fail on libvirt's job lock during a migration.
 */
#include <string.h>

#include "daemon/vmid_live.h"
#include "core/vmi_qemu_log.h"

VMI_ENUM_IMPL(vmidLiveState, VMID_LIVE_LAST,
              "not-running", "waiting-for-tool", "connected", "hooked", "wrong-key",
              "unhooking", "unhooked");

/* The actions QEMU holds for the tool's unhook, as its intercept names
 * them, and as the status names what the user did. */
static const struct {
    const char *action;
    const char *trigger;
} vmidTriggers[] = {
    { "suspend", "stop" },
    { "migrate", "migrate" },
    { "shutdown", "powerdown" },
};


void
vmidLiveInit(vmidLive *live, guint unhookTimeout)
{
    memset(live, 0, sizeof(*live));
    live->lastUnhook = -1;
    live->unhookTimeout = unhookTimeout;
}


void
vmidLiveClear(vmidLive *live)
{
    g_clear_pointer(&live->trigger, g_free);
    g_clear_pointer(&live->reason, g_free);
}


static void
vmidLiveSet(vmidLive *live, vmidLiveState state, gint64 now)
{
    if (live->state != state)
        live->since = now;
    live->state = state;
    if (state != VMID_LIVE_UNHOOKING && state != VMID_LIVE_UNHOOKED)
        g_clear_pointer(&live->trigger, g_free);
    if (state != VMID_LIVE_UNHOOKING)
        live->deadline = 0;
}


static void
vmidLiveSetReason(vmidLive *live, const char *reason)
{
    g_free(live->reason);
    live->reason = g_strdup(reason);
}


void
vmidLiveStarted(vmidLive *live, gint64 now)
{
    guint timeout = live->unhookTimeout;

    vmidLiveClear(live);
    vmidLiveInit(live, timeout);
    vmidLiveSet(live, VMID_LIVE_WAITING_FOR_TOOL, now);
}


void
vmidLiveStopped(vmidLive *live, gint64 now)
{
    vmidLiveSet(live, VMID_LIVE_NOT_RUNNING, now);
}


/* `cont` lets QEMU reconnect to the tool. */
gboolean
vmidLiveResumed(vmidLive *live, gint64 now)
{
    if (live->state != VMID_LIVE_UNHOOKED)
        return FALSE;
    vmidLiveSet(live, VMID_LIVE_WAITING_FOR_TOOL, now);
    return TRUE;
}


/* NULL for the actions that wait for nothing (resume, reset). */
static const char *
vmidLiveTrigger(const char *action)
{
    for (guint i = 0; i < G_N_ELEMENTS(vmidTriggers); i++) {
        if (g_str_equal(vmidTriggers[i].action, action))
            return vmidTriggers[i].trigger;
    }
    return NULL;
}


gboolean
vmidLiveLogLine(vmidLive *live, const char *line, gint64 now)
{
    vmidLiveState before = live->state;
    gint64 sinceBefore = live->since;
    const char *msg, *arg, *trigger;

    if (live->state == VMID_LIVE_NOT_RUNNING)
        return FALSE;

    switch (vmiQemuLogClassify(line, &msg, &arg)) {
    case VMI_QEMU_MSG_CONNECTED:
        live->reconnects += live->everConnected;
        live->everConnected = TRUE;
        vmidLiveSet(live, VMID_LIVE_CONNECTED, now);
        break;
    case VMI_QEMU_MSG_HOOKED:
        live->lastHandshake = now;
        live->lost = VMI_QEMU_MSG_NONE;
        g_clear_pointer(&live->reason, g_free);
        vmidLiveSet(live, VMID_LIVE_HOOKED, now);
        break;
    case VMI_QEMU_MSG_COOKIE_REFUSED:
        vmidLiveSetReason(live, msg);
        vmidLiveSet(live, VMID_LIVE_WRONG_KEY, now);
        break;
    case VMI_QEMU_MSG_HANDSHAKE_FAILED:
    case VMI_QEMU_MSG_TOO_SLOW:
        vmidLiveSetReason(live, msg);
        break;
    case VMI_QEMU_MSG_INTERCEPT:
        if ((trigger = vmidLiveTrigger(arg))) {
            vmidLiveSet(live, VMID_LIVE_UNHOOKING, now);
            g_free(live->trigger);
            live->trigger = g_strdup(trigger);
            live->deadline = now + (gint64)live->unhookTimeout * G_USEC_PER_SEC;
        }
        break;
    case VMI_QEMU_MSG_CONTINUE_AT_ONCE:
        /* the action went on at once: no tool was hooked */
        if (live->state == VMID_LIVE_UNHOOKING)
            vmidLiveSet(live, VMID_LIVE_UNHOOKED, now);
        break;
    case VMI_QEMU_MSG_CONTINUE_WITH:
        /* after the wait: the tool closed, or QEMU cut it off */
        if (live->state == VMID_LIVE_UNHOOKING) {
            live->lastUnhook = now - live->since;
            vmidLiveSet(live, VMID_LIVE_UNHOOKED, now);
        }
        break;
    case VMI_QEMU_MSG_DISCONNECTED:
        if (live->state == VMID_LIVE_UNHOOKING) {
            live->lastUnhook = now - live->since;
            vmidLiveSet(live, VMID_LIVE_UNHOOKED, now);
        } else if (live->state != VMID_LIVE_WRONG_KEY) {
            if (live->state == VMID_LIVE_HOOKED)
                live->lost = VMI_QEMU_MSG_DISCONNECTED;
            vmidLiveSet(live, VMID_LIVE_WAITING_FOR_TOOL, now);
        }
        break;
    case VMI_QEMU_MSG_RESET:
        live->lost = VMI_QEMU_MSG_RESET;
        vmidLiveSet(live, VMID_LIVE_WAITING_FOR_TOOL, now);
        break;
    case VMI_QEMU_MSG_MISSING:
    case VMI_QEMU_MSG_NONE:
        break;
    }
    return live->state != before || live->since != sinceBefore;
}


/*
 * QEMU's own time stamp, not the time the daemon read the line: durations
 * (the unhook's) are then QEMU's, whatever delays the log's delivery.
 */
gint64
vmidLiveLineTime(const char *line, gint64 fallback)
{
    const char *space = strchr(line, ' ');
    g_autofree char *stamp = NULL;
    g_autoptr(GDateTime) when = NULL;

    if (!space || space - line > 40)
        return fallback;
    stamp = g_strndup(line, space - line);
    if (!g_str_has_suffix(stamp, "Z") || !(when = g_date_time_new_from_iso8601(stamp, NULL)))
        return fallback;
    return g_date_time_to_unix(when) * G_USEC_PER_SEC + g_date_time_get_microsecond(when);
}
