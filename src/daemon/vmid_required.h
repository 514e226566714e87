/*
 * vmid_required.h: required='yes' while a domain runs: when virt-vmid
 * pauses it for want of its tool, and when it lets it run again
 *
 * Pure decisions, fed with the vCPUs' state, the live state (vmid_live.h)
 * and whether a tool listens; vmid_conn.c does what they say, outside
 * the main loop. Unit-tested in tests/vmidlivetest.c.
 */
#pragma once

#include <glib.h>

#include "conf/vmi_enum.h"
#include "daemon/vmid_live.h"

typedef enum {
    VMID_REQUIRED_NOTHING,
    VMID_REQUIRED_PAUSE,        /* running without its tool: pause it, say why */
    VMID_REQUIRED_RESUME,       /* paused by the daemon, and a tool listens again */
    VMID_REQUIRED_FORGET,       /* hooked again: the record of the pause goes */
} vmidRequiredAction;

/* Why the daemon paused a domain: the live record's reason, status's
 * paused_by_daemon. */
typedef enum {
    VMID_PAUSED_NOT_HOOKED_AT_START,    /* running, never hooked in this run */
    VMID_PAUSED_TOOL_DISCONNECTED,
    VMID_PAUSED_GUEST_RESET,
    VMID_PAUSED_NOT_HOOKED_AFTER_RESUME, /* resumed, not hooked within the limit */

    VMID_PAUSED_LAST
} vmidPausedReason;

VMI_ENUM_DECL(vmidPausedReason);

typedef enum {
    VMID_VCPUS_OFF,
    VMID_VCPUS_RUNNING,
    VMID_VCPUS_PAUSED,
} vmidVcpus;

typedef struct {
    gint64 graceUntil;          /* a resumed guest may hook until then, µs; 0: none */
    gboolean resumedByUs;       /* that grace follows a resume of the daemon's */
    gint64 nextResume;          /* no resume of the daemon's before then, µs */
    guint failures;             /* its resumes in a row not followed by a hook */
    gboolean busy;              /* a pause or resume of the daemon's is under way */
    gboolean resuming;          /* from its resume until the RESUMED that follows */
} vmidRequired;

typedef struct {
    vmidVcpus vcpus;
    const vmidLive *live;
    gboolean pausedByUs;        /* the domain's live record says so */
    gboolean listening;         /* a tool listens at the source (FALSE: no, or unknown) */
    guint rehookLimit;          /* s: reconnect interval + handshake timeout + 1 */
    guint handshakeTimeout;     /* s */
} vmidRequiredInput;

/* A new run of QEMU, or the daemon's first look at it. */
void vmidRequiredReset(vmidRequired *req);

/* The vCPUs were resumed (by anyone): QEMU may reconnect; the tool has
 * @rehookLimit seconds to hook. */
void vmidRequiredResumed(vmidRequired *req, gint64 now, guint rehookLimit);

/* What to do now; for VMID_REQUIRED_PAUSE, @reason says why. */
vmidRequiredAction vmidRequiredDecide(vmidRequired *req, const vmidRequiredInput *in,
                                      gint64 now, vmidPausedReason *reason);
