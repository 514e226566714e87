/*
 * vmi_required.h: required='yes': the wait for the tool's handshake before
 * the vCPUs of a guest paused at birth may run
 */
#pragma once

#include <glib.h>

#include "conf/vmi_conf.h"

/*
 * Follows the current run of the domain log at @log until QEMU says "VMI:
 * machine hooked", at most the element's handshake timeout. FALSE with
 * @error saying why: the tool did not hook in time (QEMU's words for the
 * last failure, or whether it reached a tool at the element's source), or
 * the log cannot be read. @waited: how long it waited, in seconds (may be NULL).
 */
gboolean vmiRequiredWaitHooked(const char *log, const vmiDef *def, double *waited,
                               GError **error);
