/*
 * vmi_qmp.c: QEMU monitor replies about the introspection chardev
 */
#include <string.h>
#include <yajl/yajl_tree.h>

#include "core/vmi_qmp.h"
#include "core/qemu_vmi.h"
#include "conf/vmi_error.h"


/*
 * What `query-chardev` says of the introspection chardev. A client
 * socket that is not connected has a filename starting "disconnected:".
 */
gboolean
vmiQmpParseChardevs(const char *reply, vmiQmpChardevState *state, GError **error)
{
    char errbuf[256] = "";
    const char *retPath[] = { "return", NULL };
    yajl_val root = yajl_tree_parse(reply, errbuf, sizeof(errbuf));
    yajl_val list;
    size_t i;

    memset(state, 0, sizeof(*state));
    if (!root || !(list = yajl_tree_get(root, retPath, yajl_t_array))) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "unexpected query-chardev reply: %s", errbuf[0] ? errbuf : reply);
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
        state->found = TRUE;
        state->filename = g_strdup(file ? file : "");
        state->connected = file && !g_str_has_prefix(file, "disconnected:");
    }
    yajl_tree_free(root);
    return TRUE;
}
