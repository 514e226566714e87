/*
 * vmid_log.c: follow a domain's log
 *
 * libvirt (through virtlogd) appends QEMU's standard error to
 * /var/log/libvirt/qemu/NAME.log and starts each run with a "starting up"
 * line; the lines are read as the hook reads them (vmiQemuLogReader).
 * inotify says when the log grows: no polling.
 *
 * inotify is used directly, not through GFileMonitor: GLib's inotify
 * source stops reading events for 100 ms whenever a batch held nothing a
 * monitor wanted ("boredom"), and a file monitor watches the whole
 * directory, which every running domain's log shares; so a line of one
 * domain was often seen 100 ms late because another domain's log had
 * grown just before. One inotify descriptor watches the directories of
 * the logs followed (IN_MODIFY, and IN_CREATE / IN_MOVED_TO for a log
 * re-created or rotated), from the main loop.
 */
#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "daemon/vmid_log.h"
#include "core/vmi_qemu_log.h"

#define VMID_LOG_WATCH_MASK (IN_MODIFY | IN_CREATE | IN_MOVED_TO)

struct _vmidLogTail {
    char *path;
    int wd;                     /* its directory's watch, or -1 */
    vmiQemuLogReader *reader;
    vmidLogLineFunc func;
    gpointer opaque;
};


static void
vmidLogTailLine(const char *line, gpointer opaque)
{
    vmidLogTail *tail = opaque;

    tail->func(line, tail->opaque);
}


static void
vmidLogTailOnChange(vmidLogTail *tail)
{
    g_autoptr(GError) err = NULL;

    if (!vmiQemuLogReaderRead(tail->reader, vmidLogTailLine, tail, &err))
        g_debug("%s", err->message);
}


/* --- the one inotify descriptor of the daemon's tails ------------------- */

static struct {
    int fd;
    guint source;
    GHashTable *dirs;           /* wd -> directory path */
    GHashTable *tails;          /* log path -> GPtrArray of vmidLogTail */
} vmidLogWatch = { -1, 0, NULL, NULL };


static void
vmidLogWatchEvent(const struct inotify_event *ev)
{
    const char *dir;
    g_autofree char *path = NULL;
    GPtrArray *tails;

    if (!ev->len || !(ev->mask & VMID_LOG_WATCH_MASK) ||
        !(dir = g_hash_table_lookup(vmidLogWatch.dirs, GINT_TO_POINTER(ev->wd))))
        return;
    path = g_build_filename(dir, ev->name, NULL);
    if (!(tails = g_hash_table_lookup(vmidLogWatch.tails, path)))
        return;
    /* a tail's callback may free other tails of the same log */
    g_ptr_array_ref(tails);
    for (guint i = 0; i < tails->len; i++)
        vmidLogTailOnChange(g_ptr_array_index(tails, i));
    g_ptr_array_unref(tails);
}


static gboolean
vmidLogWatchRead(gint fd, GIOCondition cond G_GNUC_UNUSED, gpointer opaque G_GNUC_UNUSED)
{
    char buf[16 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;

            vmidLogWatchEvent(ev);
            p += sizeof(*ev) + ev->len;
        }
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        g_warning("cannot read inotify events: %s", g_strerror(errno));
        vmidLogWatch.source = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}


static gboolean
vmidLogWatchInit(void)
{
    if (vmidLogWatch.fd >= 0)
        return TRUE;
    if ((vmidLogWatch.fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0)
        return FALSE;
    vmidLogWatch.dirs = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    vmidLogWatch.tails = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify)g_ptr_array_unref);
    vmidLogWatch.source = g_unix_fd_add(vmidLogWatch.fd, G_IO_IN, vmidLogWatchRead, NULL);
    return TRUE;
}


static void
vmidLogWatchAdd(vmidLogTail *tail)
{
    g_autofree char *dir = g_path_get_dirname(tail->path);
    GPtrArray *tails;

    if (!vmidLogWatchInit() ||
        (tail->wd = inotify_add_watch(vmidLogWatch.fd, dir, VMID_LOG_WATCH_MASK)) < 0) {
        tail->wd = -1;
        g_warning("cannot follow %s: %s", tail->path, g_strerror(errno));
        return;
    }
    /* the same directory gives the same watch */
    if (!g_hash_table_contains(vmidLogWatch.dirs, GINT_TO_POINTER(tail->wd)))
        g_hash_table_insert(vmidLogWatch.dirs, GINT_TO_POINTER(tail->wd), g_steal_pointer(&dir));
    if (!(tails = g_hash_table_lookup(vmidLogWatch.tails, tail->path))) {
        tails = g_ptr_array_new();
        g_hash_table_insert(vmidLogWatch.tails, g_strdup(tail->path), tails);
    }
    g_ptr_array_add(tails, tail);
}


/* The directory's watch stays while another tail uses it; else it goes. */
static void
vmidLogWatchRemove(vmidLogTail *tail)
{
    GPtrArray *tails = g_hash_table_lookup(vmidLogWatch.tails, tail->path);
    GHashTableIter iter;
    gpointer value;

    if (tail->wd < 0)
        return;
    if (tails) {
        g_ptr_array_remove(tails, tail);
        if (!tails->len)
            g_hash_table_remove(vmidLogWatch.tails, tail->path);
    }
    g_hash_table_iter_init(&iter, vmidLogWatch.tails);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        GPtrArray *others = value;

        for (guint i = 0; i < others->len; i++) {
            if (((vmidLogTail *)g_ptr_array_index(others, i))->wd == tail->wd)
                return;
        }
    }
    inotify_rm_watch(vmidLogWatch.fd, tail->wd);
    g_hash_table_remove(vmidLogWatch.dirs, GINT_TO_POINTER(tail->wd));
    if (g_hash_table_size(vmidLogWatch.dirs))
        return;
    /* nothing followed: no descriptor either */
    g_clear_handle_id(&vmidLogWatch.source, g_source_remove);
    g_clear_pointer(&vmidLogWatch.dirs, g_hash_table_unref);
    g_clear_pointer(&vmidLogWatch.tails, g_hash_table_unref);
    close(vmidLogWatch.fd);
    vmidLogWatch.fd = -1;
}


vmidLogTail *
vmidLogTailNew(const char *path, vmidLogLineFunc func, gpointer opaque)
{
    vmidLogTail *tail = g_new0(vmidLogTail, 1);

    tail->path = g_strdup(path);
    tail->reader = vmiQemuLogReaderNew(path);
    tail->func = func;
    tail->opaque = opaque;
    vmidLogWatchAdd(tail);
    vmidLogTailOnChange(tail);
    return tail;
}


void
vmidLogTailFree(vmidLogTail *tail)
{
    if (!tail)
        return;
    vmidLogWatchRemove(tail);
    vmiQemuLogReaderFree(tail->reader);
    g_free(tail->path);
    g_free(tail);
}
