/*
 * vmi_tool_output.h: one JSON object per line on stdout
 *
 * A line is built with yajl_gen and written whole, then flushed, so that
 * a reader (a test, a user's script) sees each happening as it occurs.
 */
#pragma once

#include <glib.h>
#include <yajl/yajl_gen.h>

typedef struct _vmiToolLine vmiToolLine;

/* Starts a line with "event" and "conn" (0 for the tool itself). */
vmiToolLine *vmiToolLineNew(const char *event, guint64 conn);
void vmiToolLineKey(vmiToolLine *line, const char *key);
void vmiToolLineString(vmiToolLine *line, const char *key, const char *value);
void vmiToolLineInt(vmiToolLine *line, const char *key, gint64 value);
void vmiToolLineUint64(vmiToolLine *line, const char *key, guint64 value);
void vmiToolLineBool(vmiToolLine *line, const char *key, gboolean value);
/* For values the helpers above do not cover (lists, objects). */
yajl_gen vmiToolLineGen(vmiToolLine *line);
/* Writes the line and frees it. */
void vmiToolLineEmit(vmiToolLine *line);

void vmiToolGenString(yajl_gen gen, const char *value);
void vmiToolGenUint64(yajl_gen gen, guint64 value);
