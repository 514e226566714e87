/*
 * virt-vmi hook-install: put the libvirt hook in place
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "vmi_cli.h"
#include "vmi_config.h"
#include "libvirt/vmi_host_validate.h"
#include "libvirt/vmi_libvirt.h"
#include "core/vmi_apparmor.h"
#include "core/vmi_paths.h"
#include "core/vmi_settings.h"
#include "conf/vmi_error.h"



/*
 * A symlink, made aside and renamed over the old one: libvirtd never sees
 * a half-installed hook, and the hook finds its helper
 * (libvirt-vmi-hook-key) beside the file the link resolves to.
 */
static gboolean
vmiHookLink(const char *hook, const char *to, GError **error)
{
    g_autofree char *tmp = g_strdup_printf("%s.new", to);
    g_autofree char *target = realpath(hook, NULL);

    if (!target) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_NOT_FOUND, "cannot find the hook %s: %s",
                    hook, g_strerror(errno));
        return FALSE;
    }
    g_unlink(tmp);
    if (symlink(target, tmp) < 0 || g_rename(tmp, to) < 0) {
        int errsv = errno;
        g_unlink(tmp);
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "cannot install %s: %s",
                    to, g_strerror(errsv));
        return FALSE;
    }
    return TRUE;
}


/*
 * On a host with libvirt's AppArmor profiles: the rules that let each
 * confined QEMU read its key file and reach its tool's socket, from the
 * domains defined now (without the daemon: the key file's rule alone).
 */
static gboolean
vmiHookInstallAppArmor(const char *uri, GError **error)
{
    g_autofree char *libvirtQemu = g_build_filename(VMI_APPARMOR_DIR,
                                                    VMI_APPARMOR_LIBVIRT_QEMU, NULL);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *rules = NULL;

    if (!g_file_test(libvirtQemu, G_FILE_TEST_IS_REGULAR))
        return TRUE;
    if (!(conn = vmiConnOpen(uri, &err)))
        g_printerr("warning: %s: the AppArmor rules name no tool socket yet "
                   "(the hook adds each when its domain starts)\n", err->message);
    if (!(rules = vmiHostAppArmorRules(conn, VMI_KEY_DIR_DEFAULT, error)) ||
        !vmiAppArmorInstall(VMI_APPARMOR_DIR, rules, error))
        return FALSE;
    g_print("Installed AppArmor rules for confined QEMUs: %s/%s, included by %s/%s; "
            "they apply from each domain's next start\n",
            VMI_APPARMOR_DIR, VMI_APPARMOR_RULES, VMI_APPARMOR_DIR, VMI_APPARMOR_LOCAL);
    return TRUE;
}


static int
vmiCmdHookInstallRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdHookInstall, NULL);
    g_autofree char *hook = vmiFindSibling("/proc/self/exe", VMI_HOOK_BINARY);
    g_autofree char *target = g_strdup(VMI_HOOK_PATH);
    g_autofree char *embedKeys = NULL;
    const char *uri = global->uri ? global->uri : VMI_DEFAULT_URI;
    gboolean hadDir = g_file_test(VMI_HOOK_DIR, G_FILE_TEST_IS_DIR);
    GError *err = NULL;
    int rc;

    if (!vmiCliParseOptions(ctx, &argc, &argv, &rc))
        return rc;
    if (argc != 1)
        return vmiCliUsage(ctx, "hook-install takes no arguments");

    embedKeys = vmiConnKeyDirForURI(uri);
    if (!g_str_equal(embedKeys, VMI_KEY_DIR_DEFAULT))
        return vmiCliUsage(ctx, "the embedded driver (%s) runs no hooks: "
                           "virt-vmi start does their work in-process", uri);

    if (g_mkdir_with_parents(VMI_HOOK_DIR, 0755) < 0) {
        g_set_error(&err, VMI_ERROR, VMI_ERROR_OPERATION, "cannot create %s: %s",
                    VMI_HOOK_DIR, g_strerror(errno));
        return vmiCliFail(err);
    }
    if (!vmiHookLink(hook, target, &err) ||
        !vmiSettingsSaveHookURI(VMI_SETTINGS_FILE, uri, &err))
        return vmiCliFail(err);

    g_print("Installed %s (a link to %s); it reads key secrets through %s (%s)\n",
            target, hook, uri, VMI_SETTINGS_FILE);
    if (!vmiHookInstallAppArmor(uri, &err))
        return vmiCliFail(err);
    if (!hadDir)
        g_print("Restart libvirtd: it looks for %s only when it starts\n", VMI_HOOK_DIR);
    return VMI_EXIT_OK;
}


const vmiCliCommand vmiCmdHookInstall = {
    "hook-install", "",
    "Install the libvirt hook (daemon mode)",
    "Install libvirt-vmi's hook as " VMI_HOOK_PATH " (a link), and\n"
    "record in " VMI_SETTINGS_FILE " the libvirt URI it reads key secrets\n"
    "through (-c URI; default " VMI_DEFAULT_URI "). libvirtd only sees qemu.d if\n"
    "it existed when libvirtd started.\n"
    "Where libvirt's AppArmor profiles are installed (" VMI_APPARMOR_DIR "/\n"
    VMI_APPARMOR_LIBVIRT_QEMU "), also write the rules that let each confined\n"
    "QEMU read its key file and reach its tool's socket, as\n"
    VMI_APPARMOR_DIR "/" VMI_APPARMOR_RULES ", included from\n"
    VMI_APPARMOR_DIR "/" VMI_APPARMOR_LOCAL " (the hook adds the rule of a\n"
    "domain defined later when it starts).",
    vmiCmdHookInstallRun,
};
