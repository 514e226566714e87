/*
 * virt-vmi edit DOMAIN: the element in $EDITOR, like virsh edit
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"
#include "conf/vmi_error.h"
#include "conf/vmi_schema.h"
#include "core/vmi_fd.h"

#define VMI_EDIT_TEMPLATE \
    "<vmi:introspection xmlns:vmi='" VMI_NAMESPACE_URI "'>\n" \
    "  <vmi:source type='unix' path='/run/vmi/DOMAIN.sock'/>\n" \
    "</vmi:introspection>\n"


static gboolean
vmiEditRunEditor(const char *path, GError **error)
{
    const char *editor = g_getenv("VISUAL");
    g_auto(GStrv) argv = NULL;
    g_autoptr(GStrvBuilder) cmd = g_strv_builder_new();
    g_auto(GStrv) full = NULL;
    int status;

    if (!editor || !*editor)
        editor = g_getenv("EDITOR");
    if (!editor || !*editor)
        editor = "vi";
    if (!g_shell_parse_argv(editor, NULL, &argv, error))
        return FALSE;
    g_strv_builder_addv(cmd, (const char **)argv);
    g_strv_builder_add(cmd, path);
    full = g_strv_builder_end(cmd);

    if (!g_spawn_sync(NULL, full, NULL,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_CHILD_INHERITS_STDIN,
                      NULL, NULL, NULL, NULL, &status, error))
        return FALSE;
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "editor '%s' failed: changes discarded", editor);
        return FALSE;
    }
    return TRUE;
}


/* The edited element, checked as `validate` does. */
static vmiDef *
vmiEditParse(const char *path, GError **error)
{
    g_autoptr(vmiDomainXML) xml = vmiDomainXMLReadFile(path, "the edited element", error);
    g_autoptr(vmiDef) def = NULL;

    if (!xml)
        return NULL;
    if (!xml->bare) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "expected a <vmi:introspection> element, not a whole domain");
        return NULL;
    }
    if (!(def = vmiDomainXMLGetDef(xml, error)) ||
        !vmiSchemaValidate(xml->vmi, "the edited element", error))
        return NULL;
    return g_steal_pointer(&def);
}


/* virsh edit's question, without its i(gnore) and f(orce) choices. */
static gboolean
vmiEditAskAgain(void)
{
    char answer[64];

    for (;;) {
        g_printerr("Failed. Try again? [y,n]: ");
        if (!fgets(answer, sizeof(answer), stdin))
            return FALSE;
        if (answer[0] == 'y' || answer[0] == 'Y')
            return TRUE;
        if (answer[0] == 'n' || answer[0] == 'N')
            return FALSE;
    }
}


static int
vmiEditLoop(vmiConn *conn, vmiDomain *dom, const char *path, const char *original)
{
    for (;;) {
        g_autoptr(GError) err = NULL;
        g_autoptr(vmiDef) def = NULL;
        g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);
        g_autofree char *edited = NULL;

        if (!vmiEditRunEditor(path, &err) ||
            !g_file_get_contents(path, &edited, NULL, &err))
            return vmiCliFail(g_steal_pointer(&err));

        if (g_str_equal(edited, original)) {
            g_print("Domain '%s': element not changed\n", dom->name);
            return VMI_EXIT_OK;
        }
        if ((def = vmiEditParse(path, &err)) &&
            vmiDomainApply(conn, dom, def, changes, &err)) {
            vmiCliReportChanges(dom, dom->name, changes);
            return VMI_EXIT_OK;
        }

        g_printerr("error: %s\n", err->message);
        if (!vmiEditAskAgain()) {
            g_printerr("Domain '%s': changes discarded\n", dom->name);
            return VMI_EXIT_FAILURE;
        }
    }
}


static int
vmiCmdEditRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdEdit, NULL);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    g_autofree char *original = NULL;
    g_autofree char *path = NULL;
    GError *err = NULL;
    gboolean written;
    int fd, rc, errsv;

    if (!vmiCliOpenDomain(&vmiCmdEdit, ctx, global, argc, argv, &conn, &dom, &rc))
        return rc;

    /* An invalid element is offered as it is, to be fixed. */
    if (!dom->xml->vmi)
        original = g_strdup(VMI_EDIT_TEMPLATE);
    else if ((def = vmiDomainGetDef(dom, NULL)))
        original = vmiDefFormat(def);
    else
        original = vmiXMLNodeToString(dom->xml->vmi);

    /* Written through the descriptor, which keeps the file 0600:
     * g_file_set_contents would replace it with one the umask makes
     * world-readable. */
    if ((fd = g_file_open_tmp("virt-vmi-XXXXXX.xml", &path, &err)) < 0)
        return vmiCliFail(err);
    written = vmiFdWriteAll(fd, original, strlen(original), &err);
    errsv = errno;
    if (close(fd) < 0 && written) {
        written = FALSE;
        g_set_error_literal(&err, VMI_ERROR, VMI_ERROR_OPERATION, g_strerror(errsv));
    }
    if (!written) {
        g_unlink(path);
        g_prefix_error(&err, "cannot write '%s': ", path);
        return vmiCliFail(err);
    }
    rc = vmiEditLoop(conn, dom, path, original);
    g_unlink(path);
    return rc;
}


const vmiCliCommand vmiCmdEdit = {
    "edit", "DOMAIN",
    "Edit a domain's element in $EDITOR",
    "Open DOMAIN's <vmi:introspection> element (a template if it has none)\n"
    "in $VISUAL or $EDITOR (default vi). When the editor exits, the element\n"
    "is validated and written with the QEMU arguments it needs; on an error\n"
    "it is offered again, as virsh edit does.",
    vmiCmdEditRun,
};
