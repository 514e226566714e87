/*
 * emu_handlers.h: the intercepted QMP commands, by family, and what they share
 *
 * emu_intercept.c dispatches; emu_migrate.c holds migrations; emu_qom.c
 * handles the object, its chardev and their QOM/chardev views.
 */
#pragma once

#include "emu_proxy.h"
#include "emu_vmi.h"

/* A command whose client may be answered before its action runs. */
typedef struct {
    emuRequest *req;                /* NULL once answered */
} emuDeferred;

gboolean emuIsSuccess(const char *msg, gsize len);
/* emuVmiIntercept() as QEMU calls it from inside a QMP or HMP command. */
emuInterceptResult emuInterceptCall(emuRequest *req, emuAction action,
                                    emuVmiContinueFunc cont, gpointer opaque);
/* Forwards a held request (an emuVmiContinueFunc). */
void emuReleaseRequest(gpointer opaque);

void emuMigrate(emuRequest *req);
void emuMigrateCancel(emuRequest *req);
void emuQueryMigrate(emuRequest *req);

void emuObjectAdd(emuRequest *req);
void emuObjectDel(emuRequest *req);
void emuChardevAdd(emuRequest *req);
void emuChardevRemove(emuRequest *req);
void emuQueryChardev(emuRequest *req);
void emuQomList(emuRequest *req);
void emuQomGet(emuRequest *req);
