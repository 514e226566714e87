/*
 * vmi_load.h: a definition read from a file given on the command line
 */
#pragma once

#include "conf/vmi_domain_xml.h"

typedef struct {
    vmiDomainXML *dom;
    vmiDef *def;
    char *uuid;         /* the domain's UUID, if known */
} vmiLoaded;

void vmiLoadedFree(vmiLoaded *loaded);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmiLoaded, vmiLoadedFree)

vmiLoaded *vmiLoadFile(const char *path, GError **error);
gboolean vmiLoadedSetUUID(vmiLoaded *loaded, const char *uuid, GError **error);
