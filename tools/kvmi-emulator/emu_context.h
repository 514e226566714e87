/*
 * emu_context.h: what the relay process knows about the VM it stands beside
 *
 * One emulated QEMU per process: the machine's identity (from the command
 * line), its e820 map (once the machine is ready), the private QMP
 * session, the socket chardevs the emulator runs and the introspection
 * object, if any.
 */
#pragma once

#include <glib.h>

#include "emu_chardev.h"
#include "emu_object.h"
#include "emu_session.h"

typedef struct _emuVmi emuVmi;

typedef enum {
    EMU_MIGRATE_HOLD_SETUP,         /* the RFC: status "setup" until the unhook */
    EMU_MIGRATE_HOLD_WAIT_UNPLUG,   /* kvmi-v12: "wait-unplug" */
} emuMigrateHold;

/* What the introspection object takes for KVM. */
typedef enum {
    EMU_KVM_HOST,                   /* the host's: a TCG guest has "missing KVM support" */
    EMU_KVM_TCG,                    /* a host without KVM: a TCG guest stands in for a KVM one */
} emuKvmMode;

typedef struct {
    emuCompat compat;
    emuKvmMode kvmMode;
    emuMigrateHold migrateHold;
    guint8 uuid[16];
    char *guestName;
    gboolean kvm;                   /* the object finds KVM support */
    gboolean machineReady;
    GArray *e820;                   /* kvmiWireE820Entry, QEMU's table order */
    emuSession *priv;               /* the private QMP session */
    GPtrArray *chardevs;            /* emuChardev *, the ones the emulator runs */
    emuVmi *vmi;                    /* the introspection object, or NULL */
} emuContext;

extern emuContext emuCtx;

emuChardev *emuContextFindChardev(const char *id);
void emuContextRemoveChardev(emuChardev *chr);
