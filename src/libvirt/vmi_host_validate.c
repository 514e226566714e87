/*
 * vmi_host_validate.c: the checks of `virt-vmi host-validate`, in the
 * spirit of virt-host-validate: each a PASS, WARN or FAIL with a reason
 */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libvirt/vmi_host_validate.h"
#include "libvirt/vmi_domain.h"
#include "libvirt/vmi_libvirt.h"
#include "core/vmi_apparmor.h"
#include "core/vmi_keyfile.h"
#include "core/vmi_probe.h"
#include "core/vmi_paths.h"
#include "core/vmi_settings.h"

VMI_ENUM_IMPL(vmiCheckResult, VMI_CHECK_LAST,
              "PASS",
              "WARN",
              "FAIL");

#define VMI_KVMI_PARAM "/sys/module/kvm/parameters/introspection"


void
vmiCheckFree(vmiCheck *check)
{
    g_free(check->what);
    g_free(check->detail);
    g_free(check);
}


void
vmiCheckAdd(GPtrArray *checks, const char *what, vmiCheckResult result,
            const char *fmt, ...)
{
    vmiCheck *check = g_new0(vmiCheck, 1);
    va_list ap;

    check->what = g_strdup(what);
    check->result = result;
    va_start(ap, fmt);
    check->detail = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_ptr_array_add(checks, check);
}


/*
 * KVM_CHECK_EXTENSION cannot tell: the KVMI forks' capability numbers
 * (180, 999, 206) were never allocated upstream and mean other things on
 * current kernels. A KVMI kernel has the kvm module parameter.
 */
static void
vmiCheckKernel(GPtrArray *checks)
{
    const char *what = "for a KVMI kernel (kvm.introspection)";
    g_autofree char *value = NULL;

    if (!g_file_get_contents(VMI_KVMI_PARAM, &value, NULL, NULL)) {
        vmiCheckAdd(checks, what, VMI_CHECK_FAIL,
                    "%s is missing: this kernel has no KVM introspection (KVMI); "
                    "boot a KVMI kernel with kvm.introspection=on", VMI_KVMI_PARAM);
        return;
    }
    g_strstrip(value);
    if (g_str_equal(value, "Y") || g_str_equal(value, "1") || g_str_equal(value, "on"))
        vmiCheckAdd(checks, what, VMI_CHECK_PASS, "enabled");
    else
        vmiCheckAdd(checks, what, VMI_CHECK_FAIL,
                    "KVMI is built in but off (%s): boot with kvm.introspection=on", value);
}


static void
vmiCheckHook(GPtrArray *checks, vmiConn *conn)
{
    const char *what = "for the libvirt hook";
    g_autoptr(vmiSettings) settings = NULL;
    g_autoptr(GError) err = NULL;

    if (conn && conn->embedRoot) {
        vmiCheckAdd(checks, what, VMI_CHECK_PASS,
                    "not needed: the embedded driver runs no hooks, virt-vmi start does their work");
        return;
    }
    if (!g_file_test(VMI_HOOK_PATH, G_FILE_TEST_IS_EXECUTABLE)) {
        vmiCheckAdd(checks, what, VMI_CHECK_FAIL,
                    "%s is not installed: domains with a key or an allow-list are not "
                    "prepared (virt-vmi hook-install)", VMI_HOOK_PATH);
        return;
    }
    if (!(settings = vmiSettingsLoad(VMI_SETTINGS_FILE, &err))) {
        vmiCheckAdd(checks, what, VMI_CHECK_FAIL, "%s", err->message);
        return;
    }
    if (conn && !g_str_equal(settings->hookURI, conn->uri) &&
        !(g_str_equal(settings->hookURI, VMI_DEFAULT_URI) && g_str_equal(conn->uri, VMI_DEFAULT_URI)))
        vmiCheckAdd(checks, what, VMI_CHECK_WARN,
                    "%s is installed, but reads key secrets through %s, not %s (%s)",
                    VMI_HOOK_PATH, settings->hookURI, conn->uri, VMI_SETTINGS_FILE);
    else
        vmiCheckAdd(checks, what, VMI_CHECK_PASS, "%s", VMI_HOOK_PATH);
}


static void
vmiCheckRuntimeDir(GPtrArray *checks, const char *keyDir)
{
    g_autofree char *what = g_strdup_printf("the key directory %s", keyDir);
    GStatBuf st;

    if (g_lstat(keyDir, &st) < 0) {
        vmiCheckAdd(checks, what, VMI_CHECK_PASS, "absent: made at the first start");
    } else if (!S_ISDIR(st.st_mode)) {
        vmiCheckAdd(checks, what, VMI_CHECK_FAIL, "not a directory");
    } else if (!vmiKeyDirIsSafe(st.st_uid, st.st_mode)) {
        vmiCheckAdd(checks, what, VMI_CHECK_FAIL,
                    "owner uid %u, mode %04o: it must be uid %u's and not writable by "
                    "group or others (chown root; chmod 0711)",
                    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), (unsigned)geteuid());
    } else {
        vmiCheckAdd(checks, what, VMI_CHECK_PASS, "owner uid %u, mode %04o",
                    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    }
}


/* @qemuLabel: QEMU's user:group, the emulator runs as (NULL: as this process) */
static void
vmiCheckEmulator(GPtrArray *checks, const char *emulator, const char *qemuLabel)
{
    g_autofree char *whatObject = g_strdup_printf("emulator %s for the introspection object",
                                                  emulator);
    g_autofree char *whatLists = g_strdup_printf("emulator %s enforces allow-lists", emulator);
    g_autoptr(GError) err = NULL;
    vmiProbeResult result;
    gboolean has = FALSE;

    if (!vmiProbeHasObject(emulator, qemuLabel, &has, &err)) {
        vmiCheckAdd(checks, whatObject, VMI_CHECK_FAIL, "%s", err->message);
        return;
    }
    if (!has) {
        vmiCheckAdd(checks, whatObject, VMI_CHECK_FAIL,
                    "'-object help' does not list it: not a KVMI QEMU");
        return;
    }
    vmiCheckAdd(checks, whatObject, VMI_CHECK_PASS, "listed by '-object help'");

    if (!vmiProbeEmulator(emulator, qemuLabel, NULL, &result, &err))
        vmiCheckAdd(checks, whatLists, VMI_CHECK_FAIL, "%s", err->message);
    else if (result == VMI_PROBE_ENFORCED)
        vmiCheckAdd(checks, whatLists, VMI_CHECK_PASS, "%s", vmiProbeResultDescribe(result));
    else
        vmiCheckAdd(checks, whatLists, VMI_CHECK_WARN,
                    "it %s; domains whose <vmi:allow> has more than one command or event "
                    "will not start on it", vmiProbeResultDescribe(result));
}


/* The emulators of the domains that have introspection configured. */
static void
vmiCollectDomainEmulators(vmiConn *conn, GPtrArray *emulators)
{
    g_auto(GStrv) uuids = vmiConnListPersistentDomains(conn, NULL);
    char **uuid;

    for (uuid = uuids; uuid && *uuid; uuid++) {
        g_autoptr(vmiDomain) dom = NULL;
        g_autofree char *emulator = NULL;

        if ((dom = vmiDomainLoad(conn, *uuid, 0, NULL)) && dom->xml->vmi &&
            (emulator = vmiDomainXMLGetEmulator(dom->xml)) &&
            !g_ptr_array_find_with_equal_func(emulators, emulator, g_str_equal, NULL))
            g_ptr_array_add(emulators, g_steal_pointer(&emulator));
    }
}


/*
 * The AppArmor rules for the key files under @keyDir and the sockets of
 * every persistent domain with a valid element: the one text
 * hook-install writes and host-validate expects. Without @conn, the key
 * file's rule alone.
 */
char *
vmiHostAppArmorRules(vmiConn *conn, const char *keyDir, GError **error)
{
    g_autoptr(GPtrArray) defs = g_ptr_array_new_with_free_func((GDestroyNotify)vmiDefFree);
    g_auto(GStrv) uuids = conn ? vmiConnListPersistentDomains(conn, NULL) : NULL;
    char **uuid;

    for (uuid = uuids; uuid && *uuid; uuid++) {
        g_autoptr(vmiDomain) dom = NULL;
        vmiDef *def;

        if ((dom = vmiDomainLoad(conn, *uuid, 0, NULL)) && dom->xml->vmi &&
            (def = vmiDefParseNode(dom->xml->vmi, NULL)))
            g_ptr_array_add(defs, def);
    }
    return vmiAppArmorRules(keyDir, defs, error);
}


static void
vmiCheckAppArmor(GPtrArray *checks, vmiConn *conn, const char *keyDir)
{
    const char *what = "for AppArmor rules (key file, tool sockets)";
    gboolean enabled = vmiAppArmorKernelEnabled();
    g_autofree char *rules = NULL;
    g_autoptr(GError) err = NULL;

    if (conn && conn->embedRoot) {
        vmiCheckAdd(checks, what, VMI_CHECK_PASS,
                    "not checked for the embedded driver: hook-install writes rules for the system daemon");
        return;
    }
    if (!(rules = vmiHostAppArmorRules(conn, keyDir, &err))) {
        vmiCheckAdd(checks, what, VMI_CHECK_FAIL, "%s", err->message);
        return;
    }
    switch (vmiAppArmorGetState(VMI_APPARMOR_DIR, rules)) {
    case VMI_APPARMOR_NO_LIBVIRT:
        vmiCheckAdd(checks, what, enabled ? VMI_CHECK_WARN : VMI_CHECK_PASS,
                    "%s/%s is absent: libvirt's AppArmor profiles are not installed%s",
                    VMI_APPARMOR_DIR, VMI_APPARMOR_LIBVIRT_QEMU,
                    enabled ? ", though this kernel has AppArmor: if libvirt confines "
                    "QEMU with other profiles, allow it the paths of docs/security.rst" : "");
        return;
    case VMI_APPARMOR_MISSING:
        vmiCheckAdd(checks, what, enabled ? VMI_CHECK_FAIL : VMI_CHECK_WARN,
                    "%s/%s or its include in %s/%s is missing: a confined QEMU cannot "
                    "read its key file or reach its tool's socket (virt-vmi hook-install)%s",
                    VMI_APPARMOR_DIR, VMI_APPARMOR_RULES, VMI_APPARMOR_DIR, VMI_APPARMOR_LOCAL,
                    enabled ? "" : "; AppArmor is not enabled in this kernel");
        return;
    case VMI_APPARMOR_STALE:
        vmiCheckAdd(checks, what, enabled ? VMI_CHECK_FAIL : VMI_CHECK_WARN,
                    "%s/%s lacks rules the domains need now (a key directory or "
                    "a tool socket changed): run virt-vmi hook-install again%s",
                    VMI_APPARMOR_DIR, VMI_APPARMOR_RULES,
                    enabled ? "" : "; AppArmor is not enabled in this kernel");
        return;
    case VMI_APPARMOR_IN_PLACE:
        vmiCheckAdd(checks, what, VMI_CHECK_PASS, "%s/%s, included by %s/%s%s",
                    VMI_APPARMOR_DIR, VMI_APPARMOR_RULES, VMI_APPARMOR_DIR, VMI_APPARMOR_LOCAL,
                    enabled ? "" : " (AppArmor is not enabled in this kernel)");
        return;
    }
}


/*
 * libvirt labels QEMU and its files with the domain's MCS category; the
 * hook gives the key file the domain's <imagelabel> at `start`. The
 * tool's socket is the operator's to label (docs/security.rst).
 */
static void
vmiCheckSELinux(GPtrArray *checks)
{
    const char *what = "for SELinux";
    g_autofree char *value = NULL;

    if (!g_file_get_contents("/sys/fs/selinux/enforce", &value, NULL, NULL)) {
        vmiCheckAdd(checks, what, VMI_CHECK_PASS, "not in use");
        return;
    }
    g_strstrip(value);
    if (g_str_equal(value, "1"))
        vmiCheckAdd(checks, what, VMI_CHECK_WARN,
                    "enforcing: confined QEMUs (svirt_t) must be allowed to connect to "
                    "their tools' sockets: label each socket and allow the connection "
                    "as docs/security.rst says (chcon -t svirt_image_t SOCKET)");
    else
        vmiCheckAdd(checks, what, VMI_CHECK_PASS, "permissive: nothing is denied");
}


/*
 * @emulators: paths to check; with @listDomainEmulators, also those of
 * every domain with introspection.
 */
GPtrArray *
vmiHostValidate(const char *uri, const char *const *emulators, gboolean listDomainEmulators)
{
    GPtrArray *checks = g_ptr_array_new_with_free_func((GDestroyNotify)vmiCheckFree);
    g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *keyDir = NULL;
    g_autofree char *qemuLabel = NULL;
    guint i;

    vmiCheckKernel(checks);

    if ((conn = vmiConnOpen(uri, &err)))
        vmiCheckAdd(checks, "for a libvirt connection", VMI_CHECK_PASS, "%s", conn->uri);
    else
        vmiCheckAdd(checks, "for a libvirt connection", VMI_CHECK_FAIL, "%s", err->message);

    vmiCheckHook(checks, conn);
    keyDir = conn ? g_strdup(conn->keyDir) : vmiConnKeyDirForURI(uri ? uri : "");
    vmiCheckRuntimeDir(checks, keyDir);

    for (; emulators && *emulators; emulators++)
        g_ptr_array_add(all, g_strdup(*emulators));
    if (listDomainEmulators && conn)
        vmiCollectDomainEmulators(conn, all);
    /* as the daemon would run QEMU, else as this host's qemu.conf says */
    if (all->len && !(conn && (qemuLabel = vmiConnGetDACBaseLabel(conn, "kvm", NULL))))
        qemuLabel = vmiSettingsQemuDACLabel(VMI_QEMU_CONF, NULL);
    for (i = 0; i < all->len; i++)
        vmiCheckEmulator(checks, all->pdata[i], qemuLabel);
    vmiCheckAppArmor(checks, conn, keyDir);
    vmiCheckSELinux(checks);
    return checks;
}
