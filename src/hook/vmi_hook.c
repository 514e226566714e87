/*
 * vmi_hook.c: the libvirt hook's work (libvirt-vmi-hook.c has its main
 * and what it does)
 */
#include <gio/gio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmi_config.h"
#include "hook/vmi_hook.h"
#include "core/qemu_vmi.h"
#include "core/vmi_apparmor.h"
#include "core/vmi_keyfile.h"
#include "core/vmi_lifecycle.h"
#include "core/vmi_paths.h"
#include "core/vmi_qemu_log.h"
#include "core/vmi_required.h"
#include "core/vmi_sync.h"
#include "core/vmi_vmid.h"
#include "core/vmi_settings.h"
#include "conf/vmi_error.h"

#define VMI_HOOK_TIMEOUT_SECONDS 60

typedef enum {
    VMI_HOOK_PREPARE,
    VMI_HOOK_CHECK,
    VMI_HOOK_HAND_OVER,
    VMI_HOOK_CLEAN_UP,
    VMI_HOOK_STARTED,       /* clean up, then the required wait */
} vmiHookAction;

static const struct {
    const char *op;
    const char *subop;
    vmiHookAction action;
} vmiHookActions[] = {
    { "prepare", "begin", VMI_HOOK_PREPARE },
    { "migrate", "begin", VMI_HOOK_CHECK },
    { "restore", "begin", VMI_HOOK_CHECK },
    { "start", "begin", VMI_HOOK_HAND_OVER },
    { "started", "begin", VMI_HOOK_STARTED },
    { "stopped", "end", VMI_HOOK_CLEAN_UP },
    { "release", "end", VMI_HOOK_CLEAN_UP },
};

/* the daemon answers at once, or is not worth waiting for: the helper is */
#define VMI_HOOK_DAEMON_TIMEOUT_SECONDS 5

typedef struct {
    char *helper;       /* libvirt-vmi-hook-key */
    char *uri;          /* the daemon to read secrets from */
} vmiHookKeySource;


static void
vmiHookTimeout(int sig)
{
    static const char msg[] = "libvirt-vmi: the hook timed out\n";

    if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
        /* nothing more to do */
    }
    _exit(1);
}


static int
vmiHookFail(const char *domain, GError *error)
{
    g_autofree char *quoted = vmiErrorQuote(domain);

    g_printerr("libvirt-vmi: domain '%s': %s\n", quoted, error->message);
    g_error_free(error);
    return 1;
}


/*
 * The key from virt-vmid, which has libvirt loaded already (see
 * virt-vmid(8)); NULL, for the helper to be asked, when it cannot give it.
 */
static vmiKey *
vmiHookKeyFromDaemon(const char *uri, const char *secretUUID)
{
    return vmiVmidFetchKey(VMI_VMID_SOCKET, uri, secretUUID, VMI_HOOK_DAEMON_TIMEOUT_SECONDS,
                           NULL);
}


/* The key: from the daemon, else on the helper's standard output (its
 * errors on its stderr). */
static vmiKey *
vmiHookFetchKey(gpointer opaque, const char *secretUUID, GError **error)
{
    vmiHookKeySource *src = opaque;
    const char *argv[] = { src->helper, src->uri, secretUUID, NULL };
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(vmiKey) key = NULL;
    g_autofree char *err = NULL;
    GInputStream *out;

    if ((key = vmiHookKeyFromDaemon(src->uri, secretUUID)))
        return g_steal_pointer(&key);
    if (!(proc = g_subprocess_newv(argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                   G_SUBPROCESS_FLAGS_STDERR_PIPE, error)))
        return NULL;
    out = g_subprocess_get_stdout_pipe(proc);
    key = vmiKeyReadStream(out, "the key from " VMI_HOOK_KEY_HELPER, NULL);
    g_subprocess_communicate_utf8(proc, NULL, NULL, NULL, &err, NULL);
    if (!g_subprocess_get_successful(proc)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "%s",
                    err && *err ? g_strchomp(err) : "cannot read the key secret");
        return NULL;
    }
    if (!key) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "%s gave no key for secret '%s'", VMI_HOOK_KEY_HELPER, secretUUID);
        return NULL;
    }
    return g_steal_pointer(&key);
}


/*
 * A required='yes' domain at `started begin`: after a restore or on an
 * incoming migration's destination libvirt resumes the vCPUs only once
 * this hook is done, and a failing hook aborts the operation (QEMU is
 * killed, `stopped`/`release` follow). QEMU connects to the tool as soon
 * as it runs, paused or not, and says "VMI: machine hooked" in the domain
 * log. A plain start resumed the vCPUs before this hook: nothing to hold.
 */
static gboolean
vmiHookWaitRequired(const vmiHookEnv *env, const char *domain, const vmiDef *def,
                    GError **error)
{
    g_autofree char *log = g_strdup_printf("%s/%s.log", env->qemuLogDir, domain);
    vmiQemuLogRun run = { 0 };
    gboolean incoming;
    double waited;

    if (!vmiQemuLogRead(log, &run, error)) {
        g_prefix_error(error, "introspection is required, and ");
        return FALSE;
    }
    incoming = run.incoming;
    vmiQemuLogRunClear(&run);
    if (!incoming)
        return TRUE;
    /* the hook's own bound comes after the wait's */
    alarm(vmiDefHandshakeTimeout(def) + VMI_HOOK_TIMEOUT_SECONDS);
    if (!vmiRequiredWaitHooked(log, def, &waited, error))
        return FALSE;
    g_debug("domain '%s': the introspection tool hooked %.3f s into the hook's wait: "
            "the vCPUs may run", domain, waited);
    return TRUE;
}


/*
 * A management layer (Nova, VDSM) defines the domain with the element
 * only and starts it at once, before virt-vmid has added the arguments;
 * libvirt ignores what this hook could print, and locks the domain, so
 * the define waits for the start. virt-vmid, told here, attaches the
 * element live once QEMU runs (its STARTED handling). FALSE, with @error
 * saying why, when it cannot: the start is refused as out of step.
 */
static gboolean
vmiHookDaemonAttaches(const vmiHookEnv *env, const vmiLifecycle *lc, const char *uri,
                      vmiDomainXML *dom, const vmiDef *def, GError **error)
{
    g_autoptr(GSocketConnection) conn = NULL;
    g_autoptr(GDataInputStream) in = NULL;
    g_autofree char *request = NULL;
    g_autofree char *line = NULL;

    if (!dom->uuid || !g_uuid_string_is_valid(dom->uuid)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG, "the domain XML has no valid <uuid>");
        return FALSE;
    }
    /* what the daemon could not attach is refused now, not left to run */
    if (!vmiLifecycleCheckAttachable(lc, dom, def, error)) {
        g_prefix_error(error, "it cannot be attached live: ");
        return FALSE;
    }
    if (!env->vmidSocket) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_NOT_FOUND, "no daemon to ask");
        return FALSE;
    }
    request = g_strdup_printf("%s %s %s", VMI_VMID_ATTACH_AT_START, dom->uuid, uri);
    if (!(line = vmiVmidRequest(env->vmidSocket, request, VMI_HOOK_DAEMON_TIMEOUT_SECONDS,
                                &conn, &in, error)))
        return FALSE;
    if (g_str_equal(line, "ok"))
        return TRUE;
    g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "virt-vmid: %s",
                g_str_has_prefix(line, "error ") ? line + strlen("error ") : line);
    return FALSE;
}


/*
 * A migration's destination or a restore of a domain whose running
 * definition has the element and none of our arguments (virt-vmid attached
 * introspection live when it started): the arguments are added to the
 * definition libvirt starts the new QEMU from, which `migrate begin` and
 * `restore begin` may hand back on standard output. Stale arguments are
 * not touched: the check refuses them, as for any start.
 */
static gboolean
vmiHookCompleteFresh(const vmiLifecycle *lc, vmiDomainXML *dom, const vmiDef *def,
                     char **xml, GError **error)
{
    g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);

    if (!def || vmiSyncHasArgs(dom))
        return TRUE;
    if (!vmiSyncDomain(dom, def, lc->keyDir, changes, error))
        return FALSE;
    *xml = vmiXMLNodeToString(xmlDocGetRootElement(dom->doc));
    return TRUE;
}


/* The refusal of a fresh definition says why the daemon could not help. */
static void
vmiHookAppendDaemonError(GError *err, const GError *daemonErr)
{
    char *message = g_strdup_printf("%s; virt-vmid, which attaches introspection live to a "
                                    "domain defined and started at once, could not: %s",
                                    err->message, daemonErr->message);

    g_free(err->message);
    err->message = message;
}


static int
vmiHookRun(const vmiHookEnv *env, const char *argv0, const char *domain,
           vmiHookAction action)
{
    g_autoptr(vmiSettings) settings = NULL;
    g_autoptr(vmiDomainXML) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    g_autofree char *label = NULL;
    vmiHookKeySource src = { NULL, NULL };
    vmiLifecycle lc = { vmiHookFetchKey, &src, env->keyDir, env->cacheDir };
    GError *err = NULL;
    g_autoptr(GError) daemonErr = NULL;
    g_autofree char *completed = NULL;
    int rc = 0;

    if (env->fetchKey) {
        lc.fetchKey = env->fetchKey;
        lc.opaque = env->fetchOpaque;
    }
    lc.probe = env->probe;
    if (!(dom = vmiDomainXMLReadFile(env->xmlPath, "the domain XML", &err)))
        return vmiHookFail(domain, err);

    if (action == VMI_HOOK_CLEAN_UP || action == VMI_HOOK_STARTED) {
        /* whether or not the element is still there */
        if (dom->uuid && g_uuid_string_is_valid(dom->uuid) &&
            !vmiLifecycleCleanUp(&lc, dom->uuid, &err))
            return vmiHookFail(domain, err);
        if (action == VMI_HOOK_CLEAN_UP || !dom->vmi)
            return 0;
    }

    if (dom->vmi && !(def = vmiDomainXMLGetDef(dom, &err))) {
        g_prefix_error(&err, "its <vmi:introspection> is invalid: ");
        return vmiHookFail(domain, err);
    }

    if (action == VMI_HOOK_STARTED) {
        if (def->required && !vmiHookWaitRequired(env, domain, def, &err))
            return vmiHookFail(domain, err);
        return 0;
    }

    if (action == VMI_HOOK_HAND_OVER) {
        if (def && !vmiKeyFileCheckUUID(dom->uuid, &err))
            return vmiHookFail(domain, err);
        /* started without our arguments (prepare begin): no key file this run */
        if (def && !vmiSyncHasArgs(dom))
            return 0;
        label = vmiDomainXMLGetDACLabel(dom);
        if (!vmiLifecycleHandOver(&lc, dom, def, label, &err))
            return vmiHookFail(domain, err);
        return 0;
    }

    /* the DAC label libvirt will give QEMU: the domain's own, else qemu.conf's */
    if (def && !(label = vmiDomainXMLGetDACLabel(dom)) &&
        !(label = vmiSettingsQemuDACLabel(env->qemuConf, &err)))
        return vmiHookFail(domain, err);
    lc.qemuLabel = label;

    /* a fresh definition (no argument of ours yet) of a plain start: for a
     * restore or an incoming migration, `restore begin` or `migrate begin`
     * added the arguments before this (vmiHookCompleteFresh) */
    if (def && action == VMI_HOOK_PREPARE && !vmiSyncHasArgs(dom)) {
        if (!(settings = vmiSettingsLoad(env->settingsFile, &err)))
            return vmiHookFail(domain, err);
        if (vmiHookDaemonAttaches(env, &lc, settings->hookURI, dom, def, &daemonErr)) {
            g_autofree char *quoted = vmiErrorQuote(domain);

            /* the rules QEMU's profile needs for the attach, as at a start */
            if (!vmiAppArmorAddSource(env->apparmorDir, lc.keyDir, def, &err))
                return vmiHookFail(domain, err);
            g_printerr("libvirt-vmi: domain '%s': started without introspection arguments "
                       "(defined with <vmi:introspection> only, and started at once): "
                       "virt-vmid attaches introspection live once QEMU runs\n", quoted);
            return 0;
        }
    }

    /* where the key comes from: only `prepare begin` reads it */
    if (def && def->keySecret && action == VMI_HOOK_PREPARE) {
        if (!settings && !(settings = vmiSettingsLoad(env->settingsFile, &err)))
            return vmiHookFail(domain, err);
        src.uri = settings->hookURI;
        /* argv[0] names this program even under a wrapper such as
         * valgrind; through the qemu.d link it resolves to where it is */
        src.helper = vmiFindSibling(argv0, VMI_HOOK_KEY_HELPER);
    }
    if (action == VMI_HOOK_CHECK && !vmiHookCompleteFresh(&lc, dom, def, &completed, &err))
        return vmiHookFail(domain, err);
    if (!(action == VMI_HOOK_PREPARE ? vmiLifecyclePrepare(&lc, dom, def, &err) :
                                       vmiLifecycleCheck(&lc, dom, def, &err)) ||
        !vmiAppArmorAddSource(env->apparmorDir, lc.keyDir, def, &err)) {
        if (daemonErr)
            vmiHookAppendDaemonError(err, daemonErr);
        rc = vmiHookFail(domain, err);
    } else if (completed) {
        g_print("%s\n", completed);
    }
    g_free(src.helper);
    return rc;
}


/*
 * The whole hook but its setting: what main() runs with the host's paths,
 * and what the fuzzing harness (tests/fuzz) runs with its own.
 */
int
vmiHookMain(const vmiHookEnv *env, int argc, char **argv)
{
    size_t i;

    if (argc == 2 && (g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h"))) {
        g_print("Usage: %s DOMAIN OPERATION SUB-OPERATION EXTRA < DOMAIN-XML\n"
                "libvirt's qemu hook for libvirt-vmi; see man libvirt-vmi-hook.\n", argv[0]);
        return 0;
    }
    if (argc == 2 && g_str_equal(argv[1], "--version")) {
        g_print("libvirt-vmi-hook %s\n", VMI_VERSION);
        return 0;
    }
    if (argc < 4) {
        g_printerr("usage: %s DOMAIN OPERATION SUB-OPERATION EXTRA < DOMAIN-XML\n", argv[0]);
        return 2;
    }

    if (env->guard) {
        signal(SIGALRM, vmiHookTimeout);
        alarm(VMI_HOOK_TIMEOUT_SECONDS);
        /* it may hold a key: no core dump, no ptrace by QEMU's user */
        prctl(PR_SET_DUMPABLE, 0);
    }

    for (i = 0; i < G_N_ELEMENTS(vmiHookActions); i++) {
        if (g_str_equal(argv[2], vmiHookActions[i].op) &&
            g_str_equal(argv[3], vmiHookActions[i].subop))
            return vmiHookRun(env, argv[0], argv[1], vmiHookActions[i].action);
    }
    /* other operations: nothing to do, and libvirt's XML is not read */
    return 0;
}
