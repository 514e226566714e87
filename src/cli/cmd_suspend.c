/*
 * virt-vmi suspend DOMAIN, virt-vmi resume DOMAIN
 *
 * QEMU holds a pause back until the introspection tool has removed its
 * hooks, for at most the unhook timeout: suspend shows that wait.
 */
#include <unistd.h>

#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"
#include "conf/vmi_error.h"
#include "vmi_progress.h"


static gboolean
vmiSuspendJob(gpointer opaque, GError **error)
{
    return vmiDomainSuspend(opaque, error);
}


static int
vmiCmdSuspendRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdSuspend, NULL);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    g_autofree char *what = NULL;
    GError *err = NULL;
    double elapsed, limit = 0;
    int rc;

    if (!vmiCliOpenDomain(&vmiCmdSuspend, ctx, global, argc, argv, &conn, &dom, &rc))
        return rc;

    if (dom->xml->vmi && (def = vmiDomainGetDef(dom, NULL))) {
        limit = vmiDefUnhookTimeout(def);
        what = g_strdup_printf("Suspending '%s': waiting for the introspection tool to unhook",
                               dom->name);
    } else {
        what = g_strdup_printf("Suspending '%s'", dom->name);
    }

    if (!vmiProgressRun(what, limit, vmiSuspendJob, dom, &elapsed, &err))
        return vmiCliFail(err);
    if (limit > 0 && elapsed >= limit)
        g_print("Domain '%s' suspended after %.2f s: the tool did not unhook within the "
                "unhook timeout (%.0f s), so QEMU cut its connection\n", dom->name, elapsed, limit);
    else if (limit > 0)
        g_print("Domain '%s' suspended after %.2f s, once the introspection tool unhooked\n",
                dom->name, elapsed);
    else
        g_print("Domain '%s' suspended\n", dom->name);
    return VMI_EXIT_OK;
}


/* To the journal where there is one, else to standard error. */
static void
vmiResumeLogUnmonitored(vmiDomain *dom)
{
    g_autofree char *msg =
        g_strdup_printf("domain '%s' (%s) resumed without its introspection tool, on purpose "
                        "(virt-vmi resume --unmonitored, uid %u): required='yes' is not "
                        "enforced until it stops", dom->name, dom->uuid, (unsigned)getuid());
    const GLogField fields[] = {
        { "MESSAGE", msg, -1 },
        { "PRIORITY", "4", -1 },
        { "GLIB_DOMAIN", "virt-vmi", -1 },
        { "VMI_DOMAIN_UUID", dom->uuid, -1 },
    };

    if (g_log_writer_journald(G_LOG_LEVEL_WARNING, fields, G_N_ELEMENTS(fields), NULL) !=
        G_LOG_WRITER_HANDLED)
        g_printerr("warning: %s\n", msg);
}


static int
vmiCmdResumeRun(const vmiCliGlobal *global, int argc, char **argv)
{
    gboolean unmonitored = FALSE;
    const GOptionEntry entries[] = {
        { "unmonitored", 0, 0, G_OPTION_ARG_NONE, &unmonitored,
          "Run a domain whose introspection is required without its tool, on purpose "
          "(logged, and shown by status until it stops)", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdResume, entries);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    GError *err = NULL;
    int rc;

    if (!vmiCliOpenDomain(&vmiCmdResume, ctx, global, argc, argv, &conn, &dom, &rc))
        return rc;
    if (unmonitored) {
        if (!dom->xml->vmi || !(def = vmiDomainGetDef(dom, NULL)) || !def->required) {
            g_set_error(&err, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "option '--unmonitored': domain '%s' does not require introspection "
                        "(no required='yes' in its <vmi:introspection>): resume it without "
                        "the option", dom->name);
            return vmiCliFail(err);
        }
        if (!vmiDomainResumeUnmonitored(dom, &err))
            return vmiCliFail(err);
        vmiResumeLogUnmonitored(dom);
        g_print("Domain '%s' resumed unmonitored: it may run without its introspection "
                "tool until it stops\n", dom->name);
        return VMI_EXIT_OK;
    }
    if (!vmiDomainResume(dom, &err))
        return vmiCliFail(err);
    g_print("Domain '%s' resumed: the introspection tool may connect again\n", dom->name);
    return VMI_EXIT_OK;
}


const vmiCliCommand vmiCmdSuspend = {
    "suspend", "DOMAIN",
    "Pause a domain, showing the wait for the tool's unhook",
    "Pause DOMAIN, as 'virsh suspend'. QEMU first asks the introspection\n"
    "tool to remove its hooks and waits until it closes its connection, at\n"
    "most the unhook timeout: on a terminal, the wait is shown.",
    vmiCmdSuspendRun,
    VMI_DOMAIN_LOAD_ANY,
};

const vmiCliCommand vmiCmdResume = {
    "resume", "DOMAIN [--unmonitored]",
    "Resume a paused domain",
    "Resume DOMAIN, as 'virsh resume'. QEMU lets the introspection tool\n"
    "connect again. --unmonitored runs a domain whose introspection is\n"
    "required (required='yes') without its tool, on purpose: it is logged\n"
    "and status shows it until the domain stops.",
    vmiCmdResumeRun,
    VMI_DOMAIN_LOAD_ANY,
};
