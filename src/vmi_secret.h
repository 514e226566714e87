/*
 * vmi_secret.h: introspection keys in libvirt secrets
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#define VMI_KEY_BYTES 32
#define VMI_KEY_MAX_BYTES 65536
#define VMI_SECRET_USAGE_PREFIX "libvirt-vmi/"

/* Key material: wiped before it is freed. */
typedef struct {
    guchar *data;
    size_t len;
} vmiKey;

void vmiKeyFree(vmiKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmiKey, vmiKeyFree)

vmiKey *vmiKeyNewRandom(GError **error);
vmiKey *vmiKeyReadFile(const char *path, GError **error);
char *vmiKeyHashHex(const vmiKey *key);

gboolean vmiSecretCheck(virConnectPtr conn, const char *uuid, GError **error);
vmiKey *vmiSecretGetKey(virConnectPtr conn, const char *uuid, GError **error);
char *vmiSecretCreate(virConnectPtr conn, const char *domName, const char *domUUID,
                      const vmiKey *key, GError **error);
