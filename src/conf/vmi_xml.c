/*
 * vmi_xml.c: reading untrusted XML and strict element/attribute helpers
 *
 * Definitions come from users and from any libvirt API client, so the
 * parser never fetches from the network, refuses a DOCTYPE (so there are
 * no entities to expand) and keeps libxml2's depth and size limits (no
 * XML_PARSE_HUGE).
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <libxml/parser.h>
#include <libxml/xmlsave.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmi_xml.h"
#include "vmi_error.h"

#define VMI_XML_PARSE_FLAGS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)


/* What a parse met, in its context's _private. */
typedef struct {
    gboolean doctype;           /* stopped by vmiXMLRefuseDoctype */
    int line;                   /* of @error */
    char *error;                /* the first error, or NULL */
} vmiXMLReadState;

/*
 * libvirt's XML never has a DOCTYPE. Entities declared in one are left
 * unexpanded by the parser but expanded by every attribute getter, once
 * per reference: 80 KB of them cost minutes and hundreds of MB. So the
 * parse stops at the DOCTYPE, before any declaration in it is read.
 */
static void
vmiXMLRefuseDoctype(void *opaque,
                    const xmlChar *name G_GNUC_UNUSED,
                    const xmlChar *externalID G_GNUC_UNUSED,
                    const xmlChar *systemID G_GNUC_UNUSED)
{
    xmlParserCtxtPtr ctxt = opaque;

    ((vmiXMLReadState *)ctxt->_private)->doctype = TRUE;
    xmlStopParser(ctxt);
}


/*
 * Every error counts, not only the last: libxml2 goes on after some
 * (an undeclared namespace prefix), and a warning after one would hide
 * it, so the same element would be accepted or refused depending on what
 * follows it in the document. The first one is the one reported.
 */
static void
vmiXMLRecordError(void *opaque, xmlErrorPtr err)
{
    vmiXMLReadState *state = ((xmlParserCtxtPtr)opaque)->_private;

    if (err->level < XML_ERR_ERROR || state->error)
        return;
    state->line = err->line;
    state->error = g_strchomp(g_strdup(err->message ? err->message : ""));
}


static xmlDocPtr
vmiXMLFinishRead(xmlParserCtxtPtr ctxt, xmlDocPtr doc, const char *display,
                 GError **error)
{
    vmiXMLReadState *state = ctxt->_private;

    if (state->doctype) {
        xmlFreeDoc(doc);
        g_set_error(error, VMI_ERROR, VMI_ERROR_XML,
                    "%s: a <!DOCTYPE> is not allowed: libvirt's XML has none, "
                    "and entities declared in one could expand without bound or read "
                    "local files", display);
        return NULL;
    }
    if (doc && ctxt->wellFormed && ctxt->nsWellFormed && !state->error)
        return doc;

    xmlFreeDoc(doc);
    if (state->error && *state->error) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_XML,
                    "%s:%d: malformed XML: %s", display, state->line, state->error);
    } else {
        g_set_error(error, VMI_ERROR, VMI_ERROR_XML,
                    "%s: malformed XML", display);
    }
    return NULL;
}


/*
 * Domain XMLs are a few KiB; a cap keeps a hostile input from costing
 * more than that. libvirt caps XML files at the same size.
 */
#define VMI_XML_MAX_BYTES (10 * 1024 * 1024)

static char *
vmiXMLReadStream(GInputStream *in, const char *display, gsize *len,
                 GError **error)
{
    g_autoptr(GByteArray) data = g_byte_array_new();
    guint8 chunk[65536];

    for (;;) {
        g_autoptr(GError) err = NULL;
        gssize n = g_input_stream_read(in, chunk, sizeof(chunk), NULL, &err);

        if (n < 0) {
            g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                        "%s: %s", display, err->message);
            return NULL;
        }
        if (n == 0)
            break;
        if (data->len + n > VMI_XML_MAX_BYTES) {
            g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "%s: too large: an XML definition may have at most %d bytes",
                        display, VMI_XML_MAX_BYTES);
            return NULL;
        }
        g_byte_array_append(data, chunk, n);
    }
    *len = data->len;
    g_byte_array_append(data, (const guint8 *)"", 1);
    return (char *)g_byte_array_free(g_steal_pointer(&data), FALSE);
}


/*
 * Regular files only: opening a FIFO would wait for a writer forever,
 * so the open does not wait (O_NONBLOCK) and fstat decides.
 */
static int
vmiXMLOpenRegular(const char *path, const char *display, GError **error)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    struct stat st;
    int errsv;

    if (fd < 0) {
        errsv = errno;
        g_set_error(error, VMI_ERROR,
                    errsv == ENOENT ? VMI_ERROR_NOT_FOUND : VMI_ERROR_INVALID_ARG,
                    "%s: Error opening file: %s", display, g_strerror(errsv));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "%s: not a regular file: give a file, or '-' for standard input",
                    display);
        return -1;
    }
    return fd;
}


/* @path "-" reads standard input. @display names the input in errors. */
xmlDocPtr
vmiXMLReadFile(const char *path, const char *display, GError **error)
{
    g_autoptr(GInputStream) in = NULL;
    g_autofree char *xml = NULL;
    gsize len = 0;

    if (g_str_equal(path, "-")) {
        in = g_unix_input_stream_new(STDIN_FILENO, FALSE);
    } else {
        int fd = vmiXMLOpenRegular(path, display, error);

        if (fd < 0)
            return NULL;
        in = g_unix_input_stream_new(fd, TRUE);
    }

    if (!(xml = vmiXMLReadStream(in, display, &len, error)))
        return NULL;
    if (memchr(xml, 0, len)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_XML,
                    "%s: malformed XML: it contains a NUL byte", display);
        return NULL;
    }
    return vmiXMLReadString(xml, display, error);
}


xmlDocPtr
vmiXMLReadString(const char *xml, const char *display, GError **error)
{
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    vmiXMLReadState state = { 0 };
    xmlDocPtr doc;

    if (!ctxt)
        g_error("out of memory");
    ctxt->_private = &state;
    ctxt->sax->internalSubset = vmiXMLRefuseDoctype;
    ctxt->sax->serror = vmiXMLRecordError;
    doc = xmlCtxtReadMemory(ctxt, xml, strlen(xml), display, NULL,
                            VMI_XML_PARSE_FLAGS);
    doc = vmiXMLFinishRead(ctxt, doc, display, error);
    xmlFreeParserCtxt(ctxt);
    g_free(state.error);
    return doc;
}


gboolean
vmiXMLNodeIs(xmlNodePtr node, const char *ns, const char *name)
{
    if (!node || node->type != XML_ELEMENT_NODE)
        return FALSE;
    if (!g_str_equal((const char *)node->name, name))
        return FALSE;
    if (!ns)
        return node->ns == NULL;
    return node->ns && node->ns->href &&
           g_str_equal((const char *)node->ns->href, ns);
}


/*
 * A misspelt attribute would otherwise be ignored and its default used
 * silently, which is exactly how a VM ends up unmonitored.
 */
gboolean
vmiXMLCheckAttributes(xmlNodePtr node, const char *const *allowed,
                      GError **error)
{
    xmlAttrPtr attr;

    for (attr = node->properties; attr; attr = attr->next) {
        const char *name = (const char *)attr->name;

        if (!attr->ns && g_strv_contains(allowed, name))
            continue;

        if (allowed[0]) {
            g_autofree char *list = g_strjoinv(", ", (char **)allowed);
            g_autofree char *full = g_strdup_printf("%s%s%s",
                                                    attr->ns && attr->ns->prefix ?
                                                    (const char *)attr->ns->prefix : "",
                                                    attr->ns && attr->ns->prefix ? ":" : "",
                                                    name);
            g_autofree char *qattr = vmiErrorQuote(full);
            g_autofree char *qelem = vmiErrorQuote((const char *)node->name);

            g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "unexpected attribute '%s' of element '%s': expected %s",
                        qattr, qelem, list);
        } else {
            g_autofree char *qattr = vmiErrorQuote(name);
            g_autofree char *qelem = vmiErrorQuote((const char *)node->name);

            g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "unexpected attribute '%s' of element '%s': it takes none",
                        qattr, qelem);
        }
        return FALSE;
    }
    return TRUE;
}


/* Leaf elements carry attributes only. */
gboolean
vmiXMLCheckNoContent(xmlNodePtr node, GError **error)
{
    xmlNodePtr cur;

    for (cur = node->children; cur; cur = cur->next) {
        if (cur->type == XML_COMMENT_NODE || cur->type == XML_PI_NODE)
            continue;
        if (cur->type == XML_TEXT_NODE && xmlIsBlankNode(cur))
            continue;
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "unexpected content in element '%s': it takes attributes only",
                    node->name);
        return FALSE;
    }
    return TRUE;
}


char *
vmiXMLGetAttr(xmlNodePtr node, const char *name)
{
    g_autoptr(vmiXmlChar) value = xmlGetNoNsProp(node, (const xmlChar *)name);

    return value ? g_strdup((const char *)value) : NULL;
}


char *
vmiXMLGetRequiredAttr(xmlNodePtr node, const char *name, GError **error)
{
    char *value = vmiXMLGetAttr(node, name);

    if (!value)
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "missing attribute '%s' of element '%s'", name, node->name);
    return value;
}


char *
vmiRangeDescribe(const vmiRange *range)
{
    return g_strdup_printf("%" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT "%s%s",
                           range->min, range->max,
                           range->unit ? " " : "", range->unit ? range->unit : "");
}


/* Plain decimal only: no sign, no blanks, no hex. */
gboolean
vmiRangeParse(const char *str, const vmiRange *range, guint64 *value)
{
    if (!g_ascii_isdigit(str[0]))
        return FALSE;
    return g_ascii_string_to_unsigned(str, 10, range->min, range->max,
                                      value, NULL);
}


void
vmiXMLSetInvalidValue(GError **error, const char *value, const char *attr,
                      const char *elem, const char *expected)
{
    g_autofree char *quoted = vmiErrorQuote(value);

    g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                "invalid value '%s' for attribute '%s' of element '%s': expected %s",
                quoted, attr, elem, expected);
}


gboolean
vmiXMLGetUInt(xmlNodePtr node, const char *name, const vmiRange *range,
              gboolean *found, guint64 *value, GError **error)
{
    g_autofree char *str = vmiXMLGetAttr(node, name);

    *found = str != NULL;
    if (!str)
        return TRUE;

    if (!vmiRangeParse(str, range, value)) {
        g_autofree char *allowed = vmiRangeDescribe(range);
        vmiXMLSetInvalidValue(error, str, name, (const char *)node->name, allowed);
        return FALSE;
    }
    return TRUE;
}


char *
vmiXMLNodeToString(xmlNodePtr node)
{
    g_autoptr(xmlBuffer) buf = xmlBufferCreate();
    xmlSaveCtxtPtr save;

    /* UTF-8 output keeps non-ASCII paths readable (no &#xE9;); libxml2
     * escapes attributes by the document's encoding, not the saver's. */
    if (node->doc && !node->doc->encoding)
        node->doc->encoding = xmlStrdup(BAD_CAST "UTF-8");
    if (!buf ||
        !(save = xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_FORMAT | XML_SAVE_NO_DECL)))
        g_error("out of memory");
    xmlSaveTree(save, node);
    if (xmlSaveClose(save) < 0)
        g_error("cannot format XML");
    return g_strdup_printf("%s\n", (const char *)xmlBufferContent(buf));
}
