/*
 * vmi_attach.h: the introspection object added to, and removed from, a
 * running QEMU over its monitor
 */
#pragma once

#include "libvirt/vmi_domain.h"

gboolean vmiDomainAttachLive(vmiConn *conn, vmiDomain *dom, GError **error);
gboolean vmiDomainDetachLive(vmiConn *conn, vmiDomain *dom, gboolean *inUse,
                             GError **error);
