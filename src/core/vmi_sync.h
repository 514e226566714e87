/*
 * vmi_sync.h: keep a domain XML's <metadata> element and the project's
 * <qemu:commandline> arguments in step
 */
#pragma once

#include <glib.h>

#include "conf/vmi_domain_xml.h"

gboolean vmiSyncDomain(vmiDomainXML *dom, const vmiDef *def, const char *keyDir,
                       GPtrArray *changes, GError **error);
gboolean vmiSyncCheck(vmiDomainXML *dom, const vmiDef *def, const char *keyDir,
                      const char *display, GError **error);
