/*
 * vmi_host_validate.h: is this host ready for introspected domains?
 */
#pragma once

#include <glib.h>

typedef enum {
    VMI_CHECK_PASS,
    VMI_CHECK_WARN,
    VMI_CHECK_FAIL,
} vmiCheckResult;

typedef struct {
    char *what;             /* "for a KVMI kernel (kvm.introspection)" */
    vmiCheckResult result;
    char *detail;           /* why, and what to do */
} vmiCheck;

void vmiCheckFree(vmiCheck *check);

GPtrArray *vmiHostValidate(const char *uri, const char *const *emulators,
                           gboolean listDomainEmulators);
