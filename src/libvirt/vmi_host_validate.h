/*
 * vmi_host_validate.h: is this host ready for introspected domains?
 */
#pragma once

#include <glib.h>

#include "conf/vmi_enum.h"
#include "libvirt/vmi_libvirt.h"

typedef enum {
    VMI_CHECK_PASS,
    VMI_CHECK_WARN,
    VMI_CHECK_FAIL,

    VMI_CHECK_LAST
} vmiCheckResult;

VMI_ENUM_DECL(vmiCheckResult);

typedef struct {
    char *what;             /* "for a KVMI kernel (kvm.introspection)" */
    vmiCheckResult result;
    char *detail;           /* why, and what to do */
} vmiCheck;

void vmiCheckFree(vmiCheck *check);
/* Adds one check's outcome to @checks, the detail from @fmt. */
void vmiCheckAdd(GPtrArray *checks, const char *what, vmiCheckResult result,
                 const char *fmt, ...) G_GNUC_PRINTF(4, 5);

GPtrArray *vmiHostValidate(const char *uri, const char *const *emulators,
                           gboolean listDomainEmulators);
char *vmiHostAppArmorRules(vmiConn *conn, const char *keyDir, GError **error);
