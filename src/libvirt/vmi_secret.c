/*
 * vmi_secret.c: introspection keys in libvirt secrets
 *
 * A key lives in a libvirt secret the domain's <vmi:key> names. The
 * secret is not private: the libvirt hook reads its value to write the
 * per-run key file QEMU reads (libvirt itself never hands it to QEMU).
 */
#include <string.h>
#include <libvirt/virterror.h>

#include "libvirt/vmi_secret.h"
#include "libvirt/vmi_libvirt.h"
#include "conf/vmi_error.h"
#include "conf/vmi_xml.h"


virSecretPtr
vmiSecretLookup(virConnectPtr conn, const char *uuid, GError **error)
{
    virSecretPtr secret = virSecretLookupByUUIDString(conn, uuid);

    if (!secret) {
        virErrorPtr err = virGetLastError();

        if (err && err->code == VIR_ERR_NO_SECRET) {
            virResetLastError();
            g_set_error(error, VMI_ERROR, VMI_ERROR_NOT_FOUND,
                        "key secret '%s' does not exist (virsh secret-list shows the secrets; "
                        "virt-vmi key-create or key-import makes one)", uuid);
        } else {
            vmiSetLibvirtError(error, "cannot look up key secret '%s'", uuid);
        }
    }
    return secret;
}


gboolean
vmiSecretCheck(virConnectPtr conn, const char *uuid, GError **error)
{
    g_autoptr(vmiKey) key = vmiSecretGetKey(conn, uuid, error);

    return key != NULL;
}


vmiKey *
vmiSecretReadKey(virSecretPtr secret, const char *uuid, GError **error)
{
    g_autoptr(vmiKey) key = NULL;
    unsigned char *value;
    size_t len = 0;

    if (!(value = virSecretGetValue(secret, &len, 0))) {
        vmiSetLibvirtError(error, "cannot read the value of key secret '%s' "
                           "(it must have a value and not be private)", uuid);
        return NULL;
    }
    key = g_new0(vmiKey, 1);
    key->data = g_memdup2(value, len);
    key->len = len;
    explicit_bzero(value, len);
    free(value);
    if (len == 0) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "key secret '%s' has an empty value", uuid);
        return NULL;
    }
    return g_steal_pointer(&key);
}


vmiKey *
vmiSecretGetKey(virConnectPtr conn, const char *uuid, GError **error)
{
    g_autoptr(virSecret) secret = vmiSecretLookup(conn, uuid, error);

    return secret ? vmiSecretReadKey(secret, uuid, error) : NULL;
}


/* The UUID of the secret vmiSecretCreate made for the domain, if any. */
char *
vmiSecretFindForDomain(virConnectPtr conn, const char *domUUID)
{
    g_autofree char *usage = g_strdup_printf(VMI_SECRET_USAGE_PREFIX "%s", domUUID);
    g_autoptr(virSecret) secret = virSecretLookupByUsage(conn, VIR_SECRET_USAGE_TYPE_TLS, usage);
    char uuid[VIR_UUID_STRING_BUFLEN] = "";

    if (!secret) {
        virResetLastError();
        return NULL;
    }
    virSecretGetUUIDString(secret, uuid);
    return g_strdup(uuid);
}


/* Undoes vmiSecretCreate; best effort, as it runs on a failure path. */
void
vmiSecretUndefine(virConnectPtr conn, const char *uuid)
{
    g_autoptr(virSecret) secret = virSecretLookupByUUIDString(conn, uuid);

    if (secret)
        virSecretUndefine(secret);
    virResetLastError();
}


/*
 * libvirt has no usage type for this; 'tls' is the one for credentials
 * that authenticate a channel, and its name makes `virsh secret-list`
 * say whose key it is.
 */
static char *
vmiSecretFormat(const char *domName, const char *domUUID)
{
    g_autoptr(xmlDoc) doc = xmlNewDoc(BAD_CAST "1.0");
    g_autofree char *description =
        g_strdup_printf("libvirt-vmi: key that authenticates the VM introspection tool "
                        "of domain '%s' (%s)", domName, domUUID);
    g_autofree char *usageName = g_strdup_printf(VMI_SECRET_USAGE_PREFIX "%s", domUUID);
    xmlNodePtr root = xmlNewNode(NULL, BAD_CAST "secret");
    xmlNodePtr usage;

    xmlDocSetRootElement(doc, root);
    xmlNewProp(root, BAD_CAST "ephemeral", BAD_CAST "no");
    xmlNewProp(root, BAD_CAST "private", BAD_CAST "no");
    xmlNewTextChild(root, NULL, BAD_CAST "description", BAD_CAST description);
    usage = xmlNewChild(root, NULL, BAD_CAST "usage", NULL);
    xmlNewProp(usage, BAD_CAST "type", BAD_CAST "tls");
    xmlNewTextChild(usage, NULL, BAD_CAST "name", BAD_CAST usageName);
    return vmiXMLNodeToString(root);
}


/* A new secret holding @key, for the domain; returns its UUID. */
char *
vmiSecretCreate(virConnectPtr conn, const char *domName, const char *domUUID,
                const vmiKey *key, GError **error)
{
    g_autofree char *xml = vmiSecretFormat(domName, domUUID);
    g_autoptr(virSecret) secret = NULL;
    char uuid[VIR_UUID_STRING_BUFLEN];

    if (!(secret = virSecretDefineXML(conn, xml, 0))) {
        vmiSetLibvirtError(error, "cannot define the key secret of domain '%s'", domName);
        return NULL;
    }
    if (virSecretSetValue(secret, key->data, key->len, 0) < 0) {
        vmiSetLibvirtError(error, "cannot set the key secret's value");
        virSecretUndefine(secret);
        return NULL;
    }
    if (virSecretGetUUIDString(secret, uuid) < 0) {
        vmiSetLibvirtError(error, "cannot get the key secret's UUID");
        return NULL;
    }
    return g_strdup(uuid);
}


/*
 * Copies key secret @uuid from @src to @dst: its definition as @src has
 * it (the same UUID, usage, description, private and ephemeral flags),
 * then its value. A private secret's value cannot be read through the
 * API, so it cannot be copied (nor could the hook read it).
 */
gboolean
vmiSecretCopy(virConnectPtr src, virConnectPtr dst, const char *uuid, GError **error)
{
    g_autoptr(virSecret) from = vmiSecretLookup(src, uuid, error);
    g_autoptr(virSecret) to = NULL;
    g_autoptr(vmiKey) key = NULL;
    g_autofree char *xml = NULL;

    if (!from)
        return FALSE;
    if (!(key = vmiSecretGetKey(src, uuid, error)))
        return FALSE;
    if (!(xml = vmiLibvirtTakeString(virSecretGetXMLDesc(from, 0)))) {
        vmiSetLibvirtError(error, "cannot get the definition of key secret '%s'", uuid);
        return FALSE;
    }
    to = virSecretDefineXML(dst, xml, 0);
    if (!to) {
        vmiSetLibvirtError(error, "cannot define key secret '%s' on the destination", uuid);
        return FALSE;
    }
    if (virSecretSetValue(to, key->data, key->len, 0) < 0) {
        vmiSetLibvirtError(error, "cannot set the value of key secret '%s' on the destination",
                           uuid);
        virSecretUndefine(to);
        return FALSE;
    }
    return TRUE;
}
