/*
 * emu_stream.h: a buffered, non-blocking byte stream on file descriptors
 *
 * Sockets carry file descriptors (SCM_RIGHTS) both ways, as QMP clients
 * pass them to QEMU (getfd, add-fd); plain fds (stdin/stdout of -qmp
 * stdio) carry bytes only. Writes never block: what the peer does not take
 * at once is queued and sent when it can.
 */
#pragma once

#include <glib.h>

typedef struct _emuStream emuStream;

/* @fds: received with these bytes; the callee takes them (or closes them). */
typedef void (*emuStreamReadFunc)(emuStream *stream, const char *data, gsize len,
                                  GArray *fds, gpointer opaque);
/* The peer closed, or the stream broke. */
typedef void (*emuStreamEofFunc)(emuStream *stream, gpointer opaque);

/* @readFd and @writeFd may be the same socket. With @ownFds the stream
 * closes them when freed. */
emuStream *emuStreamNew(int readFd, int writeFd, gboolean ownFds);
void emuStreamSetHandlers(emuStream *stream, emuStreamReadFunc onRead,
                          emuStreamEofFunc onEof, gpointer opaque);
void emuStreamPause(emuStream *stream, gboolean pause);
void emuStreamWrite(emuStream *stream, const void *data, gsize len);
/* The fds go out with the first byte of @data; the stream dups them. */
void emuStreamWriteFds(emuStream *stream, const void *data, gsize len, GArray *fds);
gboolean emuStreamHasOutput(emuStream *stream);
/* Writes what it can now, blocking for at most @timeoutMs. */
void emuStreamFlush(emuStream *stream, int timeoutMs);
int emuStreamFd(emuStream *stream);
void emuStreamFree(emuStream *stream);

void emuCloseFds(GArray *fds);
