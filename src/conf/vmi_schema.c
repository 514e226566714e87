/*
 * vmi_schema.c: RELAX NG validation of <vmi:introspection>
 *
 * The schema is compiled into the program (GResource), so that what is
 * validated is always the schema the parser was built with.
 */
#include <gio/gio.h>
#include <libxml/relaxng.h>

#include "vmi_schema.h"
#include "vmi_error.h"
#include "vmi_resources.h"
#include "vmi_xml.h"

#define VMI_SCHEMA_RESOURCE "/org/libvirt-vmi/schemas/introspection.rng"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlRelaxNGParserCtxt, xmlRelaxNGFreeParserCtxt)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlRelaxNG, xmlRelaxNGFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlRelaxNGValidCtxt, xmlRelaxNGFreeValidCtxt)

typedef struct {
    GString *messages;
    const char *display;
} vmiSchemaErrors;


static void
vmiSchemaCollectError(void *opaque, xmlErrorPtr err)
{
    vmiSchemaErrors *errs = opaque;
    g_autofree char *msg = g_strchomp(g_strdup(err->message ? err->message : "error"));

    if (errs->messages->len)
        g_string_append_c(errs->messages, '\n');
    if (err->line > 0)
        g_string_append_printf(errs->messages, "%s:%d: schema: %s",
                               errs->display, err->line, msg);
    else
        g_string_append_printf(errs->messages, "%s: schema: %s", errs->display, msg);
}


static xmlRelaxNGPtr
vmiSchemaLoad(void)
{
    g_autoptr(GBytes) data = NULL;
    g_autoptr(xmlRelaxNGParserCtxt) pctxt = NULL;
    const char *rng;
    gsize len;

    data = g_resource_lookup_data(vmi_get_resource(), VMI_SCHEMA_RESOURCE,
                                  G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
    if (!data)
        g_error("schema resource %s is missing", VMI_SCHEMA_RESOURCE);
    rng = g_bytes_get_data(data, &len);
    pctxt = xmlRelaxNGNewMemParserCtxt(rng, len);
    return xmlRelaxNGParse(pctxt);
}


/*
 * Validates @node as a standalone element, wherever it sits (a bare
 * document or a domain's <metadata>).
 */
gboolean
vmiSchemaValidate(xmlNodePtr node, const char *display, GError **error)
{
    g_autoptr(xmlRelaxNG) schema = vmiSchemaLoad();
    g_autoptr(xmlRelaxNGValidCtxt) vctxt = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    g_autoptr(GString) messages = g_string_new(NULL);
    vmiSchemaErrors errs = { messages, display };
    int rc;

    if (!schema)
        g_error("cannot compile the built-in introspection schema");

    doc = xmlNewDoc(BAD_CAST "1.0");
    xmlDocSetRootElement(doc, xmlDocCopyNode(node, doc, 1));

    vctxt = xmlRelaxNGNewValidCtxt(schema);
    xmlRelaxNGSetValidStructuredErrors(vctxt, vmiSchemaCollectError, &errs);
    rc = xmlRelaxNGValidateDoc(vctxt, doc);
    if (rc == 0)
        return TRUE;

    if (!messages->len)
        g_string_printf(messages, "%s: schema: does not validate", display);
    g_set_error_literal(error, VMI_ERROR, VMI_ERROR_SCHEMA, messages->str);
    return FALSE;
}
