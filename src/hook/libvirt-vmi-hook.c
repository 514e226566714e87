/*
 * libvirt-vmi-hook: libvirt's qemu hook for domains with introspection
 *
 * Installed as /etc/libvirt/hooks/qemu.d/50-libvirt-vmi (virt-vmi
 * hook-install). libvirt runs it as
 *     50-libvirt-vmi DOMAIN OPERATION SUB-OPERATION EXTRA
 * with the domain XML on standard input. A non-zero exit refuses the
 * operation, with standard error as the reason libvirt reports.
 *
 *   prepare begin     checks: element valid, arguments in step, key secret
 *                     readable, emulator able to enforce <vmi:allow>
 *   migrate begin     the same checks on a migration's destination,
 *   restore begin     before the source unhooks or the image is read
 *   start begin       writes the per-run key file for QEMU's user (the
 *                     domain XML now carries the DAC label QEMU runs with)
 *   stopped end,
 *   release end       removes the key file
 *
 * It calls libvirt only to read key secrets, never a domain API: libvirt
 * holds the domain's lock while a hook runs, and the secret driver does
 * not need it. An alarm bounds the whole run.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmi_config.h"
#include "vmi_libvirt.h"
#include "vmi_lifecycle.h"
#include "vmi_settings.h"
#include "conf/vmi_error.h"

#define VMI_HOOK_TIMEOUT_SECONDS 60

typedef enum {
    VMI_HOOK_CHECK,
    VMI_HOOK_WRITE_KEY,
    VMI_HOOK_CLEAN_UP,
} vmiHookAction;

static const struct {
    const char *op;
    const char *subop;
    vmiHookAction action;
} vmiHookActions[] = {
    { "prepare", "begin", VMI_HOOK_CHECK },
    { "migrate", "begin", VMI_HOOK_CHECK },
    { "restore", "begin", VMI_HOOK_CHECK },
    { "start", "begin", VMI_HOOK_WRITE_KEY },
    { "stopped", "end", VMI_HOOK_CLEAN_UP },
    { "release", "end", VMI_HOOK_CLEAN_UP },
};


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
    g_printerr("libvirt-vmi: domain '%s': %s\n", domain, error->message);
    g_error_free(error);
    return 1;
}


static int
vmiHookRun(const char *domain, vmiHookAction action)
{
    g_autoptr(vmiSettings) settings = NULL;
    g_autoptr(vmiDomainXML) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    g_autoptr(vmiConn) conn = NULL;
    g_autofree char *label = NULL;
    vmiLifecycle lc = { NULL, VMI_KEY_DIR_SYSTEM, VMI_CACHE_DIR };
    GError *err = NULL;

    if (!(dom = vmiDomainXMLReadFile("-", "the domain XML", &err)))
        return vmiHookFail(domain, err);

    if (action == VMI_HOOK_CLEAN_UP) {
        /* whether or not the element is still there */
        if (dom->uuid && g_uuid_string_is_valid(dom->uuid) &&
            !vmiLifecycleCleanUp(&lc, dom->uuid, &err))
            return vmiHookFail(domain, err);
        return 0;
    }

    if (dom->vmi && !(def = vmiDomainXMLGetDef(dom, &err))) {
        g_prefix_error(&err, "its <vmi:introspection> is invalid: ");
        return vmiHookFail(domain, err);
    }
    if (action == VMI_HOOK_WRITE_KEY && (!def || !def->keySecret))
        return 0;

    if (def && def->keySecret) {
        if (!(settings = vmiSettingsLoad(VMI_SETTINGS_FILE, &err)) ||
            !(conn = vmiConnOpen(settings->hookURI, &err)))
            return vmiHookFail(domain, err);
        lc.conn = conn->conn;
    }

    if (action == VMI_HOOK_CHECK) {
        if (!vmiLifecycleCheck(&lc, dom, def, &err))
            return vmiHookFail(domain, err);
        return 0;
    }

    label = vmiDomainXMLGetDACLabel(dom);
    if (!vmiLifecycleWriteKey(&lc, dom, def, label, &err))
        return vmiHookFail(domain, err);
    return 0;
}


int
main(int argc, char **argv)
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

    signal(SIGALRM, vmiHookTimeout);
    alarm(VMI_HOOK_TIMEOUT_SECONDS);

    for (i = 0; i < G_N_ELEMENTS(vmiHookActions); i++) {
        if (g_str_equal(argv[2], vmiHookActions[i].op) &&
            g_str_equal(argv[3], vmiHookActions[i].subop))
            return vmiHookRun(argv[1], vmiHookActions[i].action);
    }
    /* other operations: nothing to do, and libvirt's XML is not read */
    return 0;
}
