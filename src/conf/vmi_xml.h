/*
 * vmi_xml.h: reading untrusted XML and strict element/attribute helpers
 */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlBuffer, xmlBufferFree)
typedef xmlChar vmiXmlChar;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmiXmlChar, xmlFree)

/* An unsigned attribute or option value and what is allowed for it. */
typedef struct {
    guint64 min;
    guint64 max;
    const char *unit;       /* "seconds", or NULL */
} vmiRange;

xmlDocPtr vmiXMLReadFile(const char *path, const char *display, GError **error);
xmlDocPtr vmiXMLReadString(const char *xml, const char *display, GError **error);

gboolean vmiXMLNodeIs(xmlNodePtr node, const char *ns, const char *name);
gboolean vmiXMLCheckAttributes(xmlNodePtr node, const char *const *allowed,
                               GError **error);
gboolean vmiXMLCheckNoContent(xmlNodePtr node, GError **error);
char *vmiXMLGetAttr(xmlNodePtr node, const char *name);
char *vmiXMLGetRequiredAttr(xmlNodePtr node, const char *name, GError **error);
gboolean vmiXMLGetUInt(xmlNodePtr node, const char *name, const vmiRange *range,
                       gboolean *found, guint64 *value, GError **error);

void vmiXMLSetInvalidValue(GError **error, const char *value, const char *attr,
                           const char *elem, const char *expected);
char *vmiRangeDescribe(const vmiRange *range);
gboolean vmiRangeParse(const char *str, const vmiRange *range, guint64 *value);
char *vmiXMLNodeToString(xmlNodePtr node);
