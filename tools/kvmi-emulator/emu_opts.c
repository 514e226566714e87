/*
 * emu_opts.c: QEMU's key=value option syntax (QemuOpts)
 */
#include <string.h>

#include "emu_opts.h"


static void
emuOptFree(gpointer data)
{
    emuOpt *opt = data;

    g_free(opt->key);
    g_free(opt->value);
    g_free(opt);
}


/* Copies up to the first unescaped comma (or @stop, when not NUL);
 * returns where it stopped. */
static const char *
emuOptsToken(const char *p, char stop, char **out)
{
    GString *buf = g_string_new(NULL);

    for (; *p; p++) {
        if (*p == ',') {
            if (p[1] != ',')
                break;
            p++;
        } else if (stop && *p == stop) {
            break;
        }
        g_string_append_c(buf, *p);
    }
    *out = g_string_free(buf, FALSE);
    return p;
}


static void
emuOptsAdd(emuOpts *opts, char *key, char *value)
{
    emuOpt *opt = g_new0(emuOpt, 1);

    opt->key = key;
    opt->value = value;
    g_ptr_array_add(opts->items, opt);
}


emuOpts *
emuOptsParse(const char *str, const char *implied)
{
    emuOpts *opts = g_new0(emuOpts, 1);
    const char *p = str;
    gboolean first = TRUE;

    opts->items = g_ptr_array_new_with_free_func(emuOptFree);
    while (*p) {
        char *key = NULL;
        char *value = NULL;

        p = emuOptsToken(p, '=', &key);
        if (*p == '=') {
            p = emuOptsToken(p + 1, 0, &value);
        } else if (first && implied && !emuIsHelpOption(key)) {
            value = key;
            key = g_strdup(implied);
        } else {
            value = g_strdup("on");
        }
        if (*p == ',')
            p++;
        first = FALSE;
        if (!*key && !*value) {
            g_free(key);
            g_free(value);
            continue;
        }
        emuOptsAdd(opts, key, value);
    }
    return opts;
}


void
emuOptsFree(emuOpts *opts)
{
    if (!opts)
        return;
    g_ptr_array_unref(opts->items);
    g_free(opts);
}


const char *
emuOptsGet(const emuOpts *opts, const char *key)
{
    guint i;

    for (i = opts->items->len; i > 0; i--) {
        emuOpt *opt = g_ptr_array_index(opts->items, i - 1);

        if (g_str_equal(opt->key, key))
            return opt->value;
    }
    return NULL;
}


gboolean
emuOptsHas(const emuOpts *opts, const char *key)
{
    return emuOptsGet(opts, key) != NULL;
}


gboolean
emuParseBool(const char *value, gboolean *out)
{
    static const char *const yes[] = { "on", "yes", "true", "y", NULL };
    static const char *const no[] = { "off", "no", "false", "n", NULL };

    if (g_strv_contains(yes, value)) {
        *out = TRUE;
        return TRUE;
    }
    if (g_strv_contains(no, value)) {
        *out = FALSE;
        return TRUE;
    }
    return FALSE;
}


gboolean
emuOptsGetBool(const emuOpts *opts, const char *key, gboolean def)
{
    const char *value = emuOptsGet(opts, key);
    gboolean ret;

    if (!value || !emuParseBool(value, &ret))
        return def;
    return ret;
}


gboolean
emuIsHelpOption(const char *str)
{
    return g_str_equal(str, "help") || g_str_equal(str, "?");
}
