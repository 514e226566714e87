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

/* What a line of QEMU's introspection object says (docs/kvmi.rst): the one
 * table of QEMU's words, read by the hook (a run's outcome) and by
 * virt-vmid (a domain's live state). */
typedef enum {
    VMI_QEMU_MSG_NONE,              /* no "VMI: ", or words nobody acts on */
    VMI_QEMU_MSG_CONNECTED,
    VMI_QEMU_MSG_HOOKED,
    VMI_QEMU_MSG_DISCONNECTED,
    VMI_QEMU_MSG_RESET,             /* a guest reset: the tool dropped, no UNHOOK */
    VMI_QEMU_MSG_COOKIE_REFUSED,    /* a wrong key */
    VMI_QEMU_MSG_HANDSHAKE_FAILED,  /* bad or late handshake data */
    VMI_QEMU_MSG_MISSING,           /* no chardev or key: the object cannot work */
    VMI_QEMU_MSG_TOO_SLOW,          /* the tool did not unhook within the timeout */
    VMI_QEMU_MSG_INTERCEPT,         /* an action held for the unhook; @arg: its name */
    VMI_QEMU_MSG_CONTINUE_AT_ONCE,  /* the held action goes on: no tool was hooked */
    VMI_QEMU_MSG_CONTINUE_WITH,     /* the held action goes on after the wait */
} vmiQemuMsg;

/* @msg: where QEMU's words begin ("VMI: ..."); @arg: what follows the
 * matched words. Both may be NULL. */
vmiQemuMsg vmiQemuLogClassify(const char *line, const char **msg, const char **arg);

typedef struct {
    gboolean found;         /* the log has a run */
    gboolean incoming;      /* its command line has -incoming: restore, migration */
    gboolean hooked;        /* by QEMU's last word, the tool is hooked now */
    gboolean connected;     /* QEMU reached the tool at least once */
    char *reason;           /* QEMU's words for the last failure, or NULL */
} vmiQemuLogRun;

void vmiQemuLogRunClear(vmiQemuLogRun *run);

/* libvirt's "starting up" line, which begins each run of QEMU. */
gboolean vmiQemuLogIsRunMark(const char *line);

/*
 * A domain log read a line at a time, each read going on where the last
 * one stopped (from the start of a file rotated or truncated meanwhile);
 * the first read begins at the current run's "starting up" line. The
 * hook's wait and virt-vmid's tail read the log through it.
 */
typedef struct _vmiQemuLogReader vmiQemuLogReader;
typedef void (*vmiQemuLogLineFunc)(const char *line, gpointer opaque);

vmiQemuLogReader *vmiQemuLogReaderNew(const char *path);
void vmiQemuLogReaderFree(vmiQemuLogReader *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmiQemuLogReader, vmiQemuLogReaderFree)
/* Calls @func for each line added since the last read. */
gboolean vmiQemuLogReaderRead(vmiQemuLogReader *r, vmiQemuLogLineFunc func, gpointer opaque,
                              GError **error);

/* Reads the current run of the log at @path. */
gboolean vmiQemuLogRead(const char *path, vmiQemuLogRun *run, GError **error);

/*
 * Follows the log at @path until QEMU says the tool is hooked (TRUE) or
 * @timeoutMs went by (FALSE, without an error: @run says what was seen).
 * FALSE with @error when the log cannot be read.
 */
gboolean vmiQemuLogWaitHooked(const char *path, guint timeoutMs, vmiQemuLogRun *run,
                              GError **error);
