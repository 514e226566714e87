/*
 * vmi_fd.c: file descriptors closed on every path, and written in full
 */
#include <errno.h>
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


/* All @len bytes, across short writes and signals; FALSE with errno set. */
gboolean
vmiWriteAll(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return FALSE;
        }
        p += n;
        len -= n;
    }
    return TRUE;
}
