/*
 * libvirt-vmi-hook: libvirt's qemu hook for domains with introspection
 *
 * Installed as /etc/libvirt/hooks/qemu.d/50-libvirt-vmi (virt-vmi
 * hook-install). libvirt runs it as
 *     50-libvirt-vmi DOMAIN OPERATION SUB-OPERATION EXTRA
 * with the domain XML on standard input. A non-zero exit refuses the
 * operation, with standard error as the reason libvirt reports.
 *
 *   prepare begin     checks (element valid, arguments in step, key secret
 *                     readable, emulator able to enforce <vmi:allow>: probed
 *                     as QEMU's user, from qemu.conf), then
 *                     writes the per-run key file, root's for now; adds
 *                     the tool socket's AppArmor rule to hook-install's
 *                     rules if they lack it (virt-aa-helper loads the
 *                     domain's profile after this hook)
 *                     A fresh definition (the element, none of our arguments:
 *                     a management layer defined and started at once) goes on
 *                     without arguments when virt-vmid answers that it attaches
 *                     it live once QEMU runs
 *   migrate begin     the same checks (and AppArmor rule) on a migration's destination,
 *   restore begin     before the source unhooks or the image is read, but
 *                     the key secret's: `prepare begin` follows at once in
 *                     the same operation, still before either, and reads
 *                     the key (once a start, not twice)
 *   start begin       hands the key file over to QEMU's user: the domain
 *                     XML now carries the DAC label QEMU runs with
 *   started begin     removes the key file: QEMU read it when it created
 *                     the secret object, at its start, and keeps the key
 *                     in memory; no other domain's QEMU (same user) can
 *                     read it from then on. For a required='yes' domain
 *                     coming from a restore or an incoming migration
 *                     (vCPUs still paused), waits until QEMU's log says
 *                     the tool hooked, at most the handshake timeout, and
 *                     refuses the operation when it did not
 *   stopped end,
 *   release end       removes the key file (a start that failed before
 *                     `started`)
 *
 * libvirt runs every hook for every domain's every operation, so this
 * program does not link libvirt (loading it costs more than all the rest):
 * for a domain with a <vmi:key> it asks virt-vmid for the key over its
 * root-only socket, or, without the daemon, runs libvirt-vmi-hook-key.
 * Both call libvirt's secret driver only, never a domain API, which would
 * wait for the domain lock libvirt holds while a hook runs.
 * An alarm bounds the whole run.
 */
#include "vmi_config.h"
#include "hook/vmi_hook.h"
#include "core/vmi_apparmor.h"
#include "core/vmi_paths.h"


int
main(int argc, char **argv)
{
    const vmiHookEnv env = {
        .xmlPath = "-",
        .keyDir = VMI_KEY_DIR_DEFAULT,
        .cacheDir = VMI_CACHE_DIR,
        .settingsFile = VMI_SETTINGS_FILE,
        .qemuConf = VMI_QEMU_CONF,
        .qemuLogDir = VMI_QEMU_LOG_DIR,
        .apparmorDir = VMI_APPARMOR_DIR,
        .guard = TRUE,
        .vmidSocket = VMI_VMID_SOCKET,
    };

    return vmiHookMain(&env, argc, argv);
}
