/*
 * virt-vmi attach DOMAIN, virt-vmi detach DOMAIN: introspection added to
 * or removed from a running QEMU, and/or the persistent definition
 *
 * Neither --live nor --config: --live, as virsh attach-device without
 * flags (an error on a domain that is not running).
 */
#include "vmi_cli.h"
#include "libvirt/vmi_attach.h"
#include "vmi_progress.h"
#include "conf/vmi_error.h"


typedef struct {
    vmiConn *conn;
    vmiDomain *dom;
} vmiDetachJob;


static gboolean
vmiDetachPause(gpointer opaque, GError **error)
{
    return vmiDomainSuspend(opaque, error);
}


/*
 * QEMU will not delete the object of a connected tool, and has no command
 * to unhook it: only the actions it intercepts (a pause) do. So the guest
 * is paused (QEMU sends UNHOOK and holds the pause until the tool closes,
 * at most the unhook timeout, and refuses reconnects while paused), the
 * objects go, and the guest runs again.
 */
static gboolean
vmiDetachWithUnhook(vmiConn *conn, vmiDomain *dom, gboolean *cut, GError **error)
{
    g_autoptr(vmiDef) def = NULL;
    g_autofree char *what = g_strdup_printf("Detaching from '%s': waiting for the "
                                            "introspection tool to unhook", dom->name);
    gboolean inUse = FALSE;
    GError *err = NULL;
    double elapsed, limit = 0;
    gboolean ok;

    if (vmiDomainIsPaused(dom->dom)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "domain '%s': the introspection tool is connected to the paused domain "
                    "and QEMU refuses to delete the object while it is: stop the tool "
                    "(it closes its connection) and run virt-vmi detach %s again",
                    dom->name, dom->name);
        return FALSE;
    }
    if (dom->xml->vmi && (def = vmiDomainGetDef(dom, NULL)))
        limit = vmiDefUnhookTimeout(def);
    if (!vmiProgressRun(what, limit, vmiDetachPause, dom, &elapsed, &err)) {
        g_prefix_error(&err, "the introspection tool is connected and QEMU deletes the object "
                       "only once it has unhooked, which needs a pause: ");
        g_propagate_error(error, err);
        return FALSE;
    }
    *cut = limit > 0 && elapsed >= limit;
    ok = vmiDomainDetachLive(conn, dom, &inUse, error);
    if (!vmiDomainResume(dom, ok ? error : NULL))
        return FALSE;
    return ok;
}


static int
vmiCmdAttachDetach(const vmiCliCommand *cmd, const vmiCliGlobal *global, int argc,
                   char **argv, gboolean attach)
{
    gboolean live = FALSE, config = FALSE;
    const GOptionEntry entries[] = {
        { "live", 0, 0, G_OPTION_ARG_NONE, &live,
          "Change the running QEMU (the default)", NULL },
        { "config", 0, 0, G_OPTION_ARG_NONE, &config,
          attach ? "Also bring the persistent definition's QEMU arguments in step (as sync)"
                 : "Also remove the element from the persistent definition (as remove)", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(cmd, entries);
    g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    GError *err = NULL;
    int rc;

    if (attach)
        vmiCliHoldsKey();
    if (!vmiCliOpenDomain(cmd, ctx, global, argc, argv, &conn, &dom, &rc))
        return rc;
    if (!live && !config)
        live = TRUE;

    if (live && !dom->running)
        return vmiCliFail(g_error_new(VMI_ERROR, VMI_ERROR_INVALID_ARG,
                                      "domain '%s' is not running: --live changes a running "
                                      "QEMU (virt-vmi start %s; or %s --config for the "
                                      "persistent definition only)",
                                      dom->name, dom->name, cmd->name));
    if (live && attach) {
        if (!vmiDomainAttachLive(conn, dom, &err))
            return vmiCliFail(err);
        g_print("Introspection attached to domain '%s': QEMU connects to the tool\n",
                dom->name);
    } else if (live) {
        gboolean inUse = FALSE;
        gboolean cut = FALSE;

        if (!vmiDomainDetachLive(conn, dom, &inUse, &err)) {
            if (!inUse)
                return vmiCliFail(err);
            g_clear_error(&err);
            if (!vmiDetachWithUnhook(conn, dom, &cut, &err))
                return vmiCliFail(err);
            if (cut)
                g_print("Introspection detached from domain '%s': the tool did not unhook "
                        "within the unhook timeout, so QEMU cut its connection (the guest "
                        "was paused meanwhile)\n", dom->name);
            else
                g_print("Introspection detached from domain '%s', once the tool had unhooked "
                        "(the guest was paused meanwhile)\n", dom->name);
        } else {
            g_print("Introspection detached from domain '%s'\n", dom->name);
        }
    }
    if (config) {
        if (attach && !dom->xml->vmi)
            return vmiCliFail(g_error_new(VMI_ERROR, VMI_ERROR_INVALID_ARG,
                                          "domain '%s' has no <vmi:introspection>: configure "
                                          "it first (virt-vmi set %s --socket PATH)",
                                          dom->name, dom->name));
        if (attach && !(def = vmiDomainGetDef(dom, &err)))
            return vmiCliFail(err);
        if (!vmiDomainApply(conn, dom, def, changes, &err))
            return vmiCliFail(err);
        vmiCliReportChanges(dom, dom->name, changes);
    }
    return VMI_EXIT_OK;
}


static int
vmiCmdAttachRun(const vmiCliGlobal *global, int argc, char **argv)
{
    return vmiCmdAttachDetach(&vmiCmdAttach, global, argc, argv, TRUE);
}


static int
vmiCmdDetachRun(const vmiCliGlobal *global, int argc, char **argv)
{
    return vmiCmdAttachDetach(&vmiCmdDetach, global, argc, argv, FALSE);
}


const vmiCliCommand vmiCmdAttach = {
    "attach", "DOMAIN [--live] [--config]",
    "Add introspection to a running domain, without a restart",
    "Give the running DOMAIN what its <vmi:introspection> element says,\n"
    "over QEMU's monitor: the per-run key file, then chardev-add, object-add\n"
    "of the secret and of the introspection object (then the key file goes,\n"
    "QEMU keeps the key). A failure removes what was added. Change the\n"
    "element first with set / key-create (they edit the persistent\n"
    "definition). --live (the default, as virsh attach-device): the running\n"
    "QEMU, an error if DOMAIN is not running. --config: also bring the\n"
    "persistent definition's arguments in step, as sync. An allow-list of\n"
    "several ids cannot be given over QMP: such an element needs a restart.",
    vmiCmdAttachRun,
    VMI_DOMAIN_LOAD_ANY,
};

const vmiCliCommand vmiCmdDetach = {
    "detach", "DOMAIN [--live] [--config]",
    "Remove introspection from a running domain",
    "Remove the introspection object, its secret and its chardev from the\n"
    "running DOMAIN, then the key file. QEMU refuses to delete the object\n"
    "while a tool is connected and has no command to unhook it: then the\n"
    "guest is paused, which makes QEMU send UNHOOK and wait for the tool to\n"
    "close (at most the unhook timeout; the wait is shown on a terminal),\n"
    "the objects go, and the guest runs again. --live (the default): the\n"
    "running QEMU. --config: also remove the element and its arguments from\n"
    "the persistent definition, as remove.",
    vmiCmdDetachRun,
    VMI_DOMAIN_LOAD_ANY,
};
