/*
 * emu_intercept.h: the QMP commands a KVMI QEMU treats differently
 *
 * stop (held until the tool has unhooked), cont (re-enables reconnects),
 * system_reset (unhooks at once), system_powerdown (delayed), migrate
 * (answered at once, held in "setup" or "wait-unplug"), migrate_cancel
 * and query-migrate while held, object-add/object-del of the
 * introspection object, chardev-add/-remove of its chardev, and what
 * query-chardev and qom-list show; the HMP spellings of stop, cont,
 * system_reset and system_powerdown through human-monitor-command.
 * Everything else is forwarded untouched.
 */
#pragma once

#include "emu_proxy.h"

void emuInterceptDispatch(emuRequest *req);
/* Whether an event from @mon's QEMU session goes to its client. */
gboolean emuInterceptEvent(emuMonitor *mon, const char *name, const char *msg, gsize len);
/* Events on the private session (resets). */
void emuInterceptPrivateEvent(emuSession *session, const char *msg, gsize len,
                              const char *name, gpointer opaque);
/* A QEMU session reached its end (QEMU exits): @func, set by the relay,
 * counts them and ends the relay after the last. */
void emuInterceptQemuGone(void);
void emuInterceptSetQuitFunc(void (*func)(void));
