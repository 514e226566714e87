/*
 * vmi_fd.c: file descriptors closed on every path, and written in full
 */
#include <errno.h>
#include <gio/gunixoutputstream.h>
#include <unistd.h>

#include "core/vmi_fd.h"


/* Closes *@fd if open and marks it closed, keeping errno for the caller's
 * error message. */
void
vmiForceClose(int *fd)
{
    int errsv = errno;

    if (*fd >= 0)
        close(*fd);
    *fd = -1;
    errno = errsv;
}


/*
 * All @len bytes to @fd, which stays open: GIO's write_all, across short
 * writes and signals.
 */
gboolean
vmiFdWriteAll(int fd, const void *buf, gsize len, GError **error)
{
    g_autoptr(GOutputStream) out = g_unix_output_stream_new(fd, FALSE);

    return g_output_stream_write_all(out, buf, len, NULL, NULL, error);
}
