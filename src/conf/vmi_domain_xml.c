/*
 * vmi_domain_xml.c: find <vmi:introspection> and the domain's identity
 * in a domain XML document
 */
#include "vmi_domain_xml.h"
#include "vmi_error.h"


void
vmiDomainXMLFree(vmiDomainXML *dom)
{
    if (!dom)
        return;
    xmlFreeDoc(dom->doc);
    g_free(dom->uuid);
    g_free(dom->name);
    g_free(dom->foreignNamespace);
    g_free(dom);
}


static xmlNodePtr
vmiDomainXMLChild(xmlNodePtr parent, const char *name)
{
    xmlNodePtr cur;

    for (cur = parent->children; cur; cur = cur->next) {
        if (vmiXMLNodeIs(cur, NULL, name))
            return cur;
    }
    return NULL;
}


static char *
vmiDomainXMLChildText(xmlNodePtr parent, const char *name)
{
    xmlNodePtr node = vmiDomainXMLChild(parent, name);
    g_autoptr(vmiXmlChar) text = NULL;

    if (!node || !(text = xmlNodeGetContent(node)))
        return NULL;
    return g_strstrip(g_strdup((const char *)text));
}


/*
 * libvirt keeps only the first element per namespace in <metadata>, so a
 * second one would silently vanish on define: refuse it.
 */
static gboolean
vmiDomainXMLFindElement(vmiDomainXML *dom, xmlNodePtr metadata,
                        const char *display, GError **error)
{
    xmlNodePtr cur;

    for (cur = metadata->children; cur; cur = cur->next) {
        if (!vmiXMLNodeIs(cur, VMI_NAMESPACE_URI, VMI_ELEMENT)) {
            /* Kept for the hint in vmiDomainXMLGetDef: usually a typo in
             * the namespace URI, but possibly another application's. */
            if (!dom->foreignNamespace && cur->type == XML_ELEMENT_NODE &&
                g_str_equal((const char *)cur->name, VMI_ELEMENT))
                dom->foreignNamespace = g_strdup(cur->ns && cur->ns->href ?
                                                 (const char *)cur->ns->href : "");
            continue;
        }
        if (dom->vmi) {
            g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "%s: duplicate element 'introspection' in <metadata>: "
                        "libvirt keeps only the first one", display);
            return FALSE;
        }
        dom->vmi = cur;
    }
    return TRUE;
}


/*
 * libvirt reads a UUID as 32 hex digits in any case, '-' or ' ' allowed
 * between bytes and blanks around, and formats it in lower case with
 * dashes. Our arguments and the key file's path use that form, so that
 * the XML a user wrote and the one libvirt hands the hook agree.
 * Returns NULL if @str is not a UUID to libvirt.
 */
char *
vmiUUIDCanonical(const char *str)
{
    guint8 b[16];
    gsize i = 0;

    while (g_ascii_isspace(*str))
        str++;
    while (i < G_N_ELEMENTS(b)) {
        if (*str == '-' || *str == ' ') {
            str++;
            continue;
        }
        if (!g_ascii_isxdigit(str[0]) || !g_ascii_isxdigit(str[1]))
            return NULL;
        b[i++] = g_ascii_xdigit_value(str[0]) * 16 + g_ascii_xdigit_value(str[1]);
        str += 2;
    }
    while (g_ascii_isspace(*str))
        str++;
    if (*str)
        return NULL;
    return g_strdup_printf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                           "%02x%02x%02x%02x%02x%02x",
                           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                           b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}


/* Takes ownership of @doc. */
vmiDomainXML *
vmiDomainXMLNew(xmlDocPtr doc, const char *display, GError **error)
{
    g_autoptr(vmiDomainXML) dom = g_new0(vmiDomainXML, 1);
    xmlNodePtr root;
    xmlNodePtr metadata;

    dom->doc = doc;
    root = xmlDocGetRootElement(doc);

    if (vmiXMLNodeIs(root, VMI_NAMESPACE_URI, VMI_ELEMENT)) {
        dom->bare = TRUE;
        dom->vmi = root;
        return g_steal_pointer(&dom);
    }

    if (!vmiXMLNodeIs(root, NULL, "domain")) {
        g_autofree char *qname = vmiErrorQuote((const char *)root->name);
        g_autofree char *qns = vmiErrorQuote(root->ns && root->ns->href ?
                                             (const char *)root->ns->href : "");

        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "%s: expected a <domain> or a <vmi:introspection> element "
                    "(namespace '%s'), found <%s>%s%s%s",
                    display, VMI_NAMESPACE_URI, qname,
                    root->ns && root->ns->href ? " in namespace '" : "",
                    qns, root->ns && root->ns->href ? "'" : "");
        return NULL;
    }

    dom->uuid = vmiDomainXMLChildText(root, "uuid");
    if (dom->uuid) {
        char *canonical = vmiUUIDCanonical(dom->uuid);

        /* kept as written if invalid: the error quotes it */
        if (canonical) {
            g_free(dom->uuid);
            dom->uuid = canonical;
        }
    }
    dom->name = vmiDomainXMLChildText(root, "name");
    if ((metadata = vmiDomainXMLChild(root, "metadata"))) {
        xmlNodePtr cur;

        /* libvirt reads the first only: an element in a second would be
         * ours to one reader and not to the next (found by tests/fuzz:
         * removing the first made the second count) */
        for (cur = metadata->next; cur; cur = cur->next) {
            if (vmiXMLNodeIs(cur, NULL, "metadata")) {
                g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                            "%s: duplicate element 'metadata' in <domain>: "
                            "libvirt keeps only the first one", display);
                return NULL;
            }
        }
        if (!vmiDomainXMLFindElement(dom, metadata, display, error))
            return NULL;
    }
    return g_steal_pointer(&dom);
}


vmiDomainXML *
vmiDomainXMLReadFile(const char *path, const char *display, GError **error)
{
    xmlDocPtr doc = vmiXMLReadFile(path, display, error);

    return doc ? vmiDomainXMLNew(doc, display, error) : NULL;
}


vmiDomainXML *
vmiDomainXMLParseString(const char *xml, const char *display, GError **error)
{
    xmlDocPtr doc = vmiXMLReadString(xml, display, error);

    return doc ? vmiDomainXMLNew(doc, display, error) : NULL;
}


vmiDef *
vmiDomainXMLGetDef(const vmiDomainXML *dom, GError **error)
{
    if (!dom->vmi) {
        g_autofree char *name = vmiErrorQuote(dom->name);
        g_autofree char *who = dom->name ? g_strdup_printf("domain '%s'", name) :
                                           g_strdup("the domain");
        g_autofree char *ns = vmiErrorQuote(dom->foreignNamespace);

        if (dom->foreignNamespace)
            g_set_error(error, VMI_ERROR, VMI_ERROR_NOT_FOUND,
                        "%s has no <vmi:introspection> element in its <metadata>: "
                        "its <introspection> element is in namespace '%s', expected '%s'",
                        who, ns, VMI_NAMESPACE_URI);
        else
            g_set_error(error, VMI_ERROR, VMI_ERROR_NOT_FOUND,
                        "%s has no <vmi:introspection> element (namespace '%s') in its <metadata>",
                        who, VMI_NAMESPACE_URI);
        return NULL;
    }
    return vmiDefParseNode(dom->vmi, error);
}


xmlNodePtr
vmiDomainXMLGetMetadata(vmiDomainXML *dom)
{
    return vmiDomainXMLChild(xmlDocGetRootElement(dom->doc), "metadata");
}


/* <devices><emulator>, or NULL when the domain leaves it to libvirt. */
char *
vmiDomainXMLGetEmulator(vmiDomainXML *dom)
{
    xmlNodePtr devices = vmiDomainXMLChild(xmlDocGetRootElement(dom->doc), "devices");

    return devices ? vmiDomainXMLChildText(devices, "emulator") : NULL;
}


/* The <qemu:env> entries, as NAME=VALUE: libvirt gives them to QEMU. */
GStrv
vmiDomainXMLGetQemuEnv(vmiDomainXML *dom)
{
    g_autoptr(GStrvBuilder) env = g_strv_builder_new();
    xmlNodePtr cur, entry;

    for (cur = xmlDocGetRootElement(dom->doc)->children; cur; cur = cur->next) {
        if (!vmiXMLNodeIs(cur, VMI_QEMU_NAMESPACE_URI, "commandline"))
            continue;
        for (entry = cur->children; entry; entry = entry->next) {
            g_autofree char *name = NULL;
            g_autofree char *value = NULL;
            g_autofree char *pair = NULL;

            if (!vmiXMLNodeIs(entry, VMI_QEMU_NAMESPACE_URI, "env") ||
                !(name = vmiXMLGetAttr(entry, "name")))
                continue;
            value = vmiXMLGetAttr(entry, "value");
            pair = g_strdup_printf("%s=%s", name, value ? value : "");
            g_strv_builder_add(env, pair);
        }
    }
    return g_strv_builder_end(env);
}


/*
 * The SELinux label of the domain's files, from its SELinux <seclabel>:
 * libvirt fills <imagelabel> in (the domain's MCS category) before the
 * `start` hook runs. NULL without one, or with relabel='no'.
 */
char *
vmiDomainXMLGetSELinuxImageLabel(vmiDomainXML *dom)
{
    xmlNodePtr cur;

    for (cur = xmlDocGetRootElement(dom->doc)->children; cur; cur = cur->next) {
        g_autofree char *model = NULL;
        g_autofree char *relabel = NULL;

        if (!vmiXMLNodeIs(cur, NULL, "seclabel") ||
            !(model = vmiXMLGetAttr(cur, "model")) || !g_str_equal(model, "selinux"))
            continue;
        if ((relabel = vmiXMLGetAttr(cur, "relabel")) && g_str_equal(relabel, "no"))
            return NULL;
        return vmiDomainXMLChildText(cur, "imagelabel");
    }
    return NULL;
}


/*
 * The user:group QEMU runs as, from the domain's DAC <seclabel>: set by
 * the user (static) or by libvirt for a starting domain (dynamic).
 */
char *
vmiDomainXMLGetDACLabel(vmiDomainXML *dom)
{
    xmlNodePtr cur;

    for (cur = xmlDocGetRootElement(dom->doc)->children; cur; cur = cur->next) {
        g_autofree char *model = NULL;

        if (!vmiXMLNodeIs(cur, NULL, "seclabel") ||
            !(model = vmiXMLGetAttr(cur, "model")) || !g_str_equal(model, "dac"))
            continue;
        return vmiDomainXMLChildText(cur, "label");
    }
    return NULL;
}
