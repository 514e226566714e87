/*
 * vmid_live.h: what a running domain's introspection is doing now
 *
 * Pure state, fed with what libvirt and QEMU report: lifecycle events
 * and the "VMI: ..." lines QEMU writes to the domain's log. No I/O, so
 * that every transition is unit-tested (tests/vmidlivetest.c).
 */
#pragma once

#include <glib.h>

#include "conf/vmi_enum.h"
#include "core/vmi_qemu_log.h"

typedef enum {
    VMID_LIVE_NOT_RUNNING,
    VMID_LIVE_WAITING_FOR_TOOL,     /* QEMU tries to reach the tool */
    VMID_LIVE_CONNECTED,            /* connected, handshake under way */
    VMID_LIVE_HOOKED,
    VMID_LIVE_WRONG_KEY,            /* the tool's cookie was refused */
    VMID_LIVE_UNHOOKING,            /* an action waits for the tool's unhook */
    VMID_LIVE_UNHOOKED,             /* the action went on: paused or migrating */

    VMID_LIVE_LAST
} vmidLiveState;

VMI_ENUM_DECL(vmidLiveState);

typedef struct {
    vmidLiveState state;
    gint64 since;               /* when @state began, µs since the epoch */
    char *trigger;              /* unhooking, unhooked: stop, migrate, powerdown */
    gint64 deadline;            /* unhooking: when QEMU stops waiting, µs */
    char *reason;               /* QEMU's words for the last failure, or NULL */
    gint64 lastHandshake;       /* µs since the epoch; 0: none this run */
    gint64 lastUnhook;          /* the last unhook's duration, µs; -1: none */
    guint reconnects;           /* connections after the first, this run */
    guint unhookTimeout;        /* seconds, from the element */
    gboolean everConnected;
    vmiQemuMsg lost;            /* how a hooked tool was lost while running
                                 * (DISCONNECTED, RESET); NONE: it was not */
} vmidLive;

void vmidLiveInit(vmidLive *live, guint unhookTimeout);
void vmidLiveClear(vmidLive *live);

void vmidLiveStarted(vmidLive *live, gint64 now);
void vmidLiveStopped(vmidLive *live, gint64 now);
/* Returns whether the state changed. */
gboolean vmidLiveResumed(vmidLive *live, gint64 now);

/* A line of the domain's log; lines without "VMI: " are ignored.
 * Returns whether the state changed. */
gboolean vmidLiveLogLine(vmidLive *live, const char *line, gint64 now);

/* When QEMU wrote @line: its -msg timestamp=on prefix (libvirt asks for it),
 * else @fallback. */
gint64 vmidLiveLineTime(const char *line, gint64 fallback);
