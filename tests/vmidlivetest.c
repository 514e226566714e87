/*
 * vmidlivetest: virt-vmid's live state of a domain, from lifecycle events
 * and the "VMI: ..." lines QEMU writes to the domain's log (as the KVMI
 * emulator writes them: tools/kvmi-emulator/emu_vmi.c)
 */
#include "daemon/vmid_live.h"
#include "daemon/vmid_required.h"

#define S (G_USEC_PER_SEC)
#define PFX "2026-12-04T16:31:45.084190Z qemu-kvmi: "

typedef struct {
    const char *line;           /* NULL: the step is an event */
    const char *event;          /* "started", "stopped", "resumed" */
    const char *state;          /* expected after the step */
} Step;


/* Steps @from to @to - 1, step i at (i + 1) seconds. */
static void
runSteps(vmidLive *live, const Step *steps, guint from, guint to)
{
    for (guint i = from; i < to; i++) {
        gint64 now = (i + 1) * S;

        if (steps[i].line)
            vmidLiveLogLine(live, steps[i].line, now);
        else if (g_str_equal(steps[i].event, "started"))
            vmidLiveStarted(live, now);
        else if (g_str_equal(steps[i].event, "stopped"))
            vmidLiveStopped(live, now);
        else
            vmidLiveResumed(live, now);
        if (g_strcmp0(vmidLiveStateToString(live->state), steps[i].state) != 0)
            g_error("step %u (%s): state %s, expected %s", i,
                    steps[i].line ? steps[i].line : steps[i].event,
                    vmidLiveStateToString(live->state), steps[i].state);
    }
}


static void
testHookSuspendResume(void)
{
    static const Step steps[] = {
        { NULL, "started", "waiting-for-tool" },
        { PFX "warning: VMI: the introspection tool won't be 'authenticated'", NULL,
          "waiting-for-tool" },
        { PFX "info: VMI: introspection tool connected", NULL, "connected" },
        { PFX "info: VMI: machine hooked", NULL, "hooked" },
        /* 5 s: the pause waits for the tool */
        { PFX "info: VMI: intercept command: suspend", NULL, "unhooking" },
        { PFX "info: VMI: intercept action: delayed", NULL, "unhooking" },
        /* 7 s: the tool closed after 2 s */
        { PFX "warning: VMI: introspection tool disconnected", NULL, "unhooked" },
        { PFX "info: VMI: disable socket reconnect", NULL, "unhooked" },
        { PFX "info: VMI: continue with 'suspend'", NULL, "unhooked" },
        { NULL, "resumed", "waiting-for-tool" },
        { PFX "info: VMI: introspection tool connected", NULL, "connected" },
        { PFX "info: VMI: machine hooked", NULL, "hooked" },
        { NULL, "stopped", "not-running" },
        /* nothing QEMU says of a stopped domain counts */
        { PFX "info: VMI: machine hooked", NULL, "not-running" },
    };
    vmidLive live;

    vmidLiveInit(&live, 60);
    g_assert_cmpstr(vmidLiveStateToString(live.state), ==, "not-running");
    runSteps(&live, steps, 0, 5);
    g_assert_cmpstr(live.trigger, ==, "stop");
    g_assert_cmpint(live.since, ==, 5 * S);
    g_assert_cmpint(live.deadline, ==, 65 * S);
    g_assert_cmpint(live.lastHandshake, ==, 4 * S);
    vmidLiveClear(&live);

    vmidLiveInit(&live, 60);
    runSteps(&live, steps, 0, G_N_ELEMENTS(steps));
    g_assert_cmpint(live.lastUnhook, ==, 2 * S);
    g_assert_cmpuint(live.reconnects, ==, 1);
    g_assert_cmpint(live.lastHandshake, ==, 12 * S);
    g_assert_null(live.trigger);
    g_assert_cmpint(live.deadline, ==, 0);
    vmidLiveClear(&live);
}


static void
testWrongKey(void)
{
    static const Step steps[] = {
        { NULL, "started", "waiting-for-tool" },
        { PFX "info: VMI: introspection tool connected", NULL, "connected" },
        { PFX "error: VMI: received cookie doesn't match", NULL, "wrong-key" },
        { PFX "warning: VMI: introspection tool disconnected", NULL, "wrong-key" },
        { PFX "info: VMI: introspection tool connected", NULL, "connected" },
        { PFX "info: VMI: machine hooked", NULL, "hooked" },
    };
    vmidLive live;

    vmidLiveInit(&live, 60);
    runSteps(&live, steps, 0, 4);
    g_assert_cmpstr(live.reason, ==, "VMI: received cookie doesn't match");
    runSteps(&live, steps, 4, 6);
    /* hooked at last: the failure is over */
    g_assert_null(live.reason);
    g_assert_cmpuint(live.reconnects, ==, 1);
    vmidLiveClear(&live);
}


static void
testNoToolMigrateAndTimeout(void)
{
    static const Step steps[] = {
        { NULL, "started", "waiting-for-tool" },
        /* no tool: the migration goes on at once */
        { PFX "info: VMI: intercept command: migrate", NULL, "unhooking" },
        { PFX "info: VMI: intercept action: continue", NULL, "unhooked" },
        { NULL, "resumed", "waiting-for-tool" },
        { PFX "info: VMI: introspection tool connected", NULL, "connected" },
        { PFX "info: VMI: machine hooked", NULL, "hooked" },
        /* a powerdown, and a tool that never unhooks: QEMU cuts it off */
        { PFX "info: VMI: intercept command: shutdown", NULL, "unhooking" },
        { PFX "warning: VMI: the introspection tool is too slow", NULL, "unhooking" },
        { PFX "info: VMI: continue with 'shutdown'", NULL, "unhooked" },
        /* a resume is intercepted too, but waits for nothing */
        { PFX "info: VMI: intercept command: resume", NULL, "unhooked" },
        { PFX "info: VMI: intercept action: continue", NULL, "unhooked" },
        { NULL, "resumed", "waiting-for-tool" },
        { PFX "info: VMI: introspection tool connected", NULL, "connected" },
        { PFX "info: VMI: machine hooked", NULL, "hooked" },
        { PFX "warning: VMI: Reset detected. Closing the socket...", NULL, "waiting-for-tool" },
    };
    vmidLive live;

    vmidLiveInit(&live, 10);
    runSteps(&live, steps, 0, 3);
    g_assert_cmpstr(live.trigger, ==, "migrate");
    runSteps(&live, steps, 3, 8);
    g_assert_cmpstr(live.trigger, ==, "powerdown");
    g_assert_cmpint(live.deadline, ==, (7 + 10) * S);
    g_assert_cmpstr(live.reason, ==, "VMI: the introspection tool is too slow");
    runSteps(&live, steps, 8, G_N_ELEMENTS(steps));
    g_assert_cmpint(live.lastUnhook, ==, 2 * S);
    vmidLiveClear(&live);
}


/* How a hooked tool was lost while running: what the daemon's pause says. */
static void
testLost(void)
{
    static const Step steps[] = {
        { NULL, "started", "waiting-for-tool" },
        { PFX "info: VMI: machine hooked", NULL, "hooked" },
        { PFX "warning: VMI: introspection tool disconnected", NULL, "waiting-for-tool" },
        { PFX "info: VMI: machine hooked", NULL, "hooked" },
        /* QMP's system_reset says no more than this */
        { PFX "info: VMI: intercept command: force-reset", NULL, "waiting-for-tool" },
        { PFX "info: VMI: machine hooked", NULL, "hooked" },
    };
    vmidLive live;

    vmidLiveInit(&live, 10);
    runSteps(&live, steps, 0, 1);
    g_assert_cmpint(live.lost, ==, VMI_QEMU_MSG_NONE);
    runSteps(&live, steps, 1, 3);
    g_assert_cmpint(live.lost, ==, VMI_QEMU_MSG_DISCONNECTED);
    runSteps(&live, steps, 3, 5);
    g_assert_cmpint(live.lost, ==, VMI_QEMU_MSG_RESET);
    runSteps(&live, steps, 5, 6);
    g_assert_cmpint(live.lost, ==, VMI_QEMU_MSG_NONE);
    vmidLiveClear(&live);
}


static vmidRequiredAction
decide(vmidRequired *req, vmidLive *live, vmidVcpus vcpus, gboolean pausedByUs,
       gboolean listening, gint64 now, vmidPausedReason *reason)
{
    vmidRequiredInput in = { vcpus, live, pausedByUs, listening, 4, 2 };

    return vmidRequiredDecide(req, &in, now, reason);
}


/*
 * required='yes': a guest running unhooked is paused at once, one the
 * daemon paused is resumed once a tool listens, a resumed one has the
 * rehook limit (4 s here) to hook, and a held stop is never queued behind.
 */
static void
testRequired(void)
{
    vmidRequired req = { 0 };
    vmidPausedReason reason = VMID_PAUSED_LAST;
    vmidLive live;

    vmidLiveInit(&live, 10);
    vmidLiveStarted(&live, 1 * S);
    vmidRequiredReset(&req);
    /* started through libvirt, no tool */
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_RUNNING, FALSE, FALSE, 2 * S, &reason), ==,
                    VMID_REQUIRED_PAUSE);
    g_assert_cmpstr(vmidPausedReasonToString(reason), ==, "not-hooked-at-start");
    /* paused: nothing while no tool listens, nor under way */
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_PAUSED, TRUE, FALSE, 3 * S, &reason), ==,
                    VMID_REQUIRED_NOTHING);
    req.busy = TRUE;
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_PAUSED, TRUE, TRUE, 3 * S, &reason), ==,
                    VMID_REQUIRED_NOTHING);
    req.busy = FALSE;
    /* someone else's pause is left alone */
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_PAUSED, FALSE, TRUE, 3 * S, &reason), ==,
                    VMID_REQUIRED_NOTHING);
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_PAUSED, TRUE, TRUE, 3 * S, &reason), ==,
                    VMID_REQUIRED_RESUME);
    /* the daemon's resume is done; its RESUMED event follows */
    req.resuming = TRUE;
    vmidRequiredResumed(&req, 4 * S, 4);
    vmidLiveResumed(&live, 4 * S);
    /* the tool has until 8 s to hook */
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_RUNNING, TRUE, TRUE, 7 * S, &reason), ==,
                    VMID_REQUIRED_NOTHING);
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_RUNNING, TRUE, TRUE, 8 * S, &reason), ==,
                    VMID_REQUIRED_PAUSE);
    g_assert_cmpstr(vmidPausedReasonToString(reason), ==, "not-hooked-after-resume");
    /* a resume of its own that failed: the next one waits the limit */
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_PAUSED, TRUE, TRUE, 9 * S, &reason), ==,
                    VMID_REQUIRED_NOTHING);
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_PAUSED, TRUE, TRUE, 12 * S, &reason), ==,
                    VMID_REQUIRED_RESUME);
    vmidRequiredResumed(&req, 12 * S, 4);
    /* a handshake under way has the handshake timeout (2 s) */
    vmidLiveLogLine(&live, PFX "info: VMI: introspection tool connected", 15 * S);
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_RUNNING, TRUE, TRUE, 16 * S, &reason), ==,
                    VMID_REQUIRED_NOTHING);
    /* hooked: the record of the pause goes, once */
    vmidLiveLogLine(&live, PFX "info: VMI: machine hooked", 16 * S);
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_RUNNING, TRUE, TRUE, 16 * S, &reason), ==,
                    VMID_REQUIRED_FORGET);
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_RUNNING, FALSE, TRUE, 16 * S, &reason), ==,
                    VMID_REQUIRED_NOTHING);
    g_assert_cmpuint(req.failures, ==, 0);
    /* a stop held for the unhook: never a pause behind it */
    vmidLiveLogLine(&live, PFX "info: VMI: intercept command: suspend", 17 * S);
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_RUNNING, FALSE, FALSE, 90 * S, &reason), ==,
                    VMID_REQUIRED_NOTHING);
    vmidLiveLogLine(&live, PFX "warning: VMI: introspection tool disconnected", 18 * S);
    vmidLiveLogLine(&live, PFX "info: VMI: continue with 'suspend'", 18 * S);
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_PAUSED, FALSE, FALSE, 19 * S, &reason), ==,
                    VMID_REQUIRED_NOTHING);
    /* the tool lost while running */
    vmidLiveResumed(&live, 20 * S);
    vmidRequiredResumed(&req, 20 * S, 4);
    vmidLiveLogLine(&live, PFX "info: VMI: machine hooked", 21 * S);
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_RUNNING, FALSE, TRUE, 21 * S, &reason), ==,
                    VMID_REQUIRED_NOTHING);
    vmidLiveLogLine(&live, PFX "warning: VMI: introspection tool disconnected", 30 * S);
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_RUNNING, FALSE, FALSE, 30 * S, &reason), ==,
                    VMID_REQUIRED_PAUSE);
    g_assert_cmpstr(vmidPausedReasonToString(reason), ==, "tool-disconnected");
    /* shut off: nothing */
    g_assert_cmpint(decide(&req, &live, VMID_VCPUS_OFF, TRUE, TRUE, 31 * S, &reason), ==,
                    VMID_REQUIRED_NOTHING);
    vmidLiveClear(&live);
}


static void
testNames(void)
{
    static const char *const names[] = {
        "not-running", "waiting-for-tool", "connected", "hooked", "wrong-key",
        "unhooking", "unhooked",
    };

    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        g_assert_cmpstr(vmidLiveStateToString(i), ==, names[i]);
        g_assert_cmpint(vmidLiveStateFromString(names[i]), ==, i);
    }
    g_assert_null(vmidLiveStateToString(VMID_LIVE_LAST));
}


static void
testLineTime(void)
{
    /* PFX: 2026-12-04T16:31:45.084190Z */
    g_assert_cmpint(vmidLiveLineTime(PFX "info: VMI: machine hooked", 7), ==,
                    G_GINT64_CONSTANT(1796401905084190));
    /* no time stamp (-msg timestamp=off), or not one */
    g_assert_cmpint(vmidLiveLineTime("qemu-kvmi: info: VMI: machine hooked", 7), ==, 7);
    g_assert_cmpint(vmidLiveLineTime("2026-13-04T16:31:45Z qemu-kvmi: VMI: x", 7), ==, 7);
    g_assert_cmpint(vmidLiveLineTime("2026-12-04T16:31:45.084190 local: VMI: x", 7), ==, 7);
    g_assert_cmpint(vmidLiveLineTime("", 7), ==, 7);
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/live/hook-suspend-resume", testHookSuspendResume);
    g_test_add_func("/live/wrong-key", testWrongKey);
    g_test_add_func("/live/no-tool-migrate-and-timeout", testNoToolMigrateAndTimeout);
    g_test_add_func("/live/lost", testLost);
    g_test_add_func("/live/required", testRequired);
    g_test_add_func("/live/names", testNames);
    g_test_add_func("/live/line-time", testLineTime);
    return g_test_run();
}
