/*
 * vmi_error.h: the GError domain every layer reports through
 *
 * Errors are carried up as GError with a complete, user-facing message;
 * front ends only print them.
 */
#pragma once

#include <glib.h>

#define VMI_ERROR (vmiErrorQuark())

typedef enum {
    VMI_ERROR_XML,          /* not well-formed XML */
    VMI_ERROR_SCHEMA,       /* well-formed, but not what the schema allows */
    VMI_ERROR_INVALID_ARG,  /* a bad value in a definition or an option */
    VMI_ERROR_NOT_FOUND,    /* no such element, domain, secret ... */
    VMI_ERROR_OPERATION,    /* the operation failed */
    VMI_ERROR_UNSUPPORTED,  /* the host or emulator cannot do it */
} vmiErrorCode;

GQuark vmiErrorQuark(void);

/* Long enough for any sensible value (a unix socket path is at most 107
 * bytes); a hostile one is not echoed whole. */
#define VMI_ERROR_QUOTE_MAX 128

char *vmiErrorQuote(const char *value);
