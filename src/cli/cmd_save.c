/*
 * virt-vmi save DOMAIN FILE, virt-vmi restore FILE [--paused],
 * virt-vmi snapshot-create DOMAIN [NAME] [--external FILE]
 *
 * libvirt's save and snapshots begin with a pause, which QEMU holds back
 * until the introspection tool has removed its hooks (at most the unhook
 * timeout): the wait is shown as `suspend` shows it. Where the guest runs
 * again afterwards (a restore, a snapshot), the tool must hook it again:
 * that is checked, within the reconnect interval and the handshake
 * timeout, and a guest left unmonitored makes the command fail
 * (VMI_EXIT_UNMONITORED).
 *
 * SIGINT (Ctrl-C) or SIGTERM during a save or a snapshot cancels libvirt's
 * job, as virsh does, rather than leave it running behind a dead client:
 * libvirt cancels once the held `stop` is answered, resumes the guest, and
 * the tool must hook it again (VMI_EXIT_CANCELLED).
 */
#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"
#include "libvirt/vmi_status.h"
#include "vmi_progress.h"


typedef struct {
    vmiDomain *dom;
    const vmiDef *def;
    double limit;
    const char *file;
    const char *name;
    char *created;
    int cancelled;          /* by this signal (SIGINT, SIGTERM), 0: not */
    GThread *abort;         /* libvirt's job being cancelled */
    GError *abortErr;
} vmiSaveJob;


/* The element QEMU runs with (vmiDomainGetLiveDef); NULL: none, or unreadable. */
static vmiDef *
vmiLiveDef(vmiDomain *dom)
{
    vmiDef *def = NULL;

    vmiDomainGetLiveDef(dom, &def, NULL);
    return def;
}


/* "Saving 'guest1': waiting for the introspection tool to unhook"; the
 * unhook timeout when a tool may be hooked (the guest runs), else 0. */
static char *
vmiSaveWhat(const char *verb, vmiDomain *dom, vmiDef **def, double *limit)
{
    *limit = 0;
    if ((*def = vmiLiveDef(dom)) && vmiStatusGuestRuns(dom)) {
        *limit = vmiDefUnhookTimeout(*def);
        return g_strdup_printf("%s '%s': waiting for the introspection tool to unhook",
                               verb, dom->name);
    }
    return g_strdup_printf("%s '%s'", verb, dom->name);
}


static gboolean
vmiRehookJob(gpointer opaque, GError **error)
{
    vmiSaveJob *job = opaque;

    return vmiStatusWaitHooked(job->dom, job->def, job->limit, NULL, error);
}


/*
 * After the operation: where the guest runs and has introspection,
 * waits for the tool to hook it again. Returns the exit code.
 */
static int
vmiCheckRehook(vmiDomain *dom, const vmiDef *def)
{
    vmiSaveJob job = { dom, def, 0, NULL, NULL, NULL };
    g_autofree char *what = NULL;
    GError *err = NULL;
    double elapsed;

    if (!def)
        return VMI_EXIT_OK;
    if (!vmiStatusGuestRuns(dom)) {
        g_print("Domain '%s' is paused: the introspection tool hooks it once it is "
                "resumed\n", dom->name);
        return VMI_EXIT_OK;
    }
    job.limit = vmiStatusRehookLimit(def);
    what = g_strdup_printf("Waiting for the introspection tool to hook '%s' again", dom->name);
    if (!vmiProgressRun(what, job.limit, vmiRehookJob, &job, &elapsed, &err)) {
        g_printerr("error: %s\n", err->message);
        g_error_free(err);
        return VMI_EXIT_UNMONITORED;
    }
    g_print("Domain '%s': the introspection tool hooked it again after %.2f s\n",
            dom->name, elapsed);
    return VMI_EXIT_OK;
}


/* In a thread: the abort waits for a held `stop`, the display goes on. */
static gpointer
vmiSaveAbortRun(gpointer opaque)
{
    vmiSaveJob *job = opaque;

    vmiDomainAbortJob(job->dom->dom, job->dom->name, &job->abortErr);
    return NULL;
}


static void
vmiSaveCancel(int signum, gpointer opaque)
{
    vmiSaveJob *job = opaque;

    if (job->cancelled)
        return;
    job->cancelled = signum;
    job->abort = g_thread_new("abort", vmiSaveAbortRun, job);
}


/*
 * Runs @func with the unhook wait shown, cancelling libvirt's job on
 * SIGINT or SIGTERM. On a cancelled job, returns FALSE with the error
 * saying so, and *exitCode is set: the guest runs on (libvirt resumes
 * it), and the tool must hook it again.
 */
static gboolean
vmiSaveProgress(vmiSaveJob *job, const char *verb, const char *what, double limit,
                vmiProgressFunc func, double *elapsed, int *exitCode)
{
    vmiProgressOps ops = { .func = func, .opaque = job, .cancel = vmiSaveCancel,
                           .cancelOpaque = job };
    const char *sig;
    GError *err = NULL;
    gboolean ok = vmiProgressRunPhases(&ops, what, limit, elapsed, &err);

    if (job->abort)
        g_thread_join(job->abort);
    sig = vmiProgressSignalName(job->cancelled);
    if (job->abortErr) {
        g_printerr("warning: %s: %s\n", sig, job->abortErr->message);
        g_clear_error(&job->abortErr);
    } else if (ok && job->cancelled) {
        /* libvirt took the cancel, but QEMU had written the whole state */
        g_printerr("warning: %s came too late: the %s had already completed\n", sig, verb);
    }
    if (ok)
        return TRUE;
    if (!job->cancelled) {
        *exitCode = vmiCliFail(err);
        return FALSE;
    }
    g_printerr("error: %s of domain '%s' cancelled (%s): %s\n", verb, job->dom->name, sig,
               err->message);
    g_error_free(err);
    job->dom->running = TRUE;
    *exitCode = vmiCheckRehook(job->dom, job->def);
    if (*exitCode == VMI_EXIT_OK)
        *exitCode = VMI_EXIT_CANCELLED;
    return FALSE;
}


/* --- save ---------------------------------------------------------------- */

static gboolean
vmiSaveRun(gpointer opaque, GError **error)
{
    vmiSaveJob *job = opaque;

    return vmiDomainSave(job->dom, job->file, error);
}


/* The options and between @minArgs and @maxArgs positional arguments. */
static gboolean
vmiParseArgs(const vmiCliCommand *cmd, GOptionContext *ctx, int *argc, char ***argv,
             int minArgs, int maxArgs, int *exitCode)
{
    if (!vmiCliParseOptions(ctx, argc, argv, exitCode))
        return FALSE;
    if (*argc - 1 < minArgs || *argc - 1 > maxArgs) {
        *exitCode = vmiCliUsage(ctx, "%s takes %s", cmd->name, cmd->params);
        return FALSE;
    }
    return TRUE;
}


/* A connection and, with @dom, the domain @name. */
static gboolean
vmiOpen(const vmiCliCommand *cmd, const vmiCliGlobal *global, const char *name,
        vmiConn **conn, vmiDomain **dom, int *exitCode)
{
    GError *err = NULL;

    if (!(*conn = vmiConnOpen(global->uri, &err)) ||
        (dom && !(*dom = vmiDomainLoad(*conn, name, cmd->loadFlags, &err)))) {
        *exitCode = vmiCliFail(err);
        return FALSE;
    }
    return TRUE;
}


static int
vmiCmdSaveRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdSave, NULL);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    g_autofree char *what = NULL;
    g_autofree char *file = NULL;
    vmiSaveJob job = { NULL };
    double elapsed, limit;
    int rc;

    if (!vmiParseArgs(&vmiCmdSave, ctx, &argc, &argv, 2, 2, &rc) ||
        !vmiOpen(&vmiCmdSave, global, argv[1], &conn, &dom, &rc))
        return rc;
    if (!dom->running) {
        g_printerr("error: domain '%s' is not running: there is nothing to save\n", dom->name);
        return VMI_EXIT_FAILURE;
    }
    /* libvirtd opens it, from its own working directory */
    file = g_canonicalize_filename(argv[2], NULL);
    what = vmiSaveWhat("Saving", dom, &def, &limit);
    job.dom = dom;
    job.def = def;
    job.file = file;
    if (!vmiSaveProgress(&job, "save", what, limit, vmiSaveRun, &elapsed, &rc))
        return rc;
    if (limit > 0)
        g_print("Domain '%s' saved to %s after %.2f s (the introspection tool's unhook "
                "first, at most %.0f s)\n", dom->name, file, elapsed, limit);
    else
        g_print("Domain '%s' saved to %s\n", dom->name, file);
    return VMI_EXIT_OK;
}


/* --- restore ------------------------------------------------------------- */

typedef struct {
    vmiConn *conn;
    const char *file;
    vmiDomainXML *image;
    gboolean paused;
    vmiDomain *dom;
} vmiRestoreJob;


static gboolean
vmiRestoreRun(gpointer opaque, GError **error)
{
    vmiRestoreJob *job = opaque;

    job->dom = vmiDomainRestore(job->conn, job->file, job->image, job->paused, error);
    return job->dom != NULL;
}


static int
vmiCmdRestoreRun(const vmiCliGlobal *global, int argc, char **argv)
{
    gboolean paused = FALSE;
    const GOptionEntry entries[] = {
        { "paused", 0, 0, G_OPTION_ARG_NONE, &paused,
          "Leave the restored guest paused (the tool hooks it once it is resumed)", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdRestore, entries);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomainXML) image = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    g_autofree char *file = NULL;
    g_autofree char *what = NULL;
    vmiRestoreJob job = { NULL };
    GError *err = NULL;
    double elapsed;
    int rc;

    if (!vmiParseArgs(&vmiCmdRestore, ctx, &argc, &argv, 1, 1, &rc) ||
        !vmiOpen(&vmiCmdRestore, global, NULL, &conn, NULL, &rc))
        return rc;
    file = g_canonicalize_filename(argv[1], NULL);
    /* the definition QEMU is restored with: the image's, not the
     * persistent one (which may have changed since the save) */
    if (!(image = vmiDomainSaveImageGetXML(conn, file, &err)) ||
        (image->vmi && !(def = vmiDomainXMLGetDef(image, &err))))
        return vmiCliFail(err);

    what = g_strdup_printf("Restoring '%s' from %s", image->name ? image->name : "?", file);
    job.conn = conn;
    job.file = file;
    job.image = image;
    job.paused = paused;
    if (!vmiProgressRun(what, 0, vmiRestoreRun, &job, &elapsed, &err))
        return vmiCliFail(err);
    dom = job.dom;
    g_print("Domain '%s' restored from %s%s\n", dom->name, file, paused ? ", paused" : "");
    return vmiCheckRehook(dom, def);
}


/* --- snapshot-create ----------------------------------------------------- */

static gboolean
vmiSnapshotRun(gpointer opaque, GError **error)
{
    vmiSaveJob *job = opaque;

    job->created = vmiDomainSnapshotCreate(job->dom, job->name, job->file, error);
    return job->created != NULL;
}


static int
vmiCmdSnapshotCreateRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autofree char *external = NULL;
    const GOptionEntry entries[] = {
        { "external", 0, 0, G_OPTION_ARG_FILENAME, &external,
          "External: the memory to FILE, an overlay per disk (default: internal)",
          "FILE" },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdSnapshotCreate, entries);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    g_autofree char *what = NULL;
    g_autofree char *memory = NULL;
    g_autofree char *created = NULL;
    vmiSaveJob job = { NULL };
    double elapsed, limit;
    gboolean wasRunning;
    int rc;

    if (!vmiParseArgs(&vmiCmdSnapshotCreate, ctx, &argc, &argv, 1, 2, &rc))
        return rc;
    if (external && !*external)
        return vmiCliUsage(ctx, "--external: expected a FILE for the memory");
    if (!vmiOpen(&vmiCmdSnapshotCreate, global, argv[1], &conn, &dom, &rc))
        return rc;
    if (external && !dom->running) {
        g_printerr("error: domain '%s' is not running: an external snapshot with memory "
                   "needs a running domain\n", dom->name);
        return VMI_EXIT_FAILURE;
    }
    if (external)
        memory = g_canonicalize_filename(external, NULL);
    wasRunning = dom->running && vmiStatusGuestRuns(dom);
    what = vmiSaveWhat("Snapshotting", dom, &def, &limit);
    job.dom = dom;
    job.def = def;
    job.name = argc > 2 ? argv[2] : NULL;
    job.file = memory;
    if (!vmiSaveProgress(&job, "snapshot", what, limit, vmiSnapshotRun, &elapsed, &rc))
        return rc;
    created = job.created;
    if (limit > 0)
        g_print("Domain '%s': snapshot '%s' created after %.2f s (the introspection tool's "
                "unhook first, at most %.0f s)\n", dom->name, created, elapsed, limit);
    else
        g_print("Domain '%s': snapshot '%s' created\n", dom->name, created);
    if (!wasRunning)
        return VMI_EXIT_OK;
    return vmiCheckRehook(dom, def);
}


const vmiCliCommand vmiCmdSave = {
    "save", "DOMAIN FILE",
    "Save a running domain, showing the wait for the unhook",
    "Save DOMAIN's state to FILE and stop it, as 'virsh save'. QEMU first\n"
    "asks the introspection tool to remove its hooks and waits until it\n"
    "closes its connection, at most the unhook timeout: on a terminal, the\n"
    "wait is shown. The file holds the domain's definition (the key secret's\n"
    "UUID and the key file's path, never the key).",
    vmiCmdSaveRun,
    VMI_DOMAIN_LOAD_ANY,
};

const vmiCliCommand vmiCmdRestore = {
    "restore", "FILE",
    "Restore a saved domain, checking the tool's re-hook",
    "Restore the domain saved in FILE, as 'virsh restore'. The hook prepares\n"
    "the key as for a start. Unless --paused, the introspection tool must\n"
    "then hook the guest again, within the reconnect interval and the\n"
    "handshake timeout: if it does not, the command says so and exits 3.",
    vmiCmdRestoreRun,
    VMI_DOMAIN_LOAD_ANY,
};

const vmiCliCommand vmiCmdSnapshotCreate = {
    "snapshot-create", "DOMAIN [NAME]",
    "Snapshot a domain, showing the unhook, checking the re-hook",
    "Create a snapshot of DOMAIN named NAME (default: libvirt's, the time),\n"
    "as 'virsh snapshot-create-as'. Internal by default: memory and disks in\n"
    "the domain's qcow2 disks. --external FILE: the memory to FILE and an\n"
    "overlay file beside every disk. On a running domain libvirt pauses the\n"
    "guest first (QEMU waits for the tool's unhook, which is shown) and\n"
    "resumes it after: the tool must then hook it again, or the command\n"
    "says so and exits 3.",
    vmiCmdSnapshotCreateRun,
    VMI_DOMAIN_LOAD_ANY,
};
