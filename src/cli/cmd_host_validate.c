/*
 * virt-vmi host-validate [--emulator PATH]... [DOMAIN]
 */
#include <stdio.h>
#include <unistd.h>

#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"
#include "libvirt/vmi_host_validate.h"

static const char *const vmiCheckResultColors[VMI_CHECK_LAST] = {
    [VMI_CHECK_PASS] = "\033[32m",
    [VMI_CHECK_WARN] = "\033[33m",
    [VMI_CHECK_FAIL] = "\033[31m",
};


static int
vmiCmdHostValidateRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_auto(GStrv) emulators = NULL;
    const GOptionEntry entries[] = {
        { "emulator", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &emulators,
          "Check this emulator (repeatable)", "PATH" },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdHostValidate, entries);
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) checks = NULL;
    gboolean tty = isatty(STDOUT_FILENO);
    gboolean failed = FALSE;
    GError *err = NULL;
    guint i;
    int rc;

    if (!vmiCliParseOptions(ctx, &argc, &argv, &rc))
        return rc;
    if (argc > 2)
        return vmiCliUsage(ctx, "host-validate takes at most one DOMAIN");

    for (i = 0; emulators && emulators[i]; i++)
        g_ptr_array_add(paths, g_strdup(emulators[i]));
    if (argc == 2) {
        g_autoptr(vmiConn) conn = NULL;
        g_autoptr(vmiDomain) dom = NULL;
        char *emulator;

        if (!(conn = vmiConnOpen(global->uri, &err)) ||
            !(dom = vmiDomainLoad(conn, argv[1], 0, &err)))
            return vmiCliFail(err);
        if ((emulator = vmiDomainXMLGetEmulator(dom->xml)))
            g_ptr_array_add(paths, emulator);
    }
    g_ptr_array_add(paths, NULL);

    /* Without a domain or an emulator: those of every introspected domain. */
    checks = vmiHostValidate(global->uri, (const char *const *)paths->pdata,
                             argc == 1 && !emulators);
    for (i = 0; i < checks->len; i++) {
        vmiCheck *check = checks->pdata[i];

        g_print("   VMI: Checking %-62s: %s%s%s (%s)\n", check->what,
                tty ? vmiCheckResultColors[check->result] : "",
                vmiCheckResultToString(check->result), tty ? "\033[0m" : "", check->detail);
        failed |= check->result == VMI_CHECK_FAIL;
    }
    return failed ? VMI_EXIT_FAILURE : VMI_EXIT_OK;
}


const vmiCliCommand vmiCmdHostValidate = {
    "host-validate", "[--emulator PATH]... [DOMAIN]",
    "Check this host for introspection, as virt-host-validate",
    "Check the host, one PASS, WARN or FAIL line per check: a KVMI kernel\n"
    "(the kvm module's 'introspection' parameter), the libvirt connection,\n"
    "the libvirt hook, the key directory's owner and mode, and emulators:\n"
    "DOMAIN's, the given PATHs, or else those of every domain with\n"
    "introspection (has the introspection object; enforces allow-lists);\n"
    "then the AppArmor rules of hook-install (in place and up to date with\n"
    "the domains' tool sockets, where libvirt's AppArmor profiles are\n"
    "installed) and whether SELinux is enforcing.\n"
    "Exit status 1 if any check fails.",
    vmiCmdHostValidateRun,
};
