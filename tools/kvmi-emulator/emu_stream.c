/*
 * emu_stream.c: a buffered, non-blocking byte stream on file descriptors
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <glib-unix.h>

#include "emu_stream.h"

#define EMU_STREAM_READ_SIZE 65536
#define EMU_STREAM_MAX_FDS 16       /* QEMU's limit per message (TCP_MAX_FDS) */

typedef struct {
    GBytes *data;
    gsize offset;
    GArray *fds;                    /* still to send with the next byte */
} emuChunk;

struct _emuStream {
    int readFd;
    int writeFd;
    gboolean ownFds;
    gboolean readIsSocket;
    gboolean writeIsSocket;
    gboolean paused;
    gboolean readEof;               /* nothing more to read */
    gboolean broken;                /* nothing more can be written */
    guint readWatch;
    guint writeWatch;
    GQueue out;                     /* emuChunk */
    emuStreamReadFunc onRead;
    emuStreamEofFunc onEof;
    gpointer opaque;
    gint dispatching;               /* > 0 while a callback runs */
    gboolean freeLater;
};

static void emuStreamWatchRead(emuStream *stream);
static gboolean emuStreamSendSome(emuStream *stream);


void
emuCloseFds(GArray *fds)
{
    guint i;

    if (!fds)
        return;
    for (i = 0; i < fds->len; i++)
        close(g_array_index(fds, int, i));
    g_array_set_size(fds, 0);
}


static void
emuChunkFree(emuChunk *chunk)
{
    g_bytes_unref(chunk->data);
    if (chunk->fds) {
        emuCloseFds(chunk->fds);
        g_array_unref(chunk->fds);
    }
    g_free(chunk);
}


static gboolean
emuIsSocket(int fd)
{
    int type;
    socklen_t len = sizeof(type);

    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
}


emuStream *
emuStreamNew(int readFd, int writeFd, gboolean ownFds)
{
    emuStream *stream = g_new0(emuStream, 1);

    stream->readFd = readFd;
    stream->writeFd = writeFd;
    stream->ownFds = ownFds;
    stream->readIsSocket = emuIsSocket(readFd);
    stream->writeIsSocket = emuIsSocket(writeFd);
    g_unix_set_fd_nonblocking(readFd, TRUE, NULL);
    g_unix_set_fd_nonblocking(writeFd, TRUE, NULL);
    g_queue_init(&stream->out);
    return stream;
}


void
emuStreamSetHandlers(emuStream *stream, emuStreamReadFunc onRead,
                     emuStreamEofFunc onEof, gpointer opaque)
{
    stream->onRead = onRead;
    stream->onEof = onEof;
    stream->opaque = opaque;
    emuStreamWatchRead(stream);
}


int
emuStreamFd(emuStream *stream)
{
    return stream->readFd;
}


static void
emuStreamClearWatch(guint *watch)
{
    if (*watch) {
        g_source_remove(*watch);
        *watch = 0;
    }
}


static void
emuStreamDoFree(emuStream *stream)
{
    emuStreamClearWatch(&stream->readWatch);
    emuStreamClearWatch(&stream->writeWatch);
    g_queue_clear_full(&stream->out, (GDestroyNotify)emuChunkFree);
    if (stream->ownFds) {
        close(stream->readFd);
        if (stream->writeFd != stream->readFd)
            close(stream->writeFd);
    }
    g_free(stream);
}


void
emuStreamFree(emuStream *stream)
{
    if (!stream)
        return;
    emuStreamClearWatch(&stream->readWatch);
    emuStreamClearWatch(&stream->writeWatch);
    stream->onRead = NULL;
    stream->onEof = NULL;
    /* freed by the dispatcher when a callback frees its own stream */
    if (stream->dispatching) {
        stream->freeLater = TRUE;
        return;
    }
    emuStreamDoFree(stream);
}


static void
emuStreamEof(emuStream *stream)
{
    /* writing may still work: stdin ended, stdout did not */
    stream->readEof = TRUE;
    emuStreamClearWatch(&stream->readWatch);
    if (stream->onEof)
        stream->onEof(stream, stream->opaque);
}


/* Reads once; the received fds come back in @fds. */
static gssize
emuStreamRecv(emuStream *stream, char *buf, gsize size, GArray *fds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * EMU_STREAM_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = { buf, size };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
    };
    struct cmsghdr *cmsg;
    gssize n;

    if (!stream->readIsSocket)
        return read(stream->readFd, buf, size);
    n = recvmsg(stream->readFd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0)
        return n;
    for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
            gsize count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);

            g_array_append_vals(fds, CMSG_DATA(cmsg), count);
        }
    }
    return n;
}


static gboolean
emuStreamOnReadable(gint fd, GIOCondition cond, gpointer opaque)
{
    emuStream *stream = opaque;
    g_autofree char *buf = g_malloc(EMU_STREAM_READ_SIZE);
    g_autoptr(GArray) fds = g_array_new(FALSE, FALSE, sizeof(int));
    gssize n;

    n = emuStreamRecv(stream, buf, EMU_STREAM_READ_SIZE, fds);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;

    stream->dispatching++;
    if (n <= 0) {
        emuCloseFds(fds);
        stream->readWatch = 0;
        emuStreamEof(stream);
        stream->dispatching--;
        if (stream->freeLater)
            emuStreamDoFree(stream);
        return G_SOURCE_REMOVE;
    }
    if (stream->onRead)
        stream->onRead(stream, buf, n, fds, stream->opaque);
    else
        emuCloseFds(fds);
    stream->dispatching--;
    if (stream->freeLater) {
        emuStreamDoFree(stream);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}


static void
emuStreamWatchRead(emuStream *stream)
{
    if (stream->readWatch || stream->paused || stream->readEof || !stream->onRead)
        return;
    stream->readWatch = g_unix_fd_add(stream->readFd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                      emuStreamOnReadable, stream);
}


void
emuStreamPause(emuStream *stream, gboolean pause)
{
    stream->paused = pause;
    if (pause)
        emuStreamClearWatch(&stream->readWatch);
    else
        emuStreamWatchRead(stream);
}


static gssize
emuStreamSendChunk(emuStream *stream, emuChunk *chunk)
{
    gsize len;
    const char *data = g_bytes_get_data(chunk->data, &len);
    struct iovec iov = { (char *)data + chunk->offset, len - chunk->offset };
    union {
        char buf[CMSG_SPACE(sizeof(int) * EMU_STREAM_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    gssize n;

    if (!stream->writeIsSocket)
        return write(stream->writeFd, iov.iov_base, iov.iov_len);
    if (chunk->fds && chunk->fds->len > 0) {
        guint nfds = MIN(chunk->fds->len, EMU_STREAM_MAX_FDS);
        struct cmsghdr *cmsg;

        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cmsg), chunk->fds->data, sizeof(int) * nfds);
    }
    n = sendmsg(stream->writeFd, &msg, MSG_NOSIGNAL);
    if (n > 0 && chunk->fds)
        emuCloseFds(chunk->fds);
    return n;
}


static gboolean
emuStreamOnWritable(gint fd, GIOCondition cond, gpointer opaque)
{
    emuStream *stream = opaque;

    if (emuStreamSendSome(stream))
        return G_SOURCE_CONTINUE;
    stream->writeWatch = 0;
    return G_SOURCE_REMOVE;
}


/* Returns whether output is left to send. */
static gboolean
emuStreamSendSome(emuStream *stream)
{
    emuChunk *chunk;

    while ((chunk = g_queue_peek_head(&stream->out))) {
        gssize n = emuStreamSendChunk(stream, chunk);

        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            /* the reader sees the EOF: drop what cannot go */
            g_queue_clear_full(&stream->out, (GDestroyNotify)emuChunkFree);
            stream->broken = TRUE;
            return FALSE;
        }
        chunk->offset += n;
        if (chunk->offset == g_bytes_get_size(chunk->data))
            emuChunkFree(g_queue_pop_head(&stream->out));
    }
    if (g_queue_is_empty(&stream->out))
        return FALSE;
    if (!stream->writeWatch)
        stream->writeWatch = g_unix_fd_add(stream->writeFd, G_IO_OUT | G_IO_ERR | G_IO_HUP,
                                           emuStreamOnWritable, stream);
    return TRUE;
}


void
emuStreamWriteFds(emuStream *stream, const void *data, gsize len, GArray *fds)
{
    emuChunk *chunk;

    if (stream->broken || len == 0)
        return;
    chunk = g_new0(emuChunk, 1);
    chunk->data = g_bytes_new(data, len);
    if (fds && fds->len > 0) {
        guint i;

        chunk->fds = g_array_new(FALSE, FALSE, sizeof(int));
        for (i = 0; i < fds->len; i++) {
            int fd = fcntl(g_array_index(fds, int, i), F_DUPFD_CLOEXEC, 0);

            if (fd >= 0)
                g_array_append_val(chunk->fds, fd);
        }
    }
    g_queue_push_tail(&stream->out, chunk);
    if (!stream->writeWatch)
        emuStreamSendSome(stream);
}


void
emuStreamWrite(emuStream *stream, const void *data, gsize len)
{
    emuStreamWriteFds(stream, data, len, NULL);
}


gboolean
emuStreamHasOutput(emuStream *stream)
{
    return !g_queue_is_empty(&stream->out);
}


void
emuStreamFlush(emuStream *stream, int timeoutMs)
{
    gint64 deadline = g_get_monotonic_time() + timeoutMs * G_TIME_SPAN_MILLISECOND;

    while (emuStreamSendSome(stream)) {
        struct pollfd pfd = { stream->writeFd, POLLOUT, 0 };
        gint64 left = (deadline - g_get_monotonic_time()) / G_TIME_SPAN_MILLISECOND;

        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            break;
    }
}
