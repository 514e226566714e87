/*
 * vmi_secret.h: introspection keys in libvirt secrets
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "core/vmi_key.h"

#define VMI_SECRET_USAGE_PREFIX "libvirt-vmi/"

gboolean vmiSecretCheck(virConnectPtr conn, const char *uuid, GError **error);
virSecretPtr vmiSecretLookup(virConnectPtr conn, const char *uuid, GError **error);
vmiKey *vmiSecretReadKey(virSecretPtr secret, const char *uuid, GError **error);
vmiKey *vmiSecretGetKey(virConnectPtr conn, const char *uuid, GError **error);
char *vmiSecretFindForDomain(virConnectPtr conn, const char *domUUID);
void vmiSecretUndefine(virConnectPtr conn, const char *uuid);
char *vmiSecretCreate(virConnectPtr conn, const char *domName, const char *domUUID,
                      const vmiKey *key, GError **error);
gboolean vmiSecretCopy(virConnectPtr src, virConnectPtr dst, const char *uuid, GError **error);
