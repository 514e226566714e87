/*
 * vmi_domain.c: introspection on a libvirt domain
 *
 * Every change is made on one copy of the persistent definition and
 * handed to libvirt with one virDomainDefineXML, so a domain is never
 * left half-edited.
 */
#include <string.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "libvirt/vmi_domain.h"
#include "core/vmi_keyfile.h"
#include "core/vmi_lifecycle.h"
#include "libvirt/vmi_secret.h"
#include "core/vmi_sync.h"
#include "conf/vmi_error.h"


void
vmiDomainFree(vmiDomain *dom)
{
    if (!dom)
        return;
    if (dom->dom)
        virDomainFree(dom->dom);
    vmiDomainXMLFree(dom->xml);
    g_free(dom);
}


/*
 * The persistent definition, which configuration changes go to. With
 * VMI_DOMAIN_LOAD_ANY, a transient domain is loaded too, from its live
 * definition: enough to look at it or stop it.
 */
vmiDomain *
vmiDomainLoad(vmiConn *conn, const char *name, unsigned int flags, GError **error)
{
    g_autoptr(vmiDomain) dom = g_new0(vmiDomain, 1);
    g_autofree char *xml = NULL;

    if (!(dom->dom = vmiConnLookupDomain(conn, name, error)))
        return NULL;
    dom->name = virDomainGetName(dom->dom);
    virDomainGetUUIDString(dom->dom, dom->uuid);
    dom->running = vmiDomainIsRunning(dom->dom);

    dom->persistent = virDomainIsPersistent(dom->dom) == 1;

    if (!dom->persistent && !(flags & VMI_DOMAIN_LOAD_ANY)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "domain '%s' is transient: introspection is configured in a persistent "
                    "definition (virsh dumpxml %s > %s.xml; virsh define %s.xml)",
                    dom->name, dom->name, dom->name, dom->name);
        return NULL;
    }
    if (!(xml = vmiDomainGetXML(dom->dom, dom->persistent, error)) ||
        !(dom->xml = vmiDomainXMLParseString(xml, dom->name, error)))
        return NULL;
    return g_steal_pointer(&dom);
}


vmiDef *
vmiDomainGetDef(vmiDomain *dom, GError **error)
{
    return vmiDomainXMLGetDef(dom->xml, error);
}


/*
 * The element QEMU runs with, in *@def: the live definition's (a running
 * domain's persistent one may have changed since its start, with set).
 * NULL when the domain does not run or its live definition has none.
 */
gboolean
vmiDomainGetLiveDef(vmiDomain *dom, vmiDef **def, GError **error)
{
    g_autofree char *xml = NULL;
    g_autoptr(vmiDomainXML) live = NULL;

    *def = NULL;
    if (!dom->running)
        return TRUE;
    if (!(xml = vmiDomainGetXML(dom->dom, FALSE, error)) ||
        !(live = vmiDomainXMLParseString(xml, dom->name, error)))
        return FALSE;
    if (live->vmi && !(*def = vmiDomainXMLGetDef(live, error)))
        return FALSE;
    return TRUE;
}


/* A <vmi:key> must name a secret that exists and has a value. */
gboolean
vmiDomainCheckKey(vmiConn *conn, const vmiDef *def, GError **error)
{
    if (!def || !def->keySecret)
        return TRUE;
    return vmiSecretCheck(conn->secrets, def->keySecret, error);
}


static gboolean
vmiDomainDefineDoc(vmiConn *conn, vmiDomainXML *xml, const char *display,
                   char **name, GError **error)
{
    g_autofree char *text = vmiXMLNodeToString(xmlDocGetRootElement(xml->doc));
    g_autoptr(virDomain) defined = virDomainDefineXML(conn->conn, text);

    if (!defined) {
        vmiSetLibvirtError(error, "cannot define domain '%s'", display);
        return FALSE;
    }
    if (name)
        *name = g_strdup(virDomainGetName(defined));
    return TRUE;
}


/*
 * Makes the persistent definition carry @def (NULL: no introspection).
 * Defines nothing when nothing changes.
 */
gboolean
vmiDomainApply(vmiConn *conn, vmiDomain *dom, const vmiDef *def,
               GPtrArray *changes, GError **error)
{
    guint before = changes->len;

    if (!vmiDomainCheckKey(conn, def, error) ||
        !vmiSyncDomain(dom->xml, def, conn->keyDir, changes, error))
        return FALSE;
    if (changes->len == before)
        return TRUE;
    return vmiDomainDefineDoc(conn, dom->xml, dom->name, NULL, error);
}


/*
 * Defines a whole domain XML carrying @def, with the arguments in step.
 * Returns the domain's name.
 */
char *
vmiDomainDefine(vmiConn *conn, vmiDomainXML *dom, const vmiDef *def,
                const char *display, GPtrArray *changes, GError **error)
{
    char *name = NULL;

    if (dom->bare) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "%s: expected a whole domain XML, not a bare <vmi:introspection> element "
                    "(virt-vmi set configures an existing domain)", display);
        return NULL;
    }
    if (!dom->uuid) {
        /* The key file is named by the UUID: fix it now rather than let
         * libvirt invent one after the arguments are made. */
        dom->uuid = g_uuid_string_random();
        xmlNewTextChild(xmlDocGetRootElement(dom->doc), NULL,
                        BAD_CAST "uuid", BAD_CAST dom->uuid);
    }
    if (!vmiDomainCheckKey(conn, def, error) ||
        !vmiSyncDomain(dom, def, conn->keyDir, changes, error) ||
        !vmiDomainDefineDoc(conn, dom, display, &name, error))
        return NULL;
    return name;
}


/*
 * Puts @key into a new libvirt secret and points the domain's <vmi:key>
 * at it. If the definition cannot be written, the secret is undefined
 * again: nothing is left half-done.
 */
char *
vmiDomainAddKey(vmiConn *conn, vmiDomain *dom, const vmiKey *key,
                GPtrArray *changes, GError **error)
{
    g_autoptr(vmiDef) def = NULL;
    g_autofree char *uuid = NULL;
    g_autofree char *other = NULL;

    if (!dom->xml->vmi) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "domain '%s' has no <vmi:introspection>: configure it first "
                    "(virt-vmi set %s --socket PATH)", dom->name, dom->name);
        return NULL;
    }
    if (!(def = vmiDomainGetDef(dom, error)))
        return NULL;
    if (def->keySecret) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "domain '%s' already has a key, in secret '%s' (virt-vmi set %s "
                    "--key-secret none drops the reference first)",
                    dom->name, def->keySecret, dom->name);
        return NULL;
    }
    if ((other = vmiSecretFindForDomain(conn->secrets, dom->uuid))) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "secret '%s' already holds a key of domain '%s' (virt-vmi set %s "
                    "--key-secret %s uses it; virsh secret-undefine %s drops it)",
                    other, dom->name, dom->name, other, other);
        return NULL;
    }

    if (!(uuid = vmiSecretCreate(conn->secrets, dom->name, dom->uuid, key, error)))
        return NULL;
    def->keySecret = g_strdup(uuid);
    if (!vmiDomainApply(conn, dom, def, changes, error)) {
        vmiSecretUndefine(conn->secrets, uuid);
        return NULL;
    }
    return g_steal_pointer(&uuid);
}


/* The key itself, from the secret a domain's <vmi:key> names. */
vmiKey *
vmiDomainGetKey(vmiConn *conn, vmiDomain *dom, GError **error)
{
    g_autoptr(vmiDef) def = vmiDomainGetDef(dom, error);

    if (!def)
        return NULL;
    if (!def->keySecret) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_NOT_FOUND,
                    "domain '%s' has no <vmi:key>: its tool is not authenticated "
                    "(virt-vmi key-create %s makes a key)", dom->name, dom->name);
        return NULL;
    }
    return vmiSecretGetKey(conn->secrets, def->keySecret, error);
}


static vmiKey *
vmiDomainFetchKey(gpointer opaque, const char *secretUUID, GError **error)
{
    vmiConn *conn = opaque;

    return vmiSecretGetKey(conn->secrets, secretUUID, error);
}


/*
 * In embedded mode no hook runs, so what the hook does around a start
 * happens here, in-process; a daemon's hook does it for the others.
 */
static gboolean
vmiDomainPrepareEmbedded(vmiConn *conn, vmiDomain *dom, GError **error)
{
    g_autofree char *cacheDir = g_build_filename(conn->embedRoot, "cache", "libvirt-vmi", NULL);
    vmiLifecycle lc = { vmiDomainFetchKey, conn, conn->keyDir, cacheDir };
    g_autoptr(vmiDef) def = NULL;
    g_autofree char *label = NULL;

    if (dom->xml->vmi && !(def = vmiDomainGetDef(dom, error)))
        return FALSE;
    /* QEMU's user: the emulator probe runs as it, the key file becomes its */
    if (def && !(label = vmiDomainXMLGetDACLabel(dom->xml)) &&
        !(label = vmiConnGetDACBaseLabel(conn, "kvm", error)))
        return FALSE;
    lc.qemuLabel = label;
    if (!vmiLifecyclePrepare(&lc, dom->xml, def, error))
        return FALSE;
    if (!def || !def->keySecret)
        return TRUE;
    return vmiLifecycleHandOver(&lc, dom->xml, def, label, error);
}


/* @paused: QEMU starts with its vCPUs paused (-S), and they stay so. */
gboolean
vmiDomainStart(vmiConn *conn, vmiDomain *dom, gboolean paused, GError **error)
{
    if (dom->running) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "domain '%s' is already running", dom->name);
        return FALSE;
    }
    if (conn->embedRoot && !vmiDomainPrepareEmbedded(conn, dom, error)) {
        g_prefix_error(error, "domain '%s': ", dom->name);
        return FALSE;
    }
    if (virDomainCreateWithFlags(dom->dom, paused ? VIR_DOMAIN_START_PAUSED : 0) < 0) {
        vmiSetLibvirtError(error, "cannot start domain '%s'", dom->name);
        if (conn->embedRoot)
            vmiKeyFileRemove(conn->keyDir, dom->uuid, NULL);
        return FALSE;
    }
    /* as a daemon's hook does at `started`: QEMU has read the key file
     * when it created the secret object, and keeps the key in memory */
    if (conn->embedRoot && !vmiKeyFileRemove(conn->keyDir, dom->uuid, error)) {
        g_prefix_error(error, "domain '%s' started, but ", dom->name);
        return FALSE;
    }
    dom->running = TRUE;
    return TRUE;
}


gboolean
vmiDomainDestroy(vmiConn *conn, vmiDomain *dom, GError **error)
{
    /* a destroy does not wait for jobs: it would race the reconnection
     * (and lose: "domain is not running") */
    if (dom->running)
        vmiConnWaitReconnect(conn, dom->dom);
    if (virDomainDestroy(dom->dom) < 0) {
        vmiSetLibvirtError(error, "cannot destroy domain '%s'", dom->name);
        return FALSE;
    }
    dom->running = FALSE;
    return !conn->embedRoot || vmiKeyFileRemove(conn->keyDir, dom->uuid, error);
}


/* Returns once QEMU has paused: after the tool's unhook, or the timeout. */
gboolean
vmiDomainSuspend(vmiDomain *dom, GError **error)
{
    if (virDomainSuspend(dom->dom) < 0) {
        vmiSetLibvirtError(error, "cannot suspend domain '%s'", dom->name);
        return FALSE;
    }
    return TRUE;
}


/*
 * Resumes a domain whose introspection is required without its tool, on
 * purpose: records <vmistate:unmonitored since='...' uid='...'/> in its live
 * metadata first (for status, whatever client asks; gone when it stops),
 * then resumes.
 */
gboolean
vmiDomainResumeUnmonitored(vmiDomain *dom, GError **error)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *since = g_date_time_format_iso8601(now);
    g_autofree char *xml = g_strdup_printf("<" VMI_STATE_UNMONITORED " since='%s' uid='%u'/>",
                                           since, (unsigned)getuid());

    if (virDomainSetMetadata(dom->dom, VIR_DOMAIN_METADATA_ELEMENT, xml,
                             VMI_STATE_NAMESPACE_PREFIX, VMI_STATE_NAMESPACE_URI,
                             VIR_DOMAIN_AFFECT_LIVE) < 0) {
        vmiSetLibvirtError(error, "cannot record the unmonitored resume of domain '%s'",
                           dom->name);
        return FALSE;
    }
    if (virDomainResume(dom->dom) < 0) {
        vmiSetLibvirtError(error, "cannot resume domain '%s'", dom->name);
        virDomainSetMetadata(dom->dom, VIR_DOMAIN_METADATA_ELEMENT, NULL,
                             VMI_STATE_NAMESPACE_PREFIX, VMI_STATE_NAMESPACE_URI,
                             VIR_DOMAIN_AFFECT_LIVE);
        return FALSE;
    }
    return TRUE;
}


/*
 * Attribute @attr of the running domain's live state if that state is
 * @element (VMI_STATE_UNMONITORED, VMI_STATE_PAUSED), else NULL.
 */
char *
vmiDomainGetLiveState(virDomainPtr dom, const char *element, const char *attr)
{
    g_autofree char *xml = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root;
    xmlChar *value;
    char *ret;

    if (!(xml = vmiLibvirtTakeString(virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                                                          VMI_STATE_NAMESPACE_URI,
                                                          VIR_DOMAIN_AFFECT_LIVE)))) {
        virResetLastError();
        return NULL;
    }
    if (!(doc = vmiXMLReadString(xml, "the domain's live state", NULL)) ||
        !(root = xmlDocGetRootElement(doc)) || !xmlStrEqual(root->name, BAD_CAST element) ||
        !(value = xmlGetProp(root, BAD_CAST attr)))
        return NULL;
    ret = g_strdup((const char *)value);
    xmlFree(value);
    return ret;
}


/* When the running domain was resumed unmonitored (ISO 8601), or NULL. */
char *
vmiDomainGetUnmonitored(vmiDomain *dom)
{
    if (!dom->running)
        return NULL;
    return vmiDomainGetLiveState(dom->dom, VMI_STATE_UNMONITORED, "since");
}


/*
 * Records in the running domain's live metadata that virt-vmid paused it
 * for want of its tool, and why (<vmistate:paused since='...' reason='...'/>):
 * the daemon resumes only the domains it paused, after a restart of its
 * own too, and status says why they are paused. @reason NULL: removes
 * that record (and never an unmonitored one).
 */
void
vmiDomainGetPausedRecord(virDomainPtr dom, char **reason, char **since)
{
    *reason = vmiDomainGetLiveState(dom, VMI_STATE_PAUSED, "reason");
    *since = vmiDomainGetLiveState(dom, VMI_STATE_PAUSED, "since");
}


gboolean
vmiDomainRecordPaused(virDomainPtr dom, const char *reason, GError **error)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *since = g_date_time_format_iso8601(now);
    g_autofree char *current = NULL;
    g_autofree char *xml = NULL;

    if (reason) {
        g_autofree char *text = g_markup_escape_text(reason, -1);

        xml = g_strdup_printf("<" VMI_STATE_PAUSED " since='%s' reason='%s'/>", since, text);
    } else if (!(current = vmiDomainGetLiveState(dom, VMI_STATE_PAUSED, "since"))) {
        return TRUE;
    }
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml,
                             VMI_STATE_NAMESPACE_PREFIX, VMI_STATE_NAMESPACE_URI,
                             VIR_DOMAIN_AFFECT_LIVE) < 0) {
        vmiSetLibvirtError(error, "cannot record in domain '%s' that virt-vmid paused it",
                           virDomainGetName(dom));
        return FALSE;
    }
    return TRUE;
}


gboolean
vmiDomainResume(vmiDomain *dom, GError **error)
{
    if (virDomainResume(dom->dom) < 0) {
        vmiSetLibvirtError(error, "cannot resume domain '%s'", dom->name);
        return FALSE;
    }
    return TRUE;
}


/*
 * virsh save: QEMU stops the guest (held until the tool unhooks, as a
 * suspend), writes its memory to @file, and goes. The hook removes
 * nothing here: the key file went at `started`.
 */
gboolean
vmiDomainSave(vmiDomain *dom, const char *file, GError **error)
{
    if (virDomainSaveFlags(dom->dom, file, NULL, 0) < 0) {
        vmiSetLibvirtError(error, "cannot save domain '%s' to '%s'", dom->name, file);
        return FALSE;
    }
    dom->running = FALSE;
    return TRUE;
}


/*
 * The domain a save image holds, as its header describes it: the
 * definition it is restored with (its <vmi:introspection> too), never a
 * key (the header carries the key secret's UUID and the key file's path).
 */
vmiDomainXML *
vmiDomainSaveImageGetXML(vmiConn *conn, const char *file, GError **error)
{
    g_autofree char *xml = vmiLibvirtTakeString(virDomainSaveImageGetXMLDesc(conn->conn, file, 0));

    if (!xml) {
        vmiSetLibvirtError(error, "cannot read the save image '%s'", file);
        return NULL;
    }
    return vmiDomainXMLParseString(xml, file, error);
}


/*
 * virsh restore: a new QEMU, prepared by the hook (`restore begin`,
 * then the usual prepare/start/started) like a start; in embedded mode,
 * here. @image: the image's domain, from vmiDomainSaveImageGetXML().
 * Returns the restored domain.
 */
vmiDomain *
vmiDomainRestore(vmiConn *conn, const char *file, vmiDomainXML *image,
                 gboolean paused, GError **error)
{
    g_autoptr(vmiDomain) dom = g_new0(vmiDomain, 1);
    const char *display = image->name ? image->name : file;
    unsigned int flags = paused ? VIR_DOMAIN_SAVE_PAUSED : VIR_DOMAIN_SAVE_RUNNING;

    if (conn->embedRoot) {
        if (!image->uuid) {
            g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "save image '%s' holds a domain without a UUID", file);
            return NULL;
        }
        dom->xml = image;
        dom->name = display;
        g_strlcpy(dom->uuid, image->uuid, sizeof(dom->uuid));
        if (!vmiDomainPrepareEmbedded(conn, dom, error)) {
            dom->xml = NULL;
            g_prefix_error(error, "domain '%s': ", display);
            return NULL;
        }
        dom->xml = NULL;
    }
    if (virDomainRestoreFlags(conn->conn, file, NULL, flags) < 0) {
        vmiSetLibvirtError(error, "cannot restore domain '%s' from '%s'", display, file);
        if (conn->embedRoot)
            vmiKeyFileRemove(conn->keyDir, image->uuid, NULL);
        return NULL;
    }
    if (conn->embedRoot && !vmiKeyFileRemove(conn->keyDir, image->uuid, error)) {
        g_prefix_error(error, "domain '%s' restored, but ", display);
        return NULL;
    }
    g_clear_pointer(&dom, vmiDomainFree);
    return vmiDomainLoad(conn, image->uuid ? image->uuid : image->name,
                         VMI_DOMAIN_LOAD_ANY, error);
}


/*
 * virsh snapshot-create: on a running domain libvirt pauses it first
 * (`stop`, held until the tool unhooks), writes the snapshot, and
 * resumes it. @memoryFile: an external snapshot, the memory in that
 * file and an overlay for every disk; NULL: an internal one (qcow2
 * disks). @name: NULL lets libvirt pick one. Returns the snapshot's name.
 */
char *
vmiDomainSnapshotCreate(vmiDomain *dom, const char *name, const char *memoryFile,
                        GError **error)
{
    g_autoptr(GString) xml = g_string_new("<domainsnapshot>\n");
    virDomainSnapshotPtr snap;
    unsigned int flags = 0;
    char *created;

    if (name) {
        g_autofree char *text = g_markup_escape_text(name, -1);
        g_string_append_printf(xml, "  <name>%s</name>\n", text);
    }
    if (memoryFile) {
        g_autofree char *text = g_markup_escape_text(memoryFile, -1);
        g_string_append_printf(xml, "  <memory snapshot='external' file='%s'/>\n", text);
        flags |= VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC;
    }
    g_string_append(xml, "</domainsnapshot>\n");

    if (!(snap = virDomainSnapshotCreateXML(dom->dom, xml->str, flags))) {
        vmiSetLibvirtError(error, "cannot create a snapshot of domain '%s'", dom->name);
        return NULL;
    }
    created = g_strdup(virDomainSnapshotGetName(snap));
    virDomainSnapshotFree(snap);
    dom->running = vmiDomainIsRunning(dom->dom);
    return created;
}


/*
 * Asks libvirt to cancel the domain's job (a save, an external snapshot's
 * memory, a migration), as virsh does on Ctrl-C. It blocks while a held
 * `stop` keeps the job's monitor call waiting: libvirt cancels once QEMU
 * has answered it (the tool unhooked, or the unhook timeout).
 */
gboolean
vmiDomainAbortJob(virDomainPtr dom, const char *name, GError **error)
{
    if (virDomainAbortJob(dom) < 0) {
        vmiSetLibvirtError(error, "cannot cancel the job of domain '%s'", name);
        return FALSE;
    }
    return TRUE;
}
