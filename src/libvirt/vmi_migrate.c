/*
 * vmi_migrate.c: migrating an introspected domain
 *
 * Before anything happens at the source, the destination is checked for
 * what the introspected guest needs there: its key secret (copied on
 * request), the hook, an emulator that can enforce the allow-lists, a
 * tool. The destination's files (hook, tool socket) can only be looked
 * at when its libvirtd runs on this host: its unix socket's peer gives
 * its pid, and /proc/PID/root its view of the file system (another mount
 * namespace, a container). A remote destination is asked only what its
 * libvirtd reports; the rest is said to be unknown, and its hook refuses
 * in libvirt's Prepare what it would refuse at a start.
 *
 * While the migration runs (in a thread: the calls block), its progress
 * is read from the source: QEMU's migration status (query-migrate) shows
 * the migration held in "setup" (or "wait-unplug") until the tool has
 * unhooked; libvirt's job statistics the transfer.
 */
#include <errno.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "libvirt/vmi_migrate.h"
#include "libvirt/vmi_secret.h"
#include "libvirt/vmi_status.h"
#include "core/vmi_paths.h"
#include "core/vmi_probe.h"
#include "core/vmi_qmp.h"
#include "core/vmi_sockdiag.h"
#include "conf/vmi_error.h"

VMI_ENUM_IMPL(vmiMigratePhase, VMI_MIGRATE_PHASE_LAST,
              "preflight",
              "prepare",
              "unhook",
              "transfer",
              "rehook");

#define VMI_LIBVIRT_SYSTEM_SOCKET "/run/libvirt/libvirt-sock"


void
vmiMigrationFree(vmiMigration *mig)
{
    if (!mig)
        return;
    vmiDefFree(mig->def);
    if (mig->watchDom)
        virDomainFree(mig->watchDom);
    if (mig->watchConn)
        virConnectClose(mig->watchConn);
    vmiConnClose(mig->dst);
    g_free(mig->dstURI);
    g_free(mig->dstRoot);
    g_free(mig);
}


/*
 * The unix socket of a libvirtd on this host that @uri names, or NULL
 * (a remote or session URI).
 */
static char *
vmiMigrateLocalSocket(const char *uri)
{
    g_autoptr(GUri) parsed = g_uri_parse(uri, G_URI_FLAGS_ENCODED_QUERY, NULL);
    g_autoptr(GHashTable) params = NULL;
    const char *scheme;
    const char *socket;

    if (!parsed || !(scheme = g_uri_get_scheme(parsed)))
        return NULL;
    if (!g_str_equal(scheme, "qemu") && !g_str_equal(scheme, "qemu+unix"))
        return NULL;
    if (g_uri_get_host(parsed) && *g_uri_get_host(parsed))
        return NULL;
    if (g_uri_get_query(parsed) &&
        (params = g_uri_parse_params(g_uri_get_query(parsed), -1, "&",
                                     G_URI_PARAMS_NONE, NULL)) &&
        (socket = g_hash_table_lookup(params, "socket")))
        return g_strdup(socket);
    if (g_str_equal(g_uri_get_path(parsed), "/system"))
        return g_strdup(VMI_LIBVIRT_SYSTEM_SOCKET);
    return NULL;
}


/*
 * Where the files of the libvirtd @uri names are seen from here: "" when
 * it shares this process's mount namespace, "/proc/PID/root" when it
 * runs on this host in another one, NULL when it is remote (or cannot be
 * told).
 */
char *
vmiMigrateLocalRoot(const char *uri)
{
    g_autofree char *path = vmiMigrateLocalSocket(uri);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct ucred cred;
    socklen_t len = sizeof(cred);
    g_autofree char *ns = NULL;
    struct stat theirs, ours;
    int fd;

    if (!path || strlen(path) >= sizeof(addr.sun_path))
        return NULL;
    memcpy(addr.sun_path, path, strlen(path));
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return NULL;
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0) {
        close(fd);
        return NULL;
    }
    close(fd);
    ns = g_strdup_printf("/proc/%d/ns/mnt", (int)cred.pid);
    if (stat(ns, &theirs) < 0 || stat("/proc/self/ns/mnt", &ours) < 0)
        return NULL;
    if (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev)
        return g_strdup("");
    return g_strdup_printf("/proc/%d/root", (int)cred.pid);
}


vmiMigration *
vmiMigrationNew(vmiConn *src, vmiDomain *dom, const char *dstURI, GError **error)
{
    g_autoptr(vmiMigration) mig = g_new0(vmiMigration, 1);
    g_autoptr(GError) err = NULL;

    mig->src = src;
    mig->dom = dom;
    mig->dstURI = g_strdup(dstURI);
    /* what the destination's QEMU and hook are given: the live definition */
    if (!vmiDomainGetLiveDef(dom, &mig->def, error))
        return NULL;
    if (!(mig->dst = vmiConnOpen(dstURI, &err))) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "pre-flight: cannot reach the destination: %s", err->message);
        return NULL;
    }
    mig->dstRoot = vmiMigrateLocalRoot(dstURI);
    /*
     * The progress is read on a connection of its own: on the one that
     * migrates, the queries wait behind the migration call
     */
    if (!src->embedRoot && (mig->watchConn = virConnectOpen(src->uri)) &&
        !(mig->watchDom = virDomainLookupByUUIDString(mig->watchConn, dom->uuid)))
        g_clear_pointer(&mig->watchConn, virConnectClose);
    virResetLastError();
    return g_steal_pointer(&mig);
}


static void
vmiMigrateCheckSecret(vmiMigration *mig, GPtrArray *checks, gboolean copyKey)
{
    const char *uuid = mig->def->keySecret;
    g_autofree char *what = g_strdup_printf("the key secret %s", uuid);
    g_autoptr(vmiKey) theirs = NULL;
    g_autoptr(vmiKey) ours = NULL;
    g_autoptr(GError) err = NULL;

    if (!(ours = vmiSecretGetKey(mig->src->secrets, uuid, &err))) {
        vmiCheckAdd(checks, what, VMI_CHECK_FAIL, "at the source: %s", err->message);
        return;
    }
    if ((theirs = vmiSecretGetKey(mig->dst->secrets, uuid, &err))) {
        if (theirs->len == ours->len && memcmp(theirs->data, ours->data, ours->len) == 0)
            vmiCheckAdd(checks, what, VMI_CHECK_PASS, "on the destination, with the same value");
        else
            vmiCheckAdd(checks, what, VMI_CHECK_FAIL,
                        "on the destination holds another value: the tool would refuse "
                        "the destination's QEMU (set the source's value there with "
                        "virsh secret-set-value, or undefine it there and use --copy-key)");
        return;
    }
    if (!g_error_matches(err, VMI_ERROR, VMI_ERROR_NOT_FOUND)) {
        vmiCheckAdd(checks, what, VMI_CHECK_FAIL, "on the destination: %s", err->message);
    } else if (copyKey) {
        mig->copyKey = TRUE;
        vmiCheckAdd(checks, what, VMI_CHECK_PASS,
                    "missing on the destination: --copy-key copies it (same UUID, "
                    "usage, private and ephemeral flags)");
    } else {
        vmiCheckAdd(checks, what, VMI_CHECK_FAIL,
                    "missing on the destination: --copy-key copies it, or define it "
                    "there with the same UUID and value (virsh secret-define, "
                    "secret-set-value)");
    }
}


static void
vmiMigrateCheckHook(vmiMigration *mig, GPtrArray *checks)
{
    const char *what = "for the libvirt hook on the destination";
    g_autofree char *path = NULL;
    gboolean needed = mig->def->keySecret || mig->def->commands || mig->def->events;

    if (mig->dst->embedRoot) {
        vmiCheckAdd(checks, what, VMI_CHECK_FAIL,
                    "the destination is an embedded driver, which runs no hooks");
        return;
    }
    if (!mig->dstRoot) {
        vmiCheckAdd(checks, what, VMI_CHECK_WARN,
                    "unknown: the destination is not on this host; without the hook "
                    "there, its QEMU finds no key file and libvirt's Prepare fails");
        return;
    }
    path = g_strconcat(mig->dstRoot, VMI_HOOK_PATH, NULL);
    if (g_file_test(path, G_FILE_TEST_IS_EXECUTABLE))
        vmiCheckAdd(checks, what, VMI_CHECK_PASS, "%s", VMI_HOOK_PATH);
    else
        vmiCheckAdd(checks, what, needed ? VMI_CHECK_FAIL : VMI_CHECK_WARN,
                    "%s is not installed there%s: run virt-vmi hook-install on the "
                    "destination", VMI_HOOK_PATH,
                    needed ? ", and the domain has a key or an allow-list" : "");
}


static void
vmiMigrateCheckEmulator(vmiMigration *mig, GPtrArray *checks)
{
    g_autofree char *emulator = vmiDomainXMLGetEmulator(mig->dom->xml);
    g_autofree char *what = NULL;
    g_autofree char *path = NULL;
    g_autofree char *label = NULL;
    g_autoptr(GError) err = NULL;
    vmiProbeResult result;
    struct stat ours, theirs;
    g_autofree char *caps = NULL;

    if (!emulator) {
        vmiCheckAdd(checks, "the emulator", VMI_CHECK_WARN,
                    "the domain names none: the destination's default is used");
        return;
    }
    what = g_strdup_printf("the emulator %s on the destination", emulator);
    if (!(caps = vmiLibvirtTakeString(virConnectGetDomainCapabilities(mig->dst->conn, emulator,
                                                                      NULL, NULL, NULL, 0)))) {
        vmiSetLibvirtError(&err, "its libvirtd cannot use it");
        vmiCheckAdd(checks, what, VMI_CHECK_FAIL, "%s", err->message);
        return;
    }
    if (!mig->dstRoot) {
        vmiCheckAdd(checks, what, VMI_CHECK_PASS,
                    "its libvirtd reports it (domain capabilities); whether its "
                    "introspection object enforces the allow-lists cannot be probed on "
                    "another host: the destination's hook checks it in Prepare");
        return;
    }
    /*
     * The probe runs the emulator as QEMU's user, who cannot reach
     * /proc/PID/root: when the destination's emulator is the very file
     * this process sees at that path (another libvirtd on this host), it
     * runs that one.
     */
    path = g_strconcat(mig->dstRoot, emulator, NULL);
    if (stat(path, &theirs) < 0) {
        vmiCheckAdd(checks, what, VMI_CHECK_FAIL, "%s is missing there", emulator);
        return;
    }
    if (stat(emulator, &ours) < 0 || ours.st_ino != theirs.st_ino ||
        ours.st_dev != theirs.st_dev) {
        vmiCheckAdd(checks, what, VMI_CHECK_WARN,
                    "its libvirtd reports it, but it is not the file this process sees "
                    "at that path, and it cannot be probed from here: the destination's "
                    "hook checks it in Prepare");
        return;
    }
    /* run as the destination runs QEMU */
    if (!(label = vmiConnGetDACBaseLabel(mig->dst, "kvm", NULL)))
        label = vmiConnGetDACBaseLabel(mig->dst, "qemu", NULL);
    if (!vmiProbeEmulator(emulator, label, NULL, &result, &err) ||
        !vmiProbeCheckDef(emulator, result, mig->def, &err))
        vmiCheckAdd(checks, what, VMI_CHECK_FAIL, "%s", err->message);
    else
        vmiCheckAdd(checks, what, VMI_CHECK_PASS, "%s", vmiProbeResultDescribe(result));
}


static void
vmiMigrateCheckTool(vmiMigration *mig, GPtrArray *checks)
{
    const char *what = "for a tool on the destination";
    g_autofree char *path = NULL;
    g_autoptr(GError) err = NULL;
    gboolean listening;

    if (mig->def->source.type != VMI_SOURCE_UNIX) {
        vmiCheckAdd(checks, what, VMI_CHECK_WARN,
                    "unknown: a vsock listener cannot be seen from here; the re-hook "
                    "is verified after the migration");
        return;
    }
    if (!mig->dstRoot) {
        vmiCheckAdd(checks, what, VMI_CHECK_WARN,
                    "unknown: the destination is not on this host; the re-hook is "
                    "verified after the migration");
        return;
    }
    path = g_strconcat(mig->dstRoot, mig->def->source.path, NULL);
    if (!vmiUnixFileListening(path, &listening, &err))
        vmiCheckAdd(checks, what, VMI_CHECK_WARN, "unknown: %s", err->message);
    else if (listening)
        vmiCheckAdd(checks, what, VMI_CHECK_PASS, "a tool listens at %s",
                    mig->def->source.path);
    else if (mig->def->required)
        /* not FAIL: a tool may start before libvirt's Prepare */
        vmiCheckAdd(checks, what, VMI_CHECK_WARN,
                    "nothing listens at %s there, and the domain requires introspection "
                    "(required='yes'): unless a tool listens there by the time the "
                    "destination's QEMU starts, its hook fails the migration after the "
                    "handshake timeout (%u s), and the source runs on",
                    mig->def->source.path, vmiDefHandshakeTimeout(mig->def));
    else
        vmiCheckAdd(checks, what, VMI_CHECK_WARN,
                    "nothing listens at %s there: the guest will run unmonitored on the "
                    "destination until a tool does", mig->def->source.path);
}


/*
 * The checks, in order; any FAIL means the migration must not start.
 * Nothing is changed: a key secret to copy is only noted (@copyKey).
 */
GPtrArray *
vmiMigratePreflight(vmiMigration *mig, gboolean copyKey)
{
    GPtrArray *checks = g_ptr_array_new_with_free_func((GDestroyNotify)vmiCheckFree);

    vmiCheckAdd(checks, "for the destination's libvirt", VMI_CHECK_PASS, "%s%s",
                mig->dst->uri, mig->dstRoot ? " (on this host)" : "");
    if (!mig->def) {
        vmiCheckAdd(checks, "for introspection", VMI_CHECK_PASS,
                    "the domain has none: nothing more to check");
        return checks;
    }
    if (mig->def->keySecret)
        vmiMigrateCheckSecret(mig, checks, copyKey);
    vmiMigrateCheckHook(mig, checks);
    vmiMigrateCheckEmulator(mig, checks);
    vmiMigrateCheckTool(mig, checks);
    return checks;
}


gboolean
vmiMigrateCopyKey(vmiMigration *mig, GError **error)
{
    return vmiSecretCopy(mig->src->secrets, mig->dst->secrets, mig->def->keySecret, error);
}


gboolean
vmiMigratePerform(vmiMigration *mig, unsigned int flags, GError **error)
{
    unsigned int virFlags = 0;

    if (flags & VMI_MIGRATE_LIVE)
        virFlags |= VIR_MIGRATE_LIVE;
    if (flags & VMI_MIGRATE_P2P)
        virFlags |= VIR_MIGRATE_PEER2PEER;
    if (flags & VMI_MIGRATE_PERSISTENT)
        virFlags |= VIR_MIGRATE_PERSIST_DEST;
    if (flags & VMI_MIGRATE_UNDEFINE_SOURCE)
        virFlags |= VIR_MIGRATE_UNDEFINE_SOURCE;

    if (flags & VMI_MIGRATE_P2P) {
        if (virDomainMigrateToURI3(mig->dom->dom, mig->dstURI, NULL, 0, virFlags) < 0) {
            vmiSetLibvirtError(error, "cannot migrate domain '%s' to %s", mig->dom->name,
                               mig->dstURI);
            return FALSE;
        }
    } else {
        virDomainPtr migrated = virDomainMigrate3(mig->dom->dom, mig->dst->conn, NULL, 0,
                                                  virFlags);

        if (!migrated) {
            vmiSetLibvirtError(error, "cannot migrate domain '%s' to %s", mig->dom->name,
                               mig->dstURI);
            return FALSE;
        }
        virDomainFree(migrated);
    }
    return TRUE;
}


static virDomainPtr
vmiMigrateWatchDom(vmiMigration *mig)
{
    return mig->watchDom ? mig->watchDom : mig->dom->dom;
}


/* QEMU's migration status (query-migrate), or NULL. */
static char *
vmiMigrateQemuStatus(vmiMigration *mig)
{
    g_autofree char *reply = vmiDomainQemuMonitor(vmiMigrateWatchDom(mig),
                                                  "{\"execute\":\"query-migrate\"}", NULL);

    virResetLastError();
    return reply ? vmiQmpParseMigrationStatus(reply, NULL) : NULL;
}


/*
 * Where the migration stands, read from the source: called from another
 * thread than the one in vmiMigratePerform (libvirt's connections are
 * thread safe, and the job allows queries).
 */
void
vmiMigrateGetProgress(vmiMigration *mig, vmiMigrateProgress *progress)
{
    virTypedParameterPtr params = NULL;
    unsigned long long total = 0, processed = 0, remaining = 0, bps = 0;
    g_autofree char *status = NULL;
    int type = VIR_DOMAIN_JOB_NONE;
    int n = 0;

    if (virDomainGetJobStats(vmiMigrateWatchDom(mig), &type, &params, &n, 0) < 0) {
        virResetLastError();
        return;
    }
    virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_TOTAL, &total);
    virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_PROCESSED, &processed);
    virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_REMAINING, &remaining);
    virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_MEMORY_BPS, &bps);
    virTypedParamsFree(params, n);
    if (type == VIR_DOMAIN_JOB_NONE)
        return;

    if (total > 0) {
        progress->phase = VMI_MIGRATE_PHASE_TRANSFER;
        progress->total = total;
        progress->processed = processed;
        progress->percent = 100.0 * (total - MIN(remaining, total)) / total;
        progress->rate = bps;
        return;
    }
    status = vmiMigrateQemuStatus(mig);
    if (status && (g_str_equal(status, "setup") || g_str_equal(status, "wait-unplug")))
        progress->phase = VMI_MIGRATE_PHASE_UNHOOK;
    else if (status && (g_str_equal(status, "active") || g_str_equal(status, "device") ||
                        g_str_equal(status, "pre-switchover")))
        progress->phase = VMI_MIGRATE_PHASE_TRANSFER;
}


/* Cancels the migration: the source runs on. */
gboolean
vmiMigrateAbort(vmiMigration *mig, GError **error)
{
    if (virDomainAbortJob(vmiMigrateWatchDom(mig)) < 0) {
        vmiSetLibvirtError(error, "cannot cancel the migration of domain '%s'", mig->dom->name);
        return FALSE;
    }
    return TRUE;
}


/*
 * After a migration that failed or was cancelled once QEMU had asked the
 * tool to unhook: QEMU keeps the tool's reconnects disabled, as after a
 * held pause, until a `cont`. The source never paused (a live migration)
 * or libvirt resumed it, so libvirt has nothing to resume: the `cont` goes
 * to QEMU's monitor (on a running guest it only re-enables the
 * reconnects; QEMU emits STOP and RESUME, libvirt's state stays running).
 */
gboolean
vmiMigrateResumeSource(vmiMigration *mig, GError **error)
{
    int state = VIR_DOMAIN_NOSTATE;
    g_autofree char *reply = NULL;

    if (virDomainGetState(mig->dom->dom, &state, NULL, 0) < 0) {
        vmiSetLibvirtError(error, "cannot get the state of domain '%s'", mig->dom->name);
        return FALSE;
    }
    if (state != VIR_DOMAIN_RUNNING) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "domain '%s' does not run at the source (state %d)", mig->dom->name, state);
        return FALSE;
    }
    if (!(reply = vmiDomainQemuMonitor(mig->dom->dom, "{\"execute\":\"cont\"}", error))) {
        g_prefix_error(error, "cannot let the tool reconnect (QMP cont): ");
        return FALSE;
    }
    return TRUE;
}


/*
 * How long a tool may take to hook a QEMU: QEMU retries its connection
 * every reconnect seconds, then gives the tool the handshake timeout;
 * one second more for the settling.
 */
double
vmiMigrateRehookLimit(const vmiDef *def)
{
    guint handshake = def->handshakeTimeout ? def->handshakeTimeout :
                      vmiAttrs[VMI_ATTR_TIMEOUTS_HANDSHAKE].defaultValue;

    return vmiDefReconnect(def) + handshake + 1;
}


/* Waits, at most @limit seconds, until the tool has hooked domain @uuid at
 * @conn (@where: "on the destination"), as after a restore. */
gboolean
vmiMigrateWaitHooked(vmiConn *conn, const char *uuid, const vmiDef *def, double limit,
                     const char *where, GError **error)
{
    g_autoptr(vmiDomain) dom = vmiDomainLoad(conn, uuid, VMI_DOMAIN_LOAD_ANY, error);

    if (!dom) {
        g_prefix_error(error, "%s: ", where);
        return FALSE;
    }
    return vmiStatusWaitHooked(dom, def, limit, where, error);
}
