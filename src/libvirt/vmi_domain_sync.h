/*
 * vmi_domain_sync.h: bring one domain's QEMU arguments in step with its element
 */
#pragma once

#include "libvirt/vmi_domain.h"

typedef enum {
    VMI_SYNC_IN_STEP,       /* nothing to change: not redefined */
    VMI_SYNC_CHANGED,       /* redefined once; @changes says what changed */
    VMI_SYNC_INVALID,       /* the element is invalid: left untouched */
    VMI_SYNC_FAILED,        /* libvirt refused, or the domain is gone */
} vmiSyncResult;

/* @name: a name or UUID. Appends to @changes what it changed; @loaded
 * (if not NULL) gets the domain, when it could be loaded. */
vmiSyncResult vmiDomainSync(vmiConn *conn, const char *name, vmiDomain **loaded,
                            GPtrArray *changes, GError **error);
