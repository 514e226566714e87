/*
 * vmi_status.h: the introspection state of one domain, as `virt-vmi
 * status` shows it
 */
#pragma once

#include <glib.h>

#include "core/qemu_vmi.h"
#include "core/vmi_qmp.h"
#include "libvirt/vmi_domain.h"
#include "core/vmi_keyfile.h"

typedef enum {
    VMI_LISTEN_UNKNOWN,
    VMI_LISTEN_YES,
    VMI_LISTEN_NO,
} vmiListenState;

typedef struct {
    vmiDef *def;                /* NULL: no (valid) element */
    char *defError;             /* why the element is invalid */
    char *argsError;            /* arguments out of step with the element */
    char *secretError;          /* the key secret cannot be read */
    gboolean running;
    char *unmonitored;          /* resumed without its tool on purpose: when */
    char *pausedReason;         /* virt-vmid paused it for want of its tool: why */
    char *pausedSince;          /* and when */
    vmiQmpChardevState chardev;
    char *chardevError;         /* QMP could not be asked */
    vmiListenState listening;   /* when not connected: does a tool listen? */
    gboolean keyFileChecked;
    vmiKeyFileState keyFile;
    char *keyFileError;
} vmiStatus;

void vmiStatusFree(vmiStatus *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmiStatus, vmiStatusFree)

vmiStatus *vmiStatusGet(vmiConn *conn, vmiDomain *dom);
vmiListenState vmiStatusUnixListening(const char *path);
double vmiStatusRehookLimit(const vmiDef *def);
gboolean vmiStatusGuestRuns(vmiDomain *dom);
gboolean vmiStatusWaitHooked(vmiDomain *dom, const vmiDef *def, double limit, const char *where,
                             GError **error);
