/*
 * vmi_attach.c: live attach and detach of the introspection object
 *
 * Attach: the key file (as the hook writes it at a start), then over QMP
 * chardev-add, object-add of the secret and of the introspection object,
 * each made from the same description as the command line arguments
 * (vmiQemuBuildObjects). A failure removes what was added, in reverse,
 * and the key file. Detach: object-del of the introspection object (QEMU
 * refuses while the tool is connected: "object '%s' is in use, can not be
 * deleted"), which deletes its chardev too, of the secret, chardev-remove
 * of a chardev left without the object, then the key file.
 */
#include <string.h>

#include "libvirt/vmi_attach.h"
#include "core/vmi_keyfile.h"
#include "core/vmi_lifecycle.h"
#include "core/vmi_paths.h"
#include "core/vmi_qmp.h"
#include "conf/vmi_error.h"


/* Runs @command; FALSE with QEMU's error (also in @qemuError, if asked). */
static gboolean
vmiAttachRun(vmiDomain *dom, const char *command, const char *what, char **qemuError,
             GError **error)
{
    g_autofree char *reply = vmiDomainQemuMonitor(dom->dom, command, error);

    return reply && vmiQmpParseReturn(reply, what, qemuError, error);
}


/* Which of our three QEMU has now: objects by id, and the chardev. */
static gboolean
vmiAttachState(vmiDomain *dom, GHashTable **objects, gboolean *chardev, gboolean *connected,
               GError **error)
{
    g_autofree char *list = vmiQmpBuildCommand("qom-list", "path", "/objects");
    g_autofree char *reply = NULL;
    g_autofree char *chardevs = NULL;
    vmiQmpChardevState st;

    if (!(reply = vmiDomainQemuMonitor(dom->dom, list, error)) ||
        !(*objects = vmiQmpParseObjects(reply, error)))
        return FALSE;
    if (!(chardevs = vmiDomainQemuMonitor(dom->dom, "{\"execute\":\"query-chardev\"}", error)) ||
        !vmiQmpParseChardevs(chardevs, &st, error))
        return FALSE;
    *chardev = st.found;
    if (connected)
        *connected = st.connected;
    g_free(st.filename);
    return TRUE;
}


static gboolean
vmiAttachCheckRunning(vmiDomain *dom, const char *cmd, GError **error)
{
    if (dom->running && vmiDomainIsRunning(dom->dom))
        return TRUE;
    g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                "domain '%s' is not running: %s --live changes a running QEMU "
                "(virt-vmi start %s; or %s --config for the persistent definition only)",
                dom->name, cmd, dom->name, cmd);
    return FALSE;
}


static vmiKey *
vmiAttachFetchKey(gpointer opaque, const char *secretUUID, GError **error)
{
    vmiConn *conn = opaque;

    return vmiSecretGetKey(conn->secrets, secretUUID, error);
}


/* The emulator check and the key file, on the live definition. */
static gboolean
vmiAttachPrepare(vmiConn *conn, vmiDomain *dom, const vmiDef *def, GError **error)
{
    g_autofree char *cacheDir = conn->embedRoot ?
        g_build_filename(conn->embedRoot, "cache", "libvirt-vmi", NULL) :
        g_strdup(VMI_CACHE_DIR);
    vmiLifecycle lc = { vmiAttachFetchKey, conn, conn->keyDir, cacheDir };
    g_autoptr(vmiDomainXML) live = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *label = NULL;

    if (!(xml = vmiDomainGetXML(dom->dom, FALSE, error)) ||
        !(live = vmiDomainXMLParseString(xml, dom->name, error)))
        return FALSE;
    /* the running QEMU's user:group: the probe runs as it, the key file is its */
    if (!(label = vmiDomainXMLGetDACLabel(live)) &&
        !(label = vmiConnGetDACBaseLabel(conn, "kvm", error)))
        return FALSE;
    lc.qemuLabel = label;
    return vmiLifecyclePrepareLive(&lc, live, def, label, error);
}


static void
vmiAttachRollback(vmiDomain *dom, GPtrArray *objs, guint added)
{
    while (added > 0) {
        const vmiQemuObject *obj = g_ptr_array_index(objs, --added);
        g_autofree char *cmd = vmiQmpBuildRemove(obj);

        vmiAttachRun(dom, cmd, "rollback", NULL, NULL);
    }
}


gboolean
vmiDomainAttachLive(vmiConn *conn, vmiDomain *dom, GError **error)
{
    g_autoptr(vmiDef) def = NULL;
    g_autoptr(GPtrArray) objs = NULL;
    g_autoptr(GPtrArray) cmds = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) objects = NULL;
    gboolean chardev = FALSE;
    guint i;

    if (!vmiAttachCheckRunning(dom, "attach", error))
        return FALSE;
    if (!dom->xml->vmi) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "domain '%s' has no <vmi:introspection>: configure it first "
                    "(virt-vmi set %s --socket PATH)", dom->name, dom->name);
        return FALSE;
    }
    if (!(def = vmiDomainGetDef(dom, error)))
        return FALSE;

    /* every command made before anything changes */
    objs = vmiQemuBuildObjects(def, dom->uuid, conn->keyDir);
    for (i = 0; i < objs->len; i++) {
        char *cmd = vmiQmpBuildAdd(g_ptr_array_index(objs, i), error);

        if (!cmd) {
            g_prefix_error(error, "cannot attach introspection to domain '%s' live: ",
                           dom->name);
            return FALSE;
        }
        g_ptr_array_add(cmds, cmd);
    }

    if (!vmiAttachState(dom, &objects, &chardev, NULL, error))
        return FALSE;
    if (chardev || g_hash_table_contains(objects, VMI_QEMU_OBJECT_ID) ||
        g_hash_table_contains(objects, VMI_QEMU_SECRET_ID)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "domain '%s' already has introspection attached (QEMU object '%s' or "
                    "chardev '%s'), and QEMU allows one introspection object (\"VMI: only one "
                    "introspection object can be created\"): virt-vmi detach %s first",
                    dom->name, VMI_QEMU_OBJECT_ID, VMI_QEMU_CHARDEV_ID, dom->name);
        return FALSE;
    }

    if (!vmiAttachPrepare(conn, dom, def, error)) {
        g_prefix_error(error, "domain '%s': ", dom->name);
        return FALSE;
    }
    for (i = 0; i < objs->len; i++) {
        const vmiQemuObject *obj = g_ptr_array_index(objs, i);
        g_autofree char *what = g_strdup_printf("%s of '%s'",
                                                g_str_equal(obj->option, "-chardev") ?
                                                "chardev-add" : "object-add", obj->id);

        if (!vmiAttachRun(dom, g_ptr_array_index(cmds, i), what, NULL, error)) {
            vmiAttachRollback(dom, objs, i);
            vmiKeyFileRemove(conn->keyDir, dom->uuid, NULL);
            g_prefix_error(error, "cannot attach introspection to domain '%s' "
                           "(what was added is removed again): ", dom->name);
            return FALSE;
        }
    }
    /* as the hook does at `started`: QEMU read the file when it created
     * the secret object, and keeps the key in memory */
    return vmiKeyFileRemove(conn->keyDir, dom->uuid, error);
}


/*
 * Removes whatever of ours QEMU has. While a tool is connected QEMU
 * refuses to delete the object: FALSE with *@inUse set, nothing changed.
 */
gboolean
vmiDomainDetachLive(vmiConn *conn, vmiDomain *dom, gboolean *inUse, GError **error)
{
    g_autoptr(GHashTable) objects = NULL;
    g_autofree char *qemuError = NULL;
    gboolean chardev = FALSE;
    gboolean connected = FALSE;

    *inUse = FALSE;
    if (!vmiAttachCheckRunning(dom, "detach", error))
        return FALSE;
    if (!vmiAttachState(dom, &objects, &chardev, &connected, error))
        return FALSE;
    if (!chardev && !g_hash_table_contains(objects, VMI_QEMU_OBJECT_ID) &&
        !g_hash_table_contains(objects, VMI_QEMU_SECRET_ID)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_NOT_FOUND,
                    "domain '%s' has no introspection attached (no QEMU object '%s')",
                    dom->name, VMI_QEMU_OBJECT_ID);
        return FALSE;
    }
    if (g_hash_table_contains(objects, VMI_QEMU_OBJECT_ID)) {
        g_autofree char *cmd = vmiQmpBuildCommand("object-del", "id", VMI_QEMU_OBJECT_ID);

        if (!vmiAttachRun(dom, cmd, "object-del of '" VMI_QEMU_OBJECT_ID "'",
                          &qemuError, error)) {
            *inUse = qemuError && strstr(qemuError, "is in use");
            g_prefix_error(error, "domain '%s': ", dom->name);
            return FALSE;
        }
    }
    if (g_hash_table_contains(objects, VMI_QEMU_SECRET_ID)) {
        g_autofree char *cmd = vmiQmpBuildCommand("object-del", "id", VMI_QEMU_SECRET_ID);

        if (!vmiAttachRun(dom, cmd, "object-del of '" VMI_QEMU_SECRET_ID "'", NULL, error)) {
            g_prefix_error(error, "domain '%s': ", dom->name);
            return FALSE;
        }
    }
    /* the object takes its chardev with it (qemu_chr_fe_deinit(..., true)):
     * what is left to remove is a chardev without the object */
    if (chardev && g_hash_table_contains(objects, VMI_QEMU_OBJECT_ID)) {
        g_autoptr(GHashTable) after = NULL;

        if (!vmiAttachState(dom, &after, &chardev, NULL, error))
            return FALSE;
    }
    if (chardev) {
        g_autofree char *cmd = vmiQmpBuildCommand("chardev-remove", "id", VMI_QEMU_CHARDEV_ID);

        if (!vmiAttachRun(dom, cmd, "chardev-remove of '" VMI_QEMU_CHARDEV_ID "'", NULL,
                          error)) {
            g_prefix_error(error, "domain '%s': ", dom->name);
            return FALSE;
        }
    }
    return vmiKeyFileRemove(conn->keyDir, dom->uuid, error);
}
