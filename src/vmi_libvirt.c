/*
 * vmi_libvirt.c: opening connections, finding domains, reporting
 * libvirt's errors through GError
 */
#include <gio/gio.h>
#include <libvirt/virterror.h>
#include <string.h>

#include "vmi_libvirt.h"
#include "conf/vmi_error.h"


static void
vmiLibvirtSilence(void *opaque, virErrorPtr err)
{
    /* errors are reported through GError, not printed by libvirt */
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


/* Sets @error to "<context>: <libvirt's last error>". */
void
vmiSetLibvirtError(GError **error, const char *fmt, ...)
{
    virErrorPtr err = virGetLastError();
    g_autofree char *context = NULL;
    int code = VMI_ERROR_OPERATION;
    va_list ap;

    va_start(ap, fmt);
    context = g_strdup_vprintf(fmt, ap);
    va_end(ap);

    if (err && (err->code == VIR_ERR_NO_DOMAIN || err->code == VIR_ERR_NO_SECRET))
        code = VMI_ERROR_NOT_FOUND;
    g_set_error(error, VMI_ERROR, code, "%s: %s", context,
                err && err->message ? err->message : "unknown libvirt error");
    virResetLastError();
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
        return g_strdup(VMI_KEY_DIR_SYSTEM);
    return g_build_filename(root, "run", "libvirt-vmi", NULL);
}


void
vmiConnClose(vmiConn *conn)
{
    if (!conn)
        return;
    if (conn->conn)
        virConnectClose(conn->conn);
    g_free(conn->uri);
    g_free(conn->embedRoot);
    g_free(conn->keyDir);
    g_free(conn);
}


/* @uri NULL: libvirt's default, as virsh. */
vmiConn *
vmiConnOpen(const char *uri, GError **error)
{
    g_autoptr(vmiConn) conn = g_new0(vmiConn, 1);
    char *actual;

    vmiLibvirtInit();
    if (!(conn->conn = virConnectOpen(uri))) {
        vmiSetLibvirtError(error, "cannot connect to libvirt%s%s",
                           uri ? " at " : "", uri ? uri : "");
        return NULL;
    }
    if ((actual = virConnectGetURI(conn->conn))) {
        conn->uri = g_strdup(actual);
        free(actual);
    } else {
        conn->uri = g_strdup(uri ? uri : "");
    }
    /* The URI as given keeps the root as the user wrote it. */
    conn->keyDir = vmiConnKeyDirForURI(uri ? uri : conn->uri);
    conn->embedRoot = vmiURIEmbedRoot(uri ? uri : conn->uri);
    return g_steal_pointer(&conn);
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
        virResetLastError();
        g_set_error(error, VMI_ERROR, VMI_ERROR_NOT_FOUND,
                    "domain '%s' not found (by name, UUID or id) at %s", name, conn->uri);
    }
    return dom;
}


/*
 * The persistent definition with everything in it: SECURE keeps
 * passwords a redefinition must not lose.
 */
char *
vmiDomainGetConfigXML(virDomainPtr dom, GError **error)
{
    char *xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
    char *copy;

    if (!xml) {
        vmiSetLibvirtError(error, "cannot get the definition of domain '%s'",
                           virDomainGetName(dom));
        return NULL;
    }
    copy = g_strdup(xml);
    free(xml);
    return copy;
}


gboolean
vmiDomainIsRunning(virDomainPtr dom)
{
    return virDomainIsActive(dom) == 1;
}
