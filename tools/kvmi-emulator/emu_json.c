/*
 * emu_json.c: QMP messages: framing, reading with yajl_tree, writing with yajl_gen
 */
#include <string.h>

#include "emu_json.h"


void
emuJsonSplitterInit(emuJsonSplitter *sp, gboolean withLineEnd)
{
    memset(sp, 0, sizeof(*sp));
    sp->buf = g_string_new(NULL);
    sp->withLineEnd = withLineEnd;
}


void
emuJsonSplitterClear(emuJsonSplitter *sp)
{
    if (sp->buf)
        g_string_free(sp->buf, TRUE);
    sp->buf = NULL;
}


static gboolean
emuJsonIsSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}


/* Scans one byte; returns whether a message ends with it (or before it). */
static gboolean
emuJsonSplitterStep(emuJsonSplitter *sp, char c, gboolean *endsBefore)
{
    *endsBefore = FALSE;
    if (sp->closed) {
        /* the line end after a value: "\r\n", or "\n"; anything else
         * ends the message before it */
        if (c == '\r')
            return FALSE;
        if (c == '\n')
            return TRUE;
        *endsBefore = TRUE;
        return TRUE;
    }
    if (!sp->inMessage) {
        if (emuJsonIsSpace(c))
            return FALSE;
        sp->inMessage = TRUE;
        sp->start = sp->pos;
        sp->scalar = c != '{' && c != '[';
        if (sp->scalar) {
            /* a stray closing bracket is a message of its own */
            return c == '}' || c == ']';
        }
        sp->depth = sp->maxDepth = 1;
        return FALSE;
    }
    if (sp->scalar) {
        if (emuJsonIsSpace(c) || c == '{' || c == '[') {
            *endsBefore = TRUE;
            return TRUE;
        }
        return FALSE;
    }
    if (sp->quote) {
        if (sp->escape)
            sp->escape = FALSE;
        else if (c == '\\')
            sp->escape = TRUE;
        else if (c == sp->quote)
            sp->quote = 0;
        return FALSE;
    }
    if (c == '"' || c == '\'') {
        sp->quote = c;
    } else if (c == '{' || c == '[') {
        if (++sp->depth > sp->maxDepth)
            sp->maxDepth = sp->depth;
    } else if (c == '}' || c == ']') {
        if (--sp->depth == 0) {
            if (!sp->withLineEnd)
                return TRUE;
            sp->closed = TRUE;
        }
    }
    return FALSE;
}


void
emuJsonSplitterFeed(emuJsonSplitter *sp, const char *data, gsize len,
                    emuJsonMessageFunc func, gpointer opaque)
{
    g_string_append_len(sp->buf, data, len);
    while (sp->pos < sp->buf->len) {
        gboolean before;
        g_autofree char *msg = NULL;
        gsize end, msgLen;
        guint depth;

        if (!emuJsonSplitterStep(sp, sp->buf->str[sp->pos], &before)) {
            sp->pos++;
            continue;
        }
        end = before ? sp->pos : sp->pos + 1;
        msgLen = end - sp->start;
        msg = g_strndup(sp->buf->str + sp->start, msgLen);
        /* consume before calling out: @func may feed more */
        g_string_erase(sp->buf, 0, end);
        sp->pos = 0;
        depth = sp->scalar ? 0 : sp->maxDepth;
        sp->maxDepth = 0;
        sp->inMessage = FALSE;
        sp->closed = FALSE;
        sp->quote = 0;
        sp->escape = FALSE;
        func(msg, msgLen, depth, opaque);
        if (!sp->buf)
            return;
    }
    if (!sp->inMessage) {
        g_string_truncate(sp->buf, 0);
        sp->pos = 0;
    }
}


yajl_val
emuJsonParse(const char *msg, gsize len)
{
    g_autofree char *copy = g_strndup(msg, len);

    return yajl_tree_parse(copy, NULL, 0);
}


yajl_val
emuJsonGet(yajl_val obj, const char *key)
{
    const char *path[] = { key, NULL };

    if (!YAJL_IS_OBJECT(obj))
        return NULL;
    return yajl_tree_get(obj, path, yajl_t_any);
}


const char *
emuJsonGetString(yajl_val obj, const char *key)
{
    yajl_val val = emuJsonGet(obj, key);

    return YAJL_IS_STRING(val) ? YAJL_GET_STRING(val) : NULL;
}


char *
emuJsonFirstKey(const char *msg, gsize len)
{
    gsize i = 0, start;

    while (i < len && emuJsonIsSpace(msg[i]))
        i++;
    if (i >= len || msg[i] != '{')
        return NULL;
    for (i++; i < len && emuJsonIsSpace(msg[i]); i++)
        ;
    if (i >= len || msg[i] != '"')
        return NULL;
    start = ++i;
    while (i < len && msg[i] != '"')
        i++;
    return g_strndup(msg + start, i - start);
}


void
emuJsonGenString(yajl_gen gen, const char *str)
{
    yajl_gen_string(gen, (const unsigned char *)str, strlen(str));
}


void
emuJsonGenKey(yajl_gen gen, const char *key)
{
    emuJsonGenString(gen, key);
}


void
emuJsonGenValue(yajl_gen gen, yajl_val val)
{
    gsize i;

    if (!val) {
        yajl_gen_null(gen);
    } else if (YAJL_IS_STRING(val)) {
        emuJsonGenString(gen, YAJL_GET_STRING(val));
    } else if (YAJL_IS_NUMBER(val)) {
        /* the number's own text: nothing lost to double or int64 */
        yajl_gen_number(gen, val->u.number.r, strlen(val->u.number.r));
    } else if (YAJL_IS_OBJECT(val)) {
        yajl_gen_map_open(gen);
        for (i = 0; i < val->u.object.len; i++) {
            emuJsonGenKey(gen, val->u.object.keys[i]);
            emuJsonGenValue(gen, val->u.object.values[i]);
        }
        yajl_gen_map_close(gen);
    } else if (YAJL_IS_ARRAY(val)) {
        yajl_gen_array_open(gen);
        for (i = 0; i < val->u.array.len; i++)
            emuJsonGenValue(gen, val->u.array.values[i]);
        yajl_gen_array_close(gen);
    } else if (YAJL_IS_TRUE(val)) {
        yajl_gen_bool(gen, 1);
    } else if (YAJL_IS_FALSE(val)) {
        yajl_gen_bool(gen, 0);
    } else {
        yajl_gen_null(gen);
    }
}


yajl_gen
emuJsonGenNew(gboolean pretty)
{
    yajl_gen gen = yajl_gen_alloc(NULL);

    if (pretty) {
        yajl_gen_config(gen, yajl_gen_beautify, 1);
        yajl_gen_config(gen, yajl_gen_indent_string, "    ");
    }
    return gen;
}


GString *
emuJsonGenFinish(yajl_gen gen)
{
    const unsigned char *buf;
    size_t len = 0;
    GString *out = g_string_new(NULL);
    size_t i;

    yajl_gen_get_buf(gen, &buf, &len);
    /* beautified output has its own newlines, and ends with one */
    for (i = 0; i < len; i++) {
        if (buf[i] == '\n')
            g_string_append_c(out, '\r');
        g_string_append_c(out, buf[i]);
    }
    if (out->len == 0 || out->str[out->len - 1] != '\n')
        g_string_append(out, "\r\n");
    yajl_gen_free(gen);
    return out;
}


static void
emuQmpGenId(yajl_gen gen, yajl_val id)
{
    if (!id)
        return;
    emuJsonGenKey(gen, "id");
    emuJsonGenValue(gen, id);
}


/* {"return": — the caller generates the value, emuQmpReturnEnd the rest */
yajl_gen
emuQmpReturnBegin(gboolean pretty)
{
    yajl_gen gen = emuJsonGenNew(pretty);

    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "return");
    return gen;
}


/* , "id": ID} and the reply's line; frees @gen */
GString *
emuQmpReturnEnd(yajl_gen gen, yajl_val id)
{
    emuQmpGenId(gen, id);
    yajl_gen_map_close(gen);
    return emuJsonGenFinish(gen);
}


GString *
emuQmpReturnEmpty(yajl_val id, gboolean pretty)
{
    yajl_gen gen = emuQmpReturnBegin(pretty);

    yajl_gen_map_open(gen);
    yajl_gen_map_close(gen);
    return emuQmpReturnEnd(gen, id);
}


GString *
emuQmpError(yajl_val id, const char *klass, const char *desc, gboolean pretty)
{
    yajl_gen gen = emuJsonGenNew(pretty);

    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "error");
    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "class");
    emuJsonGenString(gen, klass);
    emuJsonGenKey(gen, "desc");
    emuJsonGenString(gen, desc);
    yajl_gen_map_close(gen);
    emuQmpGenId(gen, id);
    yajl_gen_map_close(gen);
    return emuJsonGenFinish(gen);
}


GString *
emuQmpEvent(const char *name, emuJsonFillFunc fill, gpointer opaque, gboolean pretty)
{
    yajl_gen gen = emuJsonGenNew(pretty);
    gint64 now = g_get_real_time();

    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "timestamp");
    yajl_gen_map_open(gen);
    emuJsonGenKey(gen, "seconds");
    yajl_gen_integer(gen, now / G_USEC_PER_SEC);
    emuJsonGenKey(gen, "microseconds");
    yajl_gen_integer(gen, now % G_USEC_PER_SEC);
    yajl_gen_map_close(gen);
    emuJsonGenKey(gen, "event");
    emuJsonGenString(gen, name);
    if (fill) {
        emuJsonGenKey(gen, "data");
        yajl_gen_map_open(gen);
        fill(gen, opaque);
        yajl_gen_map_close(gen);
    }
    yajl_gen_map_close(gen);
    return emuJsonGenFinish(gen);
}
