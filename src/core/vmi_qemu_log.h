/*
 * vmi_qemu_log.h: what a domain's log says of QEMU's current run
 *
 * libvirt appends QEMU's standard error to /var/log/libvirt/qemu/NAME.log
 * and begins each run with a "starting up" line and the command line.
 * QEMU's introspection object says what it does with the tool there
 * ("VMI: machine hooked", ...), while libvirt holds the domain's job: the
 * log can be read when QMP through libvirt would wait for that job.
 */
#pragma once

#include <glib.h>

typedef struct {
    gboolean found;         /* the log has a run */
    gboolean incoming;      /* its command line has -incoming: restore, migration */
    gboolean hooked;        /* by QEMU's last word, the tool is hooked now */
    gboolean connected;     /* QEMU reached the tool at least once */
    char *reason;           /* QEMU's words for the last failure, or NULL */
} vmiQemuLogRun;

void vmiQemuLogRunClear(vmiQemuLogRun *run);

/* Reads the current run of the log at @path. */
gboolean vmiQemuLogRead(const char *path, vmiQemuLogRun *run, GError **error);

/*
 * Follows the log at @path until QEMU says the tool is hooked (TRUE) or
 * @timeoutMs went by (FALSE, without an error: @run says what was seen).
 * FALSE with @error when the log cannot be read.
 */
gboolean vmiQemuLogWaitHooked(const char *path, guint timeoutMs, vmiQemuLogRun *run,
                              GError **error);
