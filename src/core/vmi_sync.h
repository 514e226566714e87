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
/* Whether any of the arguments of ours is in @dom's <qemu:commandline>:
 * FALSE for a definition a management layer wrote with the element only. */
gboolean vmiSyncHasArgs(vmiDomainXML *dom);
