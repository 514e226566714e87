/*
 * vmid_log.c: follow a domain's log
 *
 * libvirt (through virtlogd) appends QEMU's standard error to
 * /var/log/libvirt/qemu/NAME.log and starts each run with a "starting up"
 * line. An inotify-backed GFileMonitor says when it grows: no polling.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/vmid_log.h"
#include "core/vmi_fd.h"

/* libvirt's first line of every run: "DATE: starting up libvirt version: ..." */
#define VMID_LOG_RUN_MARK ": starting up "
/* a log larger than this is read from its end only (virtlogd rotates at 2 MiB) */
#define VMID_LOG_MAX_READ (4 * 1024 * 1024)

struct _vmidLogTail {
    char *path;
    GFileMonitor *monitor;
    goffset offset;
    GString *partial;           /* a line not ended yet */
    vmidLogLineFunc func;
    gpointer opaque;
};


static void
vmidLogTailFeed(vmidLogTail *tail, const char *data, gsize len)
{
    const char *end = data + len;

    while (data < end) {
        const char *nl = memchr(data, '\n', end - data);

        if (!nl) {
            g_string_append_len(tail->partial, data, end - data);
            return;
        }
        g_string_append_len(tail->partial, data, nl - data);
        tail->func(tail->partial->str, tail->opaque);
        g_string_truncate(tail->partial, 0);
        data = nl + 1;
    }
}


/* What the file holds past @tail->offset (all of it, after a rotation). */
static char *
vmidLogTailReadNew(vmidLogTail *tail, gsize *len)
{
    VMI_AUTOCLOSE fd = open(tail->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    g_autofree char *buf = NULL;
    ssize_t n;

    *len = 0;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return NULL;
    if (st.st_size < tail->offset) {
        /* rotated or truncated: a new file from its start */
        tail->offset = 0;
        g_string_truncate(tail->partial, 0);
    }
    if (st.st_size - tail->offset > VMID_LOG_MAX_READ)
        tail->offset = st.st_size - VMID_LOG_MAX_READ;
    buf = g_malloc(st.st_size - tail->offset + 1);
    n = pread(fd, buf, st.st_size - tail->offset, tail->offset);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    tail->offset += n;
    *len = n;
    return g_steal_pointer(&buf);
}


static void
vmidLogTailOnChange(GFileMonitor *monitor, GFile *file, GFile *other,
                    GFileMonitorEvent event, gpointer opaque)
{
    vmidLogTail *tail = opaque;
    g_autofree char *data = NULL;
    gsize len;

    if (event != G_FILE_MONITOR_EVENT_CHANGED && event != G_FILE_MONITOR_EVENT_CREATED)
        return;
    if ((data = vmidLogTailReadNew(tail, &len)))
        vmidLogTailFeed(tail, data, len);
}


/* The current run: what follows the last "starting up" line. */
static void
vmidLogTailReadRun(vmidLogTail *tail)
{
    g_autofree char *data = NULL;
    const char *run, *mark;
    gsize len;

    if (!(data = vmidLogTailReadNew(tail, &len)))
        return;
    run = data;
    for (mark = data; (mark = strstr(mark, VMID_LOG_RUN_MARK)); mark++) {
        const char *line = mark;

        while (line > data && line[-1] != '\n')
            line--;
        run = line;
    }
    vmidLogTailFeed(tail, run, len - (run - data));
}


vmidLogTail *
vmidLogTailNew(const char *path, vmidLogLineFunc func, gpointer opaque)
{
    g_autoptr(GFile) file = g_file_new_for_path(path);
    vmidLogTail *tail = g_new0(vmidLogTail, 1);
    g_autoptr(GError) err = NULL;

    tail->path = g_strdup(path);
    tail->partial = g_string_new(NULL);
    tail->func = func;
    tail->opaque = opaque;
    if ((tail->monitor = g_file_monitor_file(file, G_FILE_MONITOR_NONE, NULL, &err))) {
        g_file_monitor_set_rate_limit(tail->monitor, 0);
        g_signal_connect(tail->monitor, "changed", G_CALLBACK(vmidLogTailOnChange), tail);
    } else {
        g_warning("cannot follow %s: %s", path, err->message);
    }
    vmidLogTailReadRun(tail);
    return tail;
}


void
vmidLogTailFree(vmidLogTail *tail)
{
    if (!tail)
        return;
    if (tail->monitor) {
        g_signal_handlers_disconnect_by_data(tail->monitor, tail);
        g_file_monitor_cancel(tail->monitor);
        g_object_unref(tail->monitor);
    }
    g_string_free(tail->partial, TRUE);
    g_free(tail->path);
    g_free(tail);
}
