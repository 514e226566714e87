/*
 * emu_session.h: a QMP session with the real QEMU, on one end of a socket pair
 *
 * The emulator negotiates the capabilities of each session itself, once,
 * and keeps the session for QEMU's life: QEMU's greeting is kept for the
 * clients that connect later. Replies come back in order (the emulator
 * never enables out-of-band execution on them), so each command sent gets
 * the next reply; events go to the session's event handler.
 */
#pragma once

#include <glib.h>
#include <yajl/yajl_tree.h>

typedef struct _emuSession emuSession;

/* A raw reply, as QEMU wrote it (its "\r\n" included), to a command sent
 * with emuSessionSend(). */
typedef void (*emuSessionReplyFunc)(emuSession *session, const char *msg, gsize len,
                                    gpointer opaque);
/* A parsed reply to emuSessionCall(): @ret is the "return" member, or NULL
 * with the error's @desc. */
typedef void (*emuSessionResultFunc)(emuSession *session, yajl_val ret, const char *desc,
                                     gpointer opaque);
typedef void (*emuSessionEventFunc)(emuSession *session, const char *msg, gsize len,
                                    const char *name, gpointer opaque);
typedef void (*emuSessionStateFunc)(emuSession *session, gpointer opaque);

typedef struct {
    emuSessionStateFunc ready;      /* greeting read, capabilities negotiated */
    emuSessionEventFunc event;
    emuSessionStateFunc eof;        /* QEMU went away */
} emuSessionCallbacks;

emuSession *emuSessionNew(int fd, const emuSessionCallbacks *cb, gpointer opaque);
void emuSessionFree(emuSession *session);

gboolean emuSessionReady(emuSession *session);
/* QEMU's greeting, as QEMU sent it (with its "\r\n"). */
const GString *emuSessionGreeting(emuSession *session);

void emuSessionSend(emuSession *session, const char *msg, gsize len, GArray *fds,
                    emuSessionReplyFunc cb, gpointer opaque);
/* @argsJson: the "arguments" object as JSON text, or NULL. */
void emuSessionCall(emuSession *session, const char *execute, const char *argsJson,
                    emuSessionResultFunc cb, gpointer opaque);
