/*
 * virt-vmi sync DOMAIN|--all: bring <qemu:commandline> in step with the
 * element after changes made behind our back
 */
#include "vmi_cli.h"
#include "libvirt/vmi_domain_sync.h"
#include "conf/vmi_error.h"


/* Returns FALSE after printing why it could not sync @name. */
static gboolean
vmiSyncOne(vmiConn *conn, const char *name)
{
    g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(GError) err = NULL;

    switch (vmiDomainSync(conn, name, &dom, changes, &err)) {
    case VMI_SYNC_IN_STEP:
    case VMI_SYNC_CHANGED:
        vmiCliReportChanges(dom, dom->name, changes);
        return TRUE;
    case VMI_SYNC_INVALID:
    case VMI_SYNC_FAILED:
    default: {
        g_autofree char *quoted = vmiErrorQuote(name);

        g_printerr("error: domain '%s': %s\n", quoted, err->message);
        return FALSE;
    }
    }
}


static int
vmiCmdSyncRun(const vmiCliGlobal *global, int argc, char **argv)
{
    gboolean all = FALSE;
    const GOptionEntry entries[] = {
        { "all", 0, 0, G_OPTION_ARG_NONE, &all,
          "Every persistent domain", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdSync, entries);
    g_autoptr(vmiConn) conn = NULL;
    g_auto(GStrv) uuids = NULL;
    gboolean ok = TRUE;
    GError *err = NULL;
    char **uuid;
    int rc;

    if (!vmiCliParseOptions(ctx, &argc, &argv, &rc))
        return rc;
    if (all ? argc != 1 : argc != 2)
        return vmiCliUsage(ctx, "sync takes one DOMAIN, or --all");

    if (!(conn = vmiConnOpen(global->uri, &err)))
        return vmiCliFail(err);
    if (!all)
        return vmiSyncOne(conn, argv[1]) ? VMI_EXIT_OK : VMI_EXIT_FAILURE;

    if (!(uuids = vmiConnListPersistentDomains(conn, &err)))
        return vmiCliFail(err);
    for (uuid = uuids; *uuid; uuid++)
        ok &= vmiSyncOne(conn, *uuid);
    return ok ? VMI_EXIT_OK : VMI_EXIT_FAILURE;
}


const vmiCliCommand vmiCmdSync = {
    "sync", "DOMAIN | --all",
    "Regenerate QEMU arguments after outside edits",
    "Bring the QEMU arguments in DOMAIN's <qemu:commandline> in step with its\n"
    "<vmi:introspection> element, after the element was changed behind\n"
    "libvirt-vmi's back (virsh edit, virsh metadata, an API client), and\n"
    "remove leftover arguments of a domain without the element. It reports\n"
    "what it changed; run again, it changes nothing.",
    vmiCmdSyncRun,
};
