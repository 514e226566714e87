/*
 * virt-vmi start DOMAIN, virt-vmi destroy DOMAIN
 *
 * A domain whose introspection is required (required='yes') starts with
 * its vCPUs paused (-S): QEMU connects to the tool and hooks while paused
 * at birth, and the vCPUs run only once the domain log says "VMI: machine
 * hooked", as the hook does for a restore (docs/how-it-works.rst).
 */
#include "vmi_cli.h"
#include "core/vmi_required.h"
#include "libvirt/vmi_domain.h"
#include "vmi_progress.h"

typedef struct {
    const char *log;
    const vmiDef *def;
} vmiStartWait;


static gboolean
vmiStartWaitJob(gpointer opaque, GError **error)
{
    vmiStartWait *wait = opaque;

    return vmiRequiredWaitHooked(wait->log, wait->def, NULL, error);
}


/* The domain runs paused: its vCPUs run once the tool has hooked. */
static int
vmiStartRequired(vmiConn *conn, vmiDomain *dom, const vmiDef *def)
{
    g_autofree char *log = vmiConnDomainLogPath(conn, dom->name);
    g_autofree char *what = g_strdup_printf("Starting '%s' paused: waiting for the "
                                            "introspection tool to hook", dom->name);
    vmiStartWait wait = { log, def };
    GError *err = NULL;
    double elapsed;

    if (!vmiProgressRun(what, vmiDefHandshakeTimeout(def), vmiStartWaitJob, &wait, &elapsed,
                        &err)) {
        g_printerr("error: domain '%s' started, and stays paused: %s\n"
                   "Start its tool and run 'virt-vmi resume %s', or run it without the tool "
                   "with 'virt-vmi resume --unmonitored %s'\n",
                   dom->name, err->message, dom->name, dom->name);
        g_error_free(err);
        return VMI_EXIT_PAUSED;
    }
    if (!vmiDomainResume(dom, &err))
        return vmiCliFail(err);
    g_print("Domain '%s' started: the introspection tool hooked it before its vCPUs ran "
            "(waited %.2f s)\n", dom->name, elapsed);
    return VMI_EXIT_OK;
}


static int
vmiCmdLifecycle(const vmiCliCommand *cmd, const vmiCliGlobal *global, int argc, char **argv,
                gboolean start)
{
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(cmd, NULL);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    GError *err = NULL;
    gboolean required;
    int rc;

    /* embedded mode: the start reads the key, writes the key file */
    if (start)
        vmiCliHoldsKey();
    if (!vmiCliOpenDomain(cmd, ctx, global, argc, argv, &conn, &dom, &rc))
        return rc;
    /* an invalid element: the start is refused (by the hook, or here in
     * embedded mode) with what is wrong */
    if (start && dom->xml->vmi)
        def = vmiDomainGetDef(dom, NULL);
    required = def && def->required;
    if (!(start ? vmiDomainStart(conn, dom, required, &err) : vmiDomainDestroy(conn, dom, &err)))
        return vmiCliFail(err);
    if (required)
        return vmiStartRequired(conn, dom, def);
    g_print("Domain '%s' %s\n", dom->name, start ? "started" : "destroyed");
    return VMI_EXIT_OK;
}


static int
vmiCmdStartRun(const vmiCliGlobal *global, int argc, char **argv)
{
    return vmiCmdLifecycle(&vmiCmdStart, global, argc, argv, TRUE);
}


static int
vmiCmdDestroyRun(const vmiCliGlobal *global, int argc, char **argv)
{
    return vmiCmdLifecycle(&vmiCmdDestroy, global, argc, argv, FALSE);
}


const vmiCliCommand vmiCmdStart = {
    "start", "DOMAIN",
    "Start a domain (embedded mode: with the hook's work)",
    "Start DOMAIN, as 'virsh start'. With the embedded driver\n"
    "(-c 'qemu:///embed?root=DIR'), which runs no hooks, first do what the\n"
    "libvirt hook does in daemon mode: check the element, its arguments,\n"
    "the key secret and the emulator, and write the per-run key file.\n"
    "A domain whose introspection is required (required='yes') starts\n"
    "paused; its vCPUs run once its tool has hooked it, within the handshake\n"
    "timeout, else it stays paused (exit status 8).",
    vmiCmdStartRun,
};

const vmiCliCommand vmiCmdDestroy = {
    "destroy", "DOMAIN",
    "Stop a domain at once (embedded mode: with clean-up)",
    "Stop DOMAIN at once, as 'virsh destroy'. With the embedded driver,\n"
    "also remove its per-run key file, as the hook does in daemon mode.",
    vmiCmdDestroyRun,
    VMI_DOMAIN_LOAD_ANY,
};
