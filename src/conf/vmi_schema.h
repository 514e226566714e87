/*
 * vmi_schema.h: RELAX NG validation of <vmi:introspection>
 */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

gboolean vmiSchemaValidate(xmlNodePtr node, const char *display, GError **error);
