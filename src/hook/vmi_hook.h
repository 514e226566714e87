/*
 * vmi_hook.h: the libvirt hook as a function of its setting, so that a
 * test can run it without the host's paths, daemon or emulators
 */
#pragma once

#include <glib.h>

#include "core/vmi_lifecycle.h"

typedef struct {
    const char *xmlPath;        /* the domain XML; "-": standard input */
    const char *keyDir;
    const char *cacheDir;       /* emulator probe results; NULL: no cache */
    const char *settingsFile;
    const char *qemuConf;
    const char *qemuLogDir;     /* the domains' logs, NAME.log */
    const char *apparmorDir;    /* /etc/apparmor.d: hook-install's rules */
    gboolean guard;             /* the alarm, and not dumpable */
    const char *vmidSocket;     /* virt-vmid's; NULL: no daemon is asked to attach */
    /* NULL: virt-vmid, else libvirt-vmi-hook-key */
    vmiKeyFetchFunc fetchKey;
    gpointer fetchOpaque;
    /* NULL: vmiProbeEmulator */
    gboolean (*probe)(const char *emulator, const char *dacLabel, const char *cacheDir,
                      vmiProbeResult *result, GError **error);
} vmiHookEnv;

int vmiHookMain(const vmiHookEnv *env, int argc, char **argv);
