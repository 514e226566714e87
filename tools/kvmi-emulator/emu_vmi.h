/*
 * emu_vmi.h: the introspection object at run time (what accel/kvm/vmi.c does)
 *
 * Its QEMU side: connect through the chardev, send the handshake, read
 * the tool's reply within handshake_timeout, check the cookie, hand the
 * socket to the (emulated) kernel with the allow-lists; and the
 * interceptions: pause, migration and power-down wait until the tool has
 * unhooked (it closes the socket) or unhook_timeout fires; resets unhook
 * at once; reconnects are refused while a pause or migration is pending.
 * The "VMI: ..." messages are the RFC's, at the same moments.
 */
#pragma once

#include <glib.h>

#include "emu_context.h"
#include "conf/vmi_enum.h"

typedef enum {
    EMU_ACTION_NONE,
    EMU_ACTION_SUSPEND,
    EMU_ACTION_RESUME,
    EMU_ACTION_FORCE_RESET,
    EMU_ACTION_MIGRATE,
    EMU_ACTION_SHUTDOWN,

    EMU_ACTION_LAST
} emuAction;

VMI_ENUM_DECL(emuAction);

typedef enum {
    EMU_INTERCEPT_CONTINUE,     /* go on at once */
    EMU_INTERCEPT_DELAYED,      /* @cont runs when the tool has unhooked */
    EMU_INTERCEPT_WAIT,         /* async_unhook=off: the command itself waits,
                                 * then goes on: @cont runs at that point */
} emuInterceptResult;

typedef void (*emuVmiContinueFunc)(gpointer opaque);

/* The object's checks when the machine is ready (command line) or at
 * once (QMP), in QEMU's order. @qemuChardevs: the ids of QEMU's own
 * chardevs; @objects: id -> QOM type of the other objects. */
emuVmi *emuVmiNew(emuObject *obj, gboolean fromCmdline, GHashTable *qemuChardevs,
                  GHashTable *objects, GError **error);
/* Starts connecting. */
void emuVmiStart(emuVmi *vmi);
void emuVmiFree(emuVmi *vmi);

const emuObject *emuVmiObject(emuVmi *vmi);
emuChardev *emuVmiChardev(emuVmi *vmi);

/* vm_introspection_intercept(): works without an object too (the pending
 * flags are QEMU's globals). */
emuInterceptResult emuVmiIntercept(emuAction action, emuVmiContinueFunc cont,
                                   gpointer opaque);
/* A reset (guest or system_reset): the registered reset handler. */
void emuVmiReset(void);
/* The migration failed or was cancelled. */
void emuVmiMigrationFailed(void);
