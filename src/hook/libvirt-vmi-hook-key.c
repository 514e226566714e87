/*
 * libvirt-vmi-hook-key URI SECRET-UUID: the introspection key a libvirt
 * secret holds, written raw to standard output (a pipe from
 * libvirt-vmi-hook, never a terminal or a file)
 *
 * The hook's only use of libvirt, apart so that the hook itself does not
 * load libvirt for every operation of every domain. It calls the secret
 * driver only. Exit status 0 with the key, 1 with the reason on standard
 * error, 2 on a bad command line. See docs/libvirt-vmi-hook-key.rst.
 */
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmi_config.h"
#include "core/vmi_fd.h"
#include "libvirt/vmi_libvirt.h"
#include "libvirt/vmi_secret.h"

#define VMI_HOOK_KEY_TIMEOUT_SECONDS 30


static int
vmiHookKeyFail(GError *error)
{
    g_printerr("%s\n", error->message);
    g_error_free(error);
    return 1;
}


int
main(int argc, char **argv)
{
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiKey) key = NULL;
    GError *err = NULL;
    struct stat st;

    if (argc == 2 && (g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h"))) {
        g_print("Usage: %s URI SECRET-UUID > PIPE\n"
                "Writes the introspection key a libvirt secret holds to a pipe,\n"
                "for libvirt-vmi-hook; see man libvirt-vmi-hook-key.\n", argv[0]);
        return 0;
    }
    if (argc == 2 && g_str_equal(argv[1], "--version")) {
        g_print("libvirt-vmi-hook-key %s\n", VMI_VERSION);
        return 0;
    }
    if (argc != 3 || !g_uuid_string_is_valid(argv[2])) {
        g_printerr("usage: %s URI SECRET-UUID > PIPE\n", argv[0]);
        return 2;
    }
    /* key material goes to a pipe only */
    if (fstat(STDOUT_FILENO, &st) < 0 || !S_ISFIFO(st.st_mode)) {
        g_printerr("%s: standard output must be a pipe\n", argv[0]);
        return 2;
    }
    alarm(VMI_HOOK_KEY_TIMEOUT_SECONDS);
    /* it holds the key: no core dump, no ptrace */
    prctl(PR_SET_DUMPABLE, 0);

    if (!(conn = vmiConnOpen(argv[1], &err)) ||
        !(key = vmiSecretGetKey(conn->secrets, argv[2], &err)))
        return vmiHookKeyFail(err);

    if (!vmiFdWriteAll(STDOUT_FILENO, key->data, key->len, &err)) {
        g_prefix_error(&err, "cannot hand the key over: ");
        return vmiHookKeyFail(err);
    }
    return 0;
}
