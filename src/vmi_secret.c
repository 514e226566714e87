/*
 * vmi_secret.c: introspection keys in libvirt secrets
 *
 * A key lives in a libvirt secret the domain's <vmi:key> names. The
 * secret is not private: the libvirt hook reads its value to write the
 * per-run key file QEMU reads (libvirt itself never hands it to QEMU).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libvirt/virterror.h>

#include "vmi_secret.h"
#include "vmi_libvirt.h"
#include "conf/vmi_error.h"


void
vmiKeyFree(vmiKey *key)
{
    if (!key)
        return;
    if (key->data) {
        explicit_bzero(key->data, key->len);
        g_free(key->data);
    }
    g_free(key);
}


vmiKey *
vmiKeyNewRandom(GError **error)
{
    g_autoptr(vmiKey) key = g_new0(vmiKey, 1);

    key->len = VMI_KEY_BYTES;
    key->data = g_malloc(key->len);
    /* The kernel's CSPRNG; 32 bytes never come back short. */
    if (getrandom(key->data, key->len, 0) != (ssize_t)key->len) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "cannot get random bytes for a key: %s", g_strerror(errno));
        return NULL;
    }
    return g_steal_pointer(&key);
}


/*
 * All the bytes of @path, which must be a file of 1 to VMI_KEY_MAX_BYTES
 * bytes. Errors quote the path with ASCII quotes and say why from errno:
 * GLib's messages use typographic quotes, which a C locale prints as '?'.
 */
vmiKey *
vmiKeyReadFile(const char *path, GError **error)
{
    g_autoptr(vmiKey) key = g_new0(vmiKey, 1);
    struct stat st;
    int fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 || fstat(fd, &st) < 0) {
        int errsv = errno;
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "cannot read key file '%s': %s", path, g_strerror(errsv));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "cannot read key file '%s': it is a directory", path);
        return NULL;
    }
    if (S_ISREG(st.st_mode) && st.st_size > VMI_KEY_MAX_BYTES) {
        close(fd);
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "invalid key file '%s': %lld bytes, expected at most %d",
                    path, (long long)st.st_size, VMI_KEY_MAX_BYTES);
        return NULL;
    }

    /* One byte more than allowed tells a pipe that is too long. */
    key->data = g_malloc(VMI_KEY_MAX_BYTES + 1);
    while (key->len <= VMI_KEY_MAX_BYTES) {
        ssize_t n = read(fd, key->data + key->len, VMI_KEY_MAX_BYTES + 1 - key->len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int errsv = errno;
            close(fd);
            g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "cannot read key file '%s': %s", path, g_strerror(errsv));
            return NULL;
        }
        if (n == 0)
            break;
        key->len += n;
    }
    close(fd);
    if (key->len == 0) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "invalid key file '%s': 0 bytes, expected 1 to %d", path, VMI_KEY_MAX_BYTES);
        return NULL;
    }
    if (key->len > VMI_KEY_MAX_BYTES) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "invalid key file '%s': more than %d bytes, expected at most %d",
                    path, VMI_KEY_MAX_BYTES, VMI_KEY_MAX_BYTES);
        return NULL;
    }
    return g_steal_pointer(&key);
}


/* What the tool sends back in the handshake: SHA-1 over all the key's bytes. */
char *
vmiKeyHashHex(const vmiKey *key)
{
    return g_compute_checksum_for_data(G_CHECKSUM_SHA1, key->data, key->len);
}


static virSecretPtr
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
vmiSecretGetKey(virConnectPtr conn, const char *uuid, GError **error)
{
    g_autoptr(virSecret) secret = vmiSecretLookup(conn, uuid, error);
    g_autoptr(vmiKey) key = NULL;
    unsigned char *value;
    size_t len = 0;

    if (!secret)
        return NULL;
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


/*
 * libvirt has no usage type for this; 'tls' is the one for credentials
 * that authenticate a channel, and its name makes `virsh secret-list`
 * say whose key it is.
 */
char *
vmiSecretCreate(virConnectPtr conn, const char *domName, const char *domUUID,
                const vmiKey *key, GError **error)
{
    g_autofree char *xml = NULL;
    g_autofree char *escaped = g_markup_escape_text(domName, -1);
    g_autoptr(virSecret) secret = NULL;
    char uuid[VIR_UUID_STRING_BUFLEN];

    xml = g_strdup_printf("<secret ephemeral='no' private='no'>\n"
                          "  <description>libvirt-vmi: key that authenticates the VM "
                          "introspection tool of domain '%s' (%s)</description>\n"
                          "  <usage type='tls'>\n"
                          "    <name>" VMI_SECRET_USAGE_PREFIX "%s</name>\n"
                          "  </usage>\n"
                          "</secret>\n", escaped, domUUID, domUUID);

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
