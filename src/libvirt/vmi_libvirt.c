/*
 * vmi_libvirt.c: opening connections, finding domains, reporting
 * libvirt's errors through GError
 */
#include <gio/gio.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <libvirt-glib/libvirt-glib.h>
#include <libxml/xpath.h>
#include <string.h>

#include "libvirt/vmi_libvirt.h"
#include "conf/vmi_error.h"
#include "conf/vmi_xml.h"
#include "core/vmi_paths.h"


static void
vmiLibvirtSilence(void *opaque, virErrorPtr err)
{
    /* errors are reported through GError, not printed by libvirt */
}


static gpointer
vmiLibvirtEventThread(gpointer data)
{
    GMainLoop *loop = data;

    g_main_loop_run(loop);
    return NULL;
}


static gpointer
vmiLibvirtInitOnce(gpointer data)
{
    if (virInitialize() < 0)
        g_error("cannot initialize libvirt");
    virSetErrorFunc(NULL, vmiLibvirtSilence);
    return NULL;
}


void
vmiLibvirtInit(void)
{
    static GOnce once = G_ONCE_INIT;

    g_once(&once, vmiLibvirtInitOnce, NULL);
}


/*
 * The embedded driver runs QEMU's monitor in this process, on libvirt's
 * event loop: libvirt-glib's, which lives on GLib's global default main
 * context, run by a thread for the life of the process. The program's
 * own threads therefore never iterate the default context.
 */
static gpointer
vmiLibvirtEventLoopOnce(gpointer data)
{
    gvir_init(NULL, NULL);
    gvir_event_register();
    g_thread_unref(g_thread_new("libvirt-events", vmiLibvirtEventThread,
                                g_main_loop_new(NULL, FALSE)));
    return NULL;
}


/* For a program that runs GLib's main loop itself (virt-vmid): libvirt's
 * events are dispatched from it. */
void
vmiLibvirtUseMainLoop(void)
{
    gvir_init(NULL, NULL);
    gvir_event_register();
    vmiLibvirtInit();
}


static void
vmiLibvirtStartEventLoop(void)
{
    static GOnce once = G_ONCE_INIT;

    g_once(&once, vmiLibvirtEventLoopOnce, NULL);
}


/* Sets @error to "<context>: <libvirt's last error>". */
void
vmiSetLibvirtError(GError **error, const char *fmt, ...)
{
    virErrorPtr err = virGetLastError();
    g_autofree char *context = NULL;
    int code = VMI_ERROR_OPERATION;
    g_autofree char *message = NULL;
    va_list ap;

    va_start(ap, fmt);
    context = g_strdup_vprintf(fmt, ap);
    va_end(ap);

    if (err && (err->code == VIR_ERR_NO_DOMAIN || err->code == VIR_ERR_NO_SECRET))
        code = VMI_ERROR_NOT_FOUND;
    /* a hook's failure ends with the newline of its stderr: the message may
     * be followed by more ("; the source runs on") */
    message = g_strdup(err && err->message ? err->message : "unknown libvirt error");
    g_set_error(error, VMI_ERROR, code, "%s: %s", context, g_strchomp(message));
    virResetLastError();
}


/*
 * libvirt hands out strings that go with free(), ours go with g_free():
 * this takes @str (NULL too) and gives the same text in ours.
 */
char *
vmiLibvirtTakeString(char *str)
{
    char *copy = g_strdup(str);

    free(str);
    return copy;
}


/* qemu:///embed?root=DIR gives DIR; any other URI NULL. */
static char *
vmiURIEmbedRoot(const char *uri)
{
    g_autoptr(GUri) parsed = g_uri_parse(uri, G_URI_FLAGS_ENCODED_QUERY, NULL);
    g_autoptr(GHashTable) params = NULL;

    if (!parsed || g_strcmp0(g_uri_get_scheme(parsed), "qemu") != 0 ||
        g_strcmp0(g_uri_get_path(parsed), "/embed") != 0 ||
        !g_uri_get_query(parsed))
        return NULL;
    params = g_uri_parse_params(g_uri_get_query(parsed), -1, "&", G_URI_PARAMS_NONE, NULL);
    return params ? g_strdup(g_hash_table_lookup(params, "root")) : NULL;
}


/*
 * The embedded driver keeps everything under its root, so its key files
 * go there too; every other QEMU driver uses the system directory.
 */
char *
vmiConnKeyDirForURI(const char *uri)
{
    g_autofree char *root = vmiURIEmbedRoot(uri);

    if (!root)
        return g_strdup(VMI_KEY_DIR_DEFAULT);
    return g_build_filename(root, VMI_KEY_DIR_DEFAULT, NULL);
}


/* Where libvirt writes QEMU's standard error for domain @name: an
 * embedded root keeps its logs under ROOT/log/qemu. */
char *
vmiConnDomainLogPath(vmiConn *conn, const char *name)
{
    g_autofree char *file = g_strdup_printf("%s.log", name);

    if (conn->embedRoot)
        return g_build_filename(conn->embedRoot, "log", "qemu", file, NULL);
    return g_build_filename(VMI_QEMU_LOG_DIR, file, NULL);
}


/*
 * A process that opens an embedded root reconnects to the root's running
 * domains in threads libvirt never joins; exiting while one still runs
 * crashes libvirt 9.0 (its cgroup code calls libnuma after exit() has
 * freed it). Each such thread holds a job on its domain, so a call that
 * takes a query job returns only once the reconnection is over.
 */
void
vmiConnWaitReconnect(vmiConn *conn, virDomainPtr dom)
{
    virDomainMemoryStatStruct stats[VIR_DOMAIN_MEMORY_STAT_NR];

    if (conn->embedRoot &&
        virDomainMemoryStats(dom, stats, VIR_DOMAIN_MEMORY_STAT_NR, 0) < 0)
        virResetLastError();
}


static void
vmiConnWaitReconnects(vmiConn *conn)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

    if (n < 0) {
        virResetLastError();
        return;
    }
    for (int i = 0; i < n; i++) {
        vmiConnWaitReconnect(conn, doms[i]);
        virDomainFree(doms[i]);
    }
    free(doms);
}


void
vmiConnClose(vmiConn *conn)
{
    if (!conn)
        return;
    if (conn->embedRoot && conn->conn)
        vmiConnWaitReconnects(conn);
    if (conn->secrets && conn->secrets != conn->conn)
        virConnectClose(conn->secrets);
    if (conn->conn)
        virConnectClose(conn->conn);
    g_free(conn->uri);
    g_free(conn->embedRoot);
    g_free(conn->keyDir);
    g_free(conn);
}


/*
 * An embedded driver runs in this process and would log its warnings
 * ("tainted: custom-argv") on our standard error: they go to the root's
 * log directory instead, unless the user chose where libvirt logs.
 */
static void
vmiLibvirtSetLogging(const char *uri)
{
    g_autofree char *root = uri ? vmiURIEmbedRoot(uri) : NULL;
    g_autofree char *outputs = NULL;
    g_autofree char *dir = NULL;

    if (!root || g_getenv("LIBVIRT_LOG_OUTPUTS"))
        return;
    dir = g_build_filename(root, "log", NULL);
    g_mkdir_with_parents(dir, 0700);
    outputs = g_strdup_printf("3:file:%s/libvirt.log", dir);
    g_setenv("LIBVIRT_LOG_OUTPUTS", outputs, TRUE);
}


/* @uri NULL: libvirt's default, as virsh. */
vmiConn *
vmiConnOpen(const char *uri, GError **error)
{
    g_autoptr(vmiConn) conn = g_new0(vmiConn, 1);
    g_autofree char *root = NULL;
    const char *target = uri ? uri : g_getenv("LIBVIRT_DEFAULT_URI");

    vmiLibvirtSetLogging(target);
    vmiLibvirtInit();
    /* the embedded driver needs the loop before it is opened */
    if (target && (root = vmiURIEmbedRoot(target)))
        vmiLibvirtStartEventLoop();
    if (!(conn->conn = virConnectOpen(uri))) {
        vmiSetLibvirtError(error, "cannot connect to libvirt%s%s",
                           uri ? " at " : "", uri ? uri : "");
        return NULL;
    }
    if (!(conn->uri = vmiLibvirtTakeString(virConnectGetURI(conn->conn))))
        conn->uri = g_strdup(uri ? uri : "");
    /* The URI as given keeps the root as the user wrote it. */
    conn->keyDir = vmiConnKeyDirForURI(uri ? uri : conn->uri);
    conn->embedRoot = vmiURIEmbedRoot(uri ? uri : conn->uri);

    /* qemu:///embed has no secret driver of its own: the embedded one
     * of the same root is where the QEMU driver looks for secrets too. */
    conn->secrets = conn->conn;
    if (conn->embedRoot) {
        g_autofree char *escaped = g_uri_escape_string(conn->embedRoot, "/", FALSE);
        g_autofree char *secretURI = g_strdup_printf("secret:///embed?root=%s", escaped);

        if (!(conn->secrets = virConnectOpen(secretURI))) {
            vmiSetLibvirtError(error, "cannot open the embedded secret driver %s", secretURI);
            return NULL;
        }
    }
    return g_steal_pointer(&conn);
}


/*
 * Another handle on @conn's connections, for a thread: its own references,
 * so that the owner may close (a reconnection) while the thread still
 * works. Not for an embedded driver, whose owner alone waits at close.
 */
vmiConn *
vmiConnShare(const vmiConn *conn)
{
    vmiConn *shared;

    g_return_val_if_fail(!conn->embedRoot, NULL);
    shared = g_new0(vmiConn, 1);
    shared->conn = conn->conn;
    virConnectRef(shared->conn);
    shared->secrets = conn->secrets;
    if (shared->secrets != shared->conn)
        virConnectRef(shared->secrets);
    shared->uri = g_strdup(conn->uri);
    shared->keyDir = g_strdup(conn->keyDir);
    return shared;
}


/* By name, UUID or id, as virsh. */
virDomainPtr
vmiConnLookupDomain(vmiConn *conn, const char *name, GError **error)
{
    virDomainPtr dom = NULL;
    guint64 id;

    if (g_ascii_string_to_unsigned(name, 10, 1, G_MAXINT, &id, NULL))
        dom = virDomainLookupByID(conn->conn, id);
    if (!dom && g_uuid_string_is_valid(name))
        dom = virDomainLookupByUUIDString(conn->conn, name);
    if (!dom)
        dom = virDomainLookupByName(conn->conn, name);
    if (!dom) {
        g_autofree char *quoted = vmiErrorQuote(name);

        virResetLastError();
        g_set_error(error, VMI_ERROR, VMI_ERROR_NOT_FOUND,
                    "domain '%s' not found (by name, UUID or id) at %s", quoted, conn->uri);
    }
    return dom;
}


/*
 * The persistent (@inactive) or live definition with everything in it:
 * SECURE keeps passwords a redefinition must not lose.
 */
char *
vmiDomainGetXML(virDomainPtr dom, gboolean inactive, GError **error)
{
    unsigned int flags = (inactive ? VIR_DOMAIN_XML_INACTIVE : 0) | VIR_DOMAIN_XML_SECURE;
    char *xml = vmiLibvirtTakeString(virDomainGetXMLDesc(dom, flags));

    if (!xml)
        vmiSetLibvirtError(error, "cannot get the definition of domain '%s'",
                           virDomainGetName(dom));
    return xml;
}


gboolean
vmiDomainIsRunning(virDomainPtr dom)
{
    return virDomainIsActive(dom) == 1;
}


/*
 * The user:group the driver runs QEMU as, from the capabilities' DAC
 * <baselabel> for @virtType (qemu.conf's user and group).
 */
char *
vmiConnGetDACBaseLabel(vmiConn *conn, const char *virtType, GError **error)
{
    g_autofree char *xpath = g_strdup_printf("string(/capabilities/host/secmodel[model='dac']"
                                             "/baselabel[@type='%s'])", virtType);
    g_autoptr(xmlDoc) doc = NULL;
    xmlXPathContextPtr ctxt = NULL;
    xmlXPathObjectPtr obj = NULL;
    g_autofree char *caps = NULL;
    char *label = NULL;

    if (!(caps = vmiLibvirtTakeString(virConnectGetCapabilities(conn->conn)))) {
        vmiSetLibvirtError(error, "cannot get the capabilities of %s", conn->uri);
        return NULL;
    }
    if (!(doc = vmiXMLReadString(caps, "capabilities", error)))
        return NULL;

    ctxt = xmlXPathNewContext(doc);
    obj = xmlXPathEval(BAD_CAST xpath, ctxt);
    if (obj && obj->type == XPATH_STRING && obj->stringval && *obj->stringval)
        label = g_strdup((const char *)obj->stringval);
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctxt);

    if (!label)
        g_set_error(error, VMI_ERROR, VMI_ERROR_NOT_FOUND,
                    "%s reports no DAC label for %s domains: cannot tell which user QEMU runs as",
                    conn->uri, virtType);
    return label;
}


/*
 * The UUIDs of the persistent domains, for the commands that go over all
 * of them: by UUID, since a name may be reused between listing and
 * loading.
 */
GStrv
vmiConnListPersistentDomains(vmiConn *conn, GError **error)
{
    g_autoptr(GStrvBuilder) uuids = g_strv_builder_new();
    virDomainPtr *domains = NULL;
    int n, i;

    if ((n = virConnectListAllDomains(conn->conn, &domains,
                                      VIR_CONNECT_LIST_DOMAINS_PERSISTENT)) < 0) {
        vmiSetLibvirtError(error, "cannot list the domains");
        return NULL;
    }
    for (i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (virDomainGetUUIDString(domains[i], uuid) == 0)
            g_strv_builder_add(uuids, uuid);
        virDomainFree(domains[i]);
    }
    free(domains);
    return g_strv_builder_end(uuids);
}


/* One QMP command on a running domain's monitor: QEMU's reply, an error
 * reply included; NULL when libvirt could not ask. */
char *
vmiDomainQemuMonitor(virDomainPtr dom, const char *command, GError **error)
{
    char *reply = NULL;

    if (virDomainQemuMonitorCommand(dom, command, &reply, 0) < 0) {
        vmiSetLibvirtError(error, "cannot talk to the QEMU monitor of domain '%s'",
                           virDomainGetName(dom));
        return NULL;
    }
    return vmiLibvirtTakeString(reply);
}


gboolean
vmiDomainIsPaused(virDomainPtr dom)
{
    int state = VIR_DOMAIN_NOSTATE;
    int reason;

    return virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_PAUSED;
}
