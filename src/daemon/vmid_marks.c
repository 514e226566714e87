/*
 * vmid_marks.c: the hook's attach-at-start promises, on disk
 */
#include <errno.h>
#include <glib/gstdio.h>

#include "daemon/vmid_marks.h"
#include "conf/vmi_error.h"


static char *
vmidMarkPath(const char *dir, const char *uuid)
{
    return g_build_filename(dir, uuid, NULL);
}


/* Written before the hook is answered: the start goes on only once the
 * promise would survive the daemon. */
gboolean
vmidMarkAdd(const char *dir, const char *uri, const char *uuid, GError **error)
{
    g_autofree char *path = vmidMarkPath(dir, uuid);
    g_autoptr(GError) err = NULL;

    if (g_mkdir_with_parents(dir, 0700) < 0) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "cannot create %s: %s",
                    dir, g_strerror(errno));
        return FALSE;
    }
    if (!g_file_set_contents_full(path, uri, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &err)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "cannot record the attach at start of domain %s: %s", uuid, err->message);
        return FALSE;
    }
    return TRUE;
}


void
vmidMarkRemove(const char *dir, const char *uuid)
{
    g_autofree char *path = vmidMarkPath(dir, uuid);

    if (g_unlink(path) < 0 && errno != ENOENT)
        g_warning("cannot remove %s: %s", path, g_strerror(errno));
}


GPtrArray *
vmidMarksLoad(const char *dir, const char *uri)
{
    GPtrArray *uuids = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *path = vmidMarkPath(dir, name);
        g_autofree char *text = NULL;

        /* the temporary file of a write cut short by a kill is no mark */
        if (!g_uuid_string_is_valid(name) || !g_file_get_contents(path, &text, NULL, NULL))
            continue;
        if (g_str_equal(text, uri))
            g_ptr_array_add(uuids, g_strdup(name));
    }
    return uuids;
}
