/*
 * vmi_domain_xml.h: a domain XML document (or a bare <vmi:introspection>
 * element) as far as introspection is concerned
 */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "vmi_conf.h"

#define VMI_QEMU_NAMESPACE_URI "http://libvirt.org/schemas/domain/qemu/1.0"

typedef struct {
    xmlDocPtr doc;
    gboolean bare;      /* the document is a bare <vmi:introspection> */
    char *uuid;         /* the domain's <uuid> in canonical form (as written
                         * if invalid), NULL if absent or bare */
    char *name;         /* the domain's <name>, NULL if absent or bare */
    xmlNodePtr vmi;     /* our element, NULL if the domain has none */
    char *foreignNamespace; /* namespace of an <introspection> not ours */
} vmiDomainXML;

char *vmiUUIDCanonical(const char *str);

void vmiDomainXMLFree(vmiDomainXML *dom);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmiDomainXML, vmiDomainXMLFree)

vmiDomainXML *vmiDomainXMLNew(xmlDocPtr doc, const char *display, GError **error);
vmiDomainXML *vmiDomainXMLReadFile(const char *path, const char *display,
                                   GError **error);
vmiDomainXML *vmiDomainXMLParseString(const char *xml, const char *display,
                                      GError **error);
vmiDef *vmiDomainXMLGetDef(const vmiDomainXML *dom, GError **error);
xmlNodePtr vmiDomainXMLGetMetadata(vmiDomainXML *dom);
char *vmiDomainXMLGetEmulator(vmiDomainXML *dom);
GStrv vmiDomainXMLGetQemuEnv(vmiDomainXML *dom);
char *vmiDomainXMLGetDACLabel(vmiDomainXML *dom);
char *vmiDomainXMLGetSELinuxImageLabel(vmiDomainXML *dom);
