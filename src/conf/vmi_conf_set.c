/*
 * vmi_conf_set.c: a definition changed value by value, from options
 */
#include "vmi_conf_set.h"
#include "vmi_error.h"


static gboolean
vmiDefSetInvalid(GError **error, const char *option, const char *value, const char *expected)
{
    g_autofree char *quoted = vmiErrorQuote(value);

    g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                "invalid value '%s' for option '%s': expected %s", quoted, option, expected);
    return FALSE;
}


void
vmiDefSetSocket(vmiDef *def, const char *path)
{
    g_clear_pointer(&def->source.path, g_free);
    def->source.type = VMI_SOURCE_UNIX;
    def->source.path = g_strdup(path);
    def->source.cid = def->source.port = 0;
}


/* CID:PORT */
gboolean
vmiDefSetVsock(vmiDef *def, const char *value, const char *option, GError **error)
{
    const vmiAttrInfo *cidInfo = &vmiAttrs[VMI_ATTR_SOURCE_CID];
    const vmiAttrInfo *portInfo = &vmiAttrs[VMI_ATTR_SOURCE_PORT];
    g_auto(GStrv) parts = g_strsplit(value, ":", 2);
    guint64 cid, port;

    if (g_strv_length(parts) != 2 ||
        !vmiRangeParse(parts[0], cidInfo->range, &cid) ||
        !vmiRangeParse(parts[1], portInfo->range, &port)) {
        g_autofree char *cids = vmiRangeDescribe(cidInfo->range);
        g_autofree char *ports = vmiRangeDescribe(portInfo->range);
        g_autofree char *expected = g_strdup_printf("CID:PORT, CID %s, PORT %s", cids, ports);

        return vmiDefSetInvalid(error, option, value, expected);
    }
    g_clear_pointer(&def->source.path, g_free);
    def->source.type = VMI_SOURCE_VSOCK;
    def->source.cid = cid;
    def->source.port = port;
    return TRUE;
}


static guint *
vmiDefSecondsField(vmiDef *def, vmiAttrId attr)
{
    switch (attr) {
    case VMI_ATTR_RECONNECT_TIMEOUT:
        return &def->reconnect;
    case VMI_ATTR_TIMEOUTS_HANDSHAKE:
        return &def->handshakeTimeout;
    case VMI_ATTR_TIMEOUTS_UNHOOK:
        return &def->unhookTimeout;
    case VMI_ATTR_SOURCE_CID:
    case VMI_ATTR_SOURCE_PORT:
    case VMI_ATTR_REQUIRED:
    case VMI_ATTR_LAST:
        break;
    }
    g_return_val_if_reached(NULL);
}


/* SECONDS in the attribute's range, or 'default' to drop the setting. */
gboolean
vmiDefSetSeconds(vmiDef *def, vmiAttrId attr, const char *value, const char *option,
                 GError **error)
{
    const vmiRange *range = vmiAttrs[attr].range;
    guint *field = vmiDefSecondsField(def, attr);
    g_autofree char *allowed = NULL;
    g_autofree char *expected = NULL;
    guint64 num;

    if (g_str_equal(value, "default")) {
        *field = 0;
        return TRUE;
    }
    if (vmiRangeParse(value, range, &num)) {
        *field = num;
        return TRUE;
    }
    allowed = vmiRangeDescribe(range);
    expected = g_strdup_printf("%s, or 'default'", allowed);
    return vmiDefSetInvalid(error, option, value, expected);
}


/* The given values replace the list; 'all' (alone) drops it. */
gboolean
vmiDefSetAllowList(vmiDef *def, const char *kind, char **values, const char *option,
                   GError **error)
{
    guint64 *bitmap = g_str_equal(kind, "command") ? &def->commands : &def->events;
    guint64 list = 0;
    size_t i;

    for (i = 0; values[i]; i++) {
        g_autoptr(GError) err = NULL;

        if (g_str_equal(values[i], "all") && g_strv_length(values) == 1) {
            *bitmap = 0;
            return TRUE;
        }
        if (!vmiDefSetAllow(&list, kind, values[i], &err)) {
            g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG, "option '%s': %s%s",
                        option, err->message,
                        g_str_equal(values[i], "all") ? " ('all' must be given alone)" : "");
            return FALSE;
        }
    }
    *bitmap = list;
    return TRUE;
}


/* A libvirt secret's UUID (kept in lower case), or 'none' to drop the key. */
gboolean
vmiDefSetKeySecret(vmiDef *def, const char *value, const char *option, GError **error)
{
    if (!g_str_equal(value, "none") && !g_uuid_string_is_valid(value))
        return vmiDefSetInvalid(error, option, value,
                                "the UUID of a libvirt secret, or 'none'");
    g_clear_pointer(&def->keySecret, g_free);
    if (!g_str_equal(value, "none"))
        def->keySecret = g_ascii_strdown(value, -1);
    return TRUE;
}


/* yes or no: whether the guest may run only with its tool hooked. */
gboolean
vmiDefSetRequired(vmiDef *def, const char *value, const char *option, GError **error)
{
    int val = vmiYesNoFromString(value);

    if (val < 0)
        return vmiDefSetInvalid(error, option, value, "yes or no");
    def->required = val;
    return TRUE;
}
