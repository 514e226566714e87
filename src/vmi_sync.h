/*
 * vmi_sync.h: keep a domain XML's <metadata> element and the project's
 * <qemu:commandline> arguments in step
 */
#pragma once

#include <glib.h>

#include "conf/vmi_domain_xml.h"

#define VMI_QEMU_NAMESPACE_URI "http://libvirt.org/schemas/domain/qemu/1.0"

gboolean vmiSyncDomain(vmiDomainXML *dom, const vmiDef *def, const char *keyDir,
                       GPtrArray *changes, GError **error);
