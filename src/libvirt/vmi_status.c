/*
 * vmi_status.c: gather what `virt-vmi status` shows
 *
 * Each part is looked at on its own and a failure is recorded, not
 * fatal: a status is most needed when something is broken.
 */
#include <libvirt/libvirt-qemu.h>
#include <stdio.h>
#include <string.h>

#include "libvirt/vmi_status.h"
#include "libvirt/vmi_secret.h"
#include "core/vmi_sync.h"


void
vmiStatusFree(vmiStatus *status)
{
    if (!status)
        return;
    vmiDefFree(status->def);
    g_free(status->defError);
    g_free(status->argsError);
    g_free(status->secretError);
    g_free(status->chardev.filename);
    g_free(status->chardevError);
    g_free(status->keyFileError);
    g_free(status->unmonitored);
    g_free(status);
}


static char *
vmiStatusTakeMessage(GError *err)
{
    char *msg = g_strdup(err->message);

    g_error_free(err);
    return msg;
}


/*
 * Whether a socket listens at @path, from /proc/net/unix: connecting
 * to find out would look like a failed handshake to the tool.
 */
vmiListenState
vmiStatusUnixListening(const char *path)
{
    g_autofree char *table = NULL;
    g_auto(GStrv) lines = NULL;
    size_t i;

    if (!g_file_get_contents("/proc/net/unix", &table, NULL, NULL))
        return VMI_LISTEN_UNKNOWN;
    lines = g_strsplit(table, "\n", -1);
    /* Num RefCount Protocol Flags Type St Inode Path */
    for (i = 1; lines[i]; i++) {
        unsigned long flags = 0;
        char sockPath[4096] = "";

        if (sscanf(lines[i], "%*s %*s %*s %lx %*s %*s %*s %4095s", &flags, sockPath) == 2 &&
            (flags & 0x10000) /* __SO_ACCEPTCON: listening */ &&
            g_str_equal(sockPath, path))
            return VMI_LISTEN_YES;
    }
    return VMI_LISTEN_NO;
}


static void
vmiStatusQueryChardev(vmiStatus *status, vmiDomain *dom)
{
    g_autoptr(GError) err = NULL;
    char *reply = NULL;

    if (virDomainQemuMonitorCommand(dom->dom, "{\"execute\":\"query-chardev\"}", &reply, 0) < 0) {
        vmiSetLibvirtError(&err, "cannot ask QEMU for its chardevs");
        status->chardevError = g_strdup(err->message);
        return;
    }
    if (!vmiQmpParseChardevs(reply, &status->chardev, &err))
        status->chardevError = g_strdup(err->message);
    free(reply);
}


vmiStatus *
vmiStatusGet(vmiConn *conn, vmiDomain *dom)
{
    g_autoptr(vmiStatus) status = g_new0(vmiStatus, 1);
    GError *err = NULL;

    status->running = dom->running;
    status->unmonitored = vmiDomainGetUnmonitored(dom);
    if (dom->xml->vmi && !(status->def = vmiDomainGetDef(dom, &err)))
        status->defError = vmiStatusTakeMessage(err);
    if ((status->def || !dom->xml->vmi) &&
        !vmiSyncCheck(dom->xml, status->def, conn->keyDir, dom->name, &err))
        status->argsError = vmiStatusTakeMessage(err);
    if (!status->def)
        return g_steal_pointer(&status);

    if (status->def->keySecret && !vmiSecretCheck(conn->secrets, status->def->keySecret, &err))
        status->secretError = vmiStatusTakeMessage(err);

    if (status->running) {
        vmiStatusQueryChardev(status, dom);
        if (!status->chardev.connected && status->def->source.type == VMI_SOURCE_UNIX)
            status->listening = vmiStatusUnixListening(status->def->source.path);
    }

    if (status->def->keySecret) {
        status->keyFileChecked = TRUE;
        if (!vmiKeyFileGetState(conn->keyDir, dom->uuid, &status->keyFile, &err))
            status->keyFileError = vmiStatusTakeMessage(err);
    }
    return g_steal_pointer(&status);
}
