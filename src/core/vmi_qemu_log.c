/*
 * vmi_qemu_log.c: what a domain's log says of QEMU's current run
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/vmi_qemu_log.h"
#include "core/vmi_fd.h"
#include "conf/vmi_error.h"

/* libvirt's first line of every run: "DATE: starting up libvirt version: ..." */
#define VMI_QEMU_LOG_RUN_MARK ": starting up "
/* read at most this much from the log's end (virtlogd rotates at 2 MiB) */
#define VMI_QEMU_LOG_MAX_READ (4 * 1024 * 1024)
/* between two looks at the log when inotify says nothing (a rotation) */
#define VMI_QEMU_LOG_POLL_MS 200

struct _vmiQemuLogReader {
    char *path;
    goffset offset;         /* read up to here */
    GString *partial;       /* a line not ended yet */
    gboolean started;       /* read once: later reads go on from @offset */
};


void
vmiQemuLogRunClear(vmiQemuLogRun *run)
{
    g_clear_pointer(&run->reason, g_free);
    memset(run, 0, sizeof(*run));
}


static void
vmiQemuLogSetReason(vmiQemuLogRun *run, const char *msg)
{
    g_free(run->reason);
    run->reason = g_strdup(msg);
}


static const struct {
    const char *words;
    vmiQemuMsg kind;
} vmiQemuMsgs[] = {
    { "VMI: introspection tool connected", VMI_QEMU_MSG_CONNECTED },
    { "VMI: machine hooked", VMI_QEMU_MSG_HOOKED },
    { "VMI: introspection tool disconnected", VMI_QEMU_MSG_DISCONNECTED },
    { "VMI: Reset detected", VMI_QEMU_MSG_RESET },
    /* system_reset over QMP: the tool dropped at once, and no other word */
    { "VMI: intercept command: force-reset", VMI_QEMU_MSG_RESET },
    { "VMI: received cookie doesn't match", VMI_QEMU_MSG_COOKIE_REFUSED },
    { "VMI: not enough or invalid handshake data", VMI_QEMU_MSG_HANDSHAKE_FAILED },
    { "VMI: the handshake takes too long", VMI_QEMU_MSG_HANDSHAKE_FAILED },
    { "VMI: missing ", VMI_QEMU_MSG_MISSING },
    { "VMI: the introspection tool is too slow", VMI_QEMU_MSG_TOO_SLOW },
    { "VMI: intercept command: ", VMI_QEMU_MSG_INTERCEPT },
    { "VMI: intercept action: continue", VMI_QEMU_MSG_CONTINUE_AT_ONCE },
    { "VMI: continue with '", VMI_QEMU_MSG_CONTINUE_WITH },
};


vmiQemuMsg
vmiQemuLogClassify(const char *line, const char **msg, const char **arg)
{
    const char *words = strstr(line, "VMI: ");

    if (msg)
        *msg = words;
    if (arg)
        *arg = NULL;
    if (!words)
        return VMI_QEMU_MSG_NONE;
    for (size_t i = 0; i < G_N_ELEMENTS(vmiQemuMsgs); i++) {
        if (g_str_has_prefix(words, vmiQemuMsgs[i].words)) {
            if (arg)
                *arg = words + strlen(vmiQemuMsgs[i].words);
            return vmiQemuMsgs[i].kind;
        }
    }
    return VMI_QEMU_MSG_NONE;
}


/* One line of the run. */
static void
vmiQemuLogLine(vmiQemuLogRun *run, const char *line)
{
    const char *msg;

    /* libvirt writes the command line an option a line, " \" ending each */
    if (g_str_has_prefix(line, "-incoming ") || strstr(line, " -incoming "))
        run->incoming = TRUE;
    switch (vmiQemuLogClassify(line, &msg, NULL)) {
    case VMI_QEMU_MSG_CONNECTED:
        run->connected = TRUE;
        break;
    case VMI_QEMU_MSG_HOOKED:
        run->hooked = TRUE;
        g_clear_pointer(&run->reason, g_free);
        break;
    case VMI_QEMU_MSG_DISCONNECTED:
    case VMI_QEMU_MSG_RESET:
        run->hooked = FALSE;
        break;
    case VMI_QEMU_MSG_COOKIE_REFUSED:
    case VMI_QEMU_MSG_HANDSHAKE_FAILED:
    case VMI_QEMU_MSG_MISSING:
        vmiQemuLogSetReason(run, msg);
        break;
    default:
        break;
    }
}


gboolean
vmiQemuLogIsRunMark(const char *line)
{
    return strstr(line, VMI_QEMU_LOG_RUN_MARK) != NULL;
}


vmiQemuLogReader *
vmiQemuLogReaderNew(const char *path)
{
    vmiQemuLogReader *r = g_new0(vmiQemuLogReader, 1);

    r->path = g_strdup(path);
    r->partial = g_string_new(NULL);
    return r;
}


void
vmiQemuLogReaderFree(vmiQemuLogReader *r)
{
    if (!r)
        return;
    g_string_free(r->partial, TRUE);
    g_free(r->path);
    g_free(r);
}


static void
vmiQemuLogReaderFeed(vmiQemuLogReader *r, const char *data, gsize len,
                     vmiQemuLogLineFunc func, gpointer opaque)
{
    const char *end = data + len;

    while (data < end) {
        const char *nl = memchr(data, '\n', end - data);

        if (!nl) {
            g_string_append_len(r->partial, data, end - data);
            return;
        }
        g_string_append_len(r->partial, data, nl - data);
        func(r->partial->str, opaque);
        g_string_truncate(r->partial, 0);
        data = nl + 1;
    }
}


/* Where the last run's first line begins in @data (its start if none). */
static const char *
vmiQemuLogLastRun(const char *data)
{
    const char *run = data;

    for (const char *mark = data; (mark = strstr(mark, VMI_QEMU_LOG_RUN_MARK)); mark++) {
        const char *line = mark;

        while (line > data && line[-1] != '\n')
            line--;
        run = line;
    }
    return run;
}


gboolean
vmiQemuLogReaderRead(vmiQemuLogReader *r, vmiQemuLogLineFunc func, gpointer opaque,
                     GError **error)
{
    VMI_AUTOCLOSE fd = open(r->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    g_autofree char *buf = NULL;
    const char *from;
    struct stat st;
    ssize_t n;

    if (fd < 0 || fstat(fd, &st) < 0) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "cannot read the domain log %s: %s",
                    r->path, g_strerror(errno));
        return FALSE;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "cannot read the domain log %s: not a regular file", r->path);
        return FALSE;
    }
    if (st.st_size < r->offset) {
        /* rotated or truncated: a new file from its start */
        r->offset = 0;
        g_string_truncate(r->partial, 0);
    }
    if (st.st_size - r->offset > VMI_QEMU_LOG_MAX_READ)
        r->offset = st.st_size - VMI_QEMU_LOG_MAX_READ;
    if (st.st_size == r->offset)
        return TRUE;
    buf = g_malloc(st.st_size - r->offset + 1);
    if ((n = pread(fd, buf, st.st_size - r->offset, r->offset)) < 0) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "cannot read the domain log %s: %s",
                    r->path, g_strerror(errno));
        return FALSE;
    }
    buf[n] = '\0';
    r->offset += n;
    /* the first read begins at the current run: earlier ones were other QEMUs' */
    from = r->started ? buf : vmiQemuLogLastRun(buf);
    r->started = TRUE;
    vmiQemuLogReaderFeed(r, from, n - (from - buf), func, opaque);
    return TRUE;
}


/* A line of the log, into the run it belongs to. */
static void
vmiQemuLogRunLine(const char *line, gpointer opaque)
{
    vmiQemuLogRun *run = opaque;

    if (vmiQemuLogIsRunMark(line)) {
        /* a new run: what came before was another QEMU's */
        vmiQemuLogRunClear(run);
        run->found = TRUE;
    } else if (run->found) {
        vmiQemuLogLine(run, line);
    }
}


gboolean
vmiQemuLogRead(const char *path, vmiQemuLogRun *run, GError **error)
{
    g_autoptr(vmiQemuLogReader) r = vmiQemuLogReaderNew(path);

    vmiQemuLogRunClear(run);
    return vmiQemuLogReaderRead(r, vmiQemuLogRunLine, run, error);
}


gboolean
vmiQemuLogWaitHooked(const char *path, guint timeoutMs, vmiQemuLogRun *run, GError **error)
{
    g_autoptr(vmiQemuLogReader) r = vmiQemuLogReaderNew(path);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeoutMs * 1000;
    VMI_AUTOCLOSE ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    gboolean ok = FALSE;

    vmiQemuLogRunClear(run);
    /* a change wakes the wait at once; without inotify, it looks every
     * VMI_QEMU_LOG_POLL_MS */
    if (ino >= 0 && inotify_add_watch(ino, path, IN_MODIFY) < 0) {
        close(ino);
        ino = -1;
    }
    for (;;) {
        gint64 left;
        struct pollfd pfd = { ino, POLLIN, 0 };

        if (!vmiQemuLogReaderRead(r, vmiQemuLogRunLine, run, error))
            break;
        if (run->hooked) {
            ok = TRUE;
            break;
        }
        if ((left = deadline - g_get_monotonic_time()) <= 0)
            break;
        if (poll(&pfd, ino >= 0 ? 1 : 0, MIN(left / 1000 + 1, VMI_QEMU_LOG_POLL_MS)) > 0) {
            char events[4096];

            while (read(ino, events, sizeof(events)) > 0) {
                /* drained: the log is read again */
            }
        }
    }
    return ok;
}
