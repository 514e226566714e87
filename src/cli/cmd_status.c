/*
 * virt-vmi status DOMAIN
 */
#include <pwd.h>
#include <grp.h>

#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"
#include "libvirt/vmi_status.h"
#include "core/vmi_keyfile.h"

#define ROW "%-17s "


static void
vmiStatusPrintSource(const vmiDef *def)
{
    if (def->source.type == VMI_SOURCE_UNIX)
        g_print(ROW "configured: the tool listens on unix socket %s\n", "Introspection:",
                def->source.path);
    else
        g_print(ROW "configured: the tool listens on vsock CID %u port %u\n", "Introspection:",
                def->source.cid, def->source.port);
}


static void
vmiStatusPrintConnection(const vmiStatus *st)
{
    if (!st->running) {
        g_print(ROW "none (the domain is not running)\n", "Tool connection:");
    } else if (st->chardevError) {
        g_print(ROW "unknown: %s\n", "Tool connection:", st->chardevError);
    } else if (!st->chardev.found) {
        g_print(ROW "QEMU has no introspection chardev: it runs without introspection "
                "(started before it was configured?)\n", "Tool connection:");
    } else if (st->chardev.connected) {
        g_print(ROW "connected (%s)\n", "Tool connection:", st->chardev.filename);
    } else {
        g_print(ROW "not connected (%s); %s\n", "Tool connection:", st->chardev.filename,
                st->listening == VMI_LISTEN_YES ?
                "a tool listens at the socket: it refused the handshake or QEMU waits to reconnect" :
                st->listening == VMI_LISTEN_NO ?
                "nothing listens at the socket: start the introspection tool" :
                "cannot tell whether a tool listens");
    }
}


static void
vmiStatusPrintKey(const vmiStatus *st, const char *keyDir, const char *uuid)
{
    g_autofree char *path = vmiKeyFilePath(keyDir, uuid);

    if (!st->def->keySecret) {
        g_print(ROW "none: the tool is not authenticated (virt-vmi key-create adds a key)\n", "Key:");
        return;
    }
    g_print(ROW "secret %s: %s\n", "Key:", st->def->keySecret,
            st->secretError ? st->secretError : "readable");

    if (st->keyFileError) {
        g_print(ROW "%s\n", "Key file:", st->keyFileError);
    } else if (st->keyFile.exists) {
        struct passwd *pw = getpwuid(st->keyFile.uid);
        struct group *gr = getgrgid(st->keyFile.gid);
        g_print(ROW "%s: present, mode %04o in a %04o directory, owner %s:%s%s\n",
                "Key file:", path, st->keyFile.mode, st->keyFile.dirMode,
                pw ? pw->pw_name : "?", gr ? gr->gr_name : "?",
                st->running ? " (QEMU has read it: the hook removes it once the domain started)" :
                              " (left by a crash: the next start replaces it)");
    } else {
        g_print(ROW "%s: absent%s\n", "Key file:", path,
                st->running ? " (QEMU read it at start and keeps the key in memory)" :
                              " (written at the next start)");
    }
}


static int
vmiCmdStatusRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdStatus, NULL);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiStatus) st = NULL;
    int rc;

    if (!vmiCliOpenDomain(&vmiCmdStatus, ctx, global, argc, argv, &conn, &dom, &rc))
        return rc;

    st = vmiStatusGet(conn, dom);
    g_print(ROW "%s (%s)\n", "Domain:", dom->name, dom->uuid);
    g_print(ROW "%s\n", "State:", st->running ? "running" : "not running");
    if (st->defError)
        g_print(ROW "invalid element: %s\n", "Introspection:", st->defError);
    else if (st->def)
        vmiStatusPrintSource(st->def);
    else
        g_print(ROW "not configured\n", "Introspection:");
    if (st->argsError)
        g_print(ROW "%s\n", "QEMU arguments:", st->argsError);
    else if (st->def)
        g_print(ROW "in step with the element\n", "QEMU arguments:");
    if (!st->def)
        return VMI_EXIT_OK;

    vmiStatusPrintConnection(st);
    vmiStatusPrintKey(st, conn->keyDir, dom->uuid);
    return VMI_EXIT_OK;
}


const vmiCliCommand vmiCmdStatus = {
    "status", "DOMAIN",
    "Show a domain's introspection state",
    "Show whether DOMAIN has introspection configured, whether its QEMU\n"
    "arguments are in step with the element, whether QEMU's introspection\n"
    "chardev is connected to the tool (asked through QMP query-chardev) and,\n"
    "when not, whether anything listens at the configured socket, and the\n"
    "state of the key secret and of the per-run key file.",
    vmiCmdStatusRun,
    VMI_DOMAIN_LOAD_ANY,
};
