/*
 * vmi_qmp.c: QEMU monitor replies about the introspection chardev
 */
#include <string.h>
#include <yajl/yajl_tree.h>

#include "core/vmi_qmp.h"
#include "core/qemu_vmi.h"
#include "conf/vmi_error.h"


/*
 * yajl_tree_parse recurses once per nesting level: 300k levels overflow
 * the stack. QMP replies nest a few levels, so a cheap scan of the
 * brackets outside strings refuses deeper ones before yajl sees them.
 */
#define VMI_QMP_MAX_DEPTH 64

static gboolean
vmiQmpJSONDepthOK(const char *json)
{
    gboolean inString = FALSE;
    guint depth = 0;
    const char *p;

    for (p = json; *p; p++) {
        if (inString) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                inString = FALSE;
        } else if (*p == '"') {
            inString = TRUE;
        } else if (*p == '[' || *p == '{') {
            if (++depth > VMI_QMP_MAX_DEPTH)
                return FALSE;
        } else if ((*p == ']' || *p == '}') && depth) {
            depth--;
        }
    }
    return TRUE;
}


/*
 * What `query-chardev` says of the introspection chardev. A client
 * socket that is not connected has a filename starting "disconnected:".
 */
gboolean
vmiQmpParseChardevs(const char *reply, vmiQmpChardevState *state, GError **error)
{
    char errbuf[256] = "";
    const char *retPath[] = { "return", NULL };
    yajl_val root = NULL;
    yajl_val list;
    size_t i;

    memset(state, 0, sizeof(*state));
    if (!vmiQmpJSONDepthOK(reply)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "unexpected query-chardev reply: nested deeper than %d levels",
                    VMI_QMP_MAX_DEPTH);
        return FALSE;
    }
    root = yajl_tree_parse(reply, errbuf, sizeof(errbuf));
    if (!root || !(list = yajl_tree_get(root, retPath, yajl_t_array))) {
        g_autofree char *quoted = vmiErrorQuote(errbuf[0] ? errbuf : reply);

        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "unexpected query-chardev reply: %s", quoted);
        yajl_tree_free(root);
        return FALSE;
    }
    for (i = 0; i < YAJL_GET_ARRAY(list)->len; i++) {
        yajl_val entry = YAJL_GET_ARRAY(list)->values[i];
        const char *labelPath[] = { "label", NULL };
        const char *filePath[] = { "filename", NULL };
        const char *label = YAJL_GET_STRING(yajl_tree_get(entry, labelPath, yajl_t_string));
        const char *file = YAJL_GET_STRING(yajl_tree_get(entry, filePath, yajl_t_string));

        if (!label || !g_str_equal(label, VMI_QEMU_CHARDEV_ID))
            continue;
        /* QEMU's labels are unique; should one come twice, the last counts */
        state->found = TRUE;
        g_free(state->filename);
        state->filename = g_strdup(file ? file : "");
        state->connected = file && !g_str_has_prefix(file, "disconnected:");
    }
    yajl_tree_free(root);
    return TRUE;
}
