/*
 * vmi_tool_output.c: JSON lines with yajl_gen
 */
#include <stdio.h>
#include <string.h>

#include "vmi_tool_output.h"

struct _vmiToolLine {
    yajl_gen gen;
};


void
vmiToolGenString(yajl_gen gen, const char *value)
{
    /* Guest names come from the peer: never emit invalid UTF-8. */
    g_autofree char *valid = NULL;

    if (!value) {
        yajl_gen_null(gen);
        return;
    }
    if (!g_utf8_validate(value, -1, NULL))
        value = valid = g_utf8_make_valid(value, -1);
    yajl_gen_string(gen, (const unsigned char *)value, strlen(value));
}


/* yajl's integers are signed: a u64 goes through its number syntax. */
void
vmiToolGenUint64(yajl_gen gen, guint64 value)
{
    char buf[32];
    int len = g_snprintf(buf, sizeof(buf), "%" G_GUINT64_FORMAT, value);

    yajl_gen_number(gen, buf, len);
}


vmiToolLine *
vmiToolLineNew(const char *event, guint64 conn)
{
    vmiToolLine *line = g_new0(vmiToolLine, 1);

    line->gen = yajl_gen_alloc(NULL);
    yajl_gen_map_open(line->gen);
    vmiToolLineString(line, "event", event);
    vmiToolLineUint64(line, "conn", conn);
    return line;
}


void
vmiToolLineKey(vmiToolLine *line, const char *key)
{
    yajl_gen_string(line->gen, (const unsigned char *)key, strlen(key));
}


void
vmiToolLineString(vmiToolLine *line, const char *key, const char *value)
{
    vmiToolLineKey(line, key);
    vmiToolGenString(line->gen, value);
}


void
vmiToolLineInt(vmiToolLine *line, const char *key, gint64 value)
{
    vmiToolLineKey(line, key);
    yajl_gen_integer(line->gen, value);
}


void
vmiToolLineUint64(vmiToolLine *line, const char *key, guint64 value)
{
    vmiToolLineKey(line, key);
    vmiToolGenUint64(line->gen, value);
}


void
vmiToolLineBool(vmiToolLine *line, const char *key, gboolean value)
{
    vmiToolLineKey(line, key);
    yajl_gen_bool(line->gen, value);
}


yajl_gen
vmiToolLineGen(vmiToolLine *line)
{
    return line->gen;
}


void
vmiToolLineEmit(vmiToolLine *line)
{
    const unsigned char *buf;
    size_t len;

    yajl_gen_map_close(line->gen);
    if (yajl_gen_get_buf(line->gen, &buf, &len) == yajl_gen_status_ok) {
        /* A reader that went away must not stop the tool: errors are ignored. */
        fwrite(buf, 1, len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    } else {
        g_printerr("vmi-tool: internal error: malformed JSON line\n");
    }
    yajl_gen_free(line->gen);
    g_free(line);
}
