/*
 * vmi_libvirt.h: a libvirt connection as libvirt-vmi uses it
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "core/qemu_vmi.h"


typedef struct _vmiConn vmiConn;
struct _vmiConn {
    virConnectPtr conn;
    virConnectPtr secrets;  /* the secret driver: @conn, or embedded's own */
    char *uri;              /* as libvirt reports it */
    char *embedRoot;        /* qemu:///embed?root=DIR: DIR, else NULL */
    char *keyDir;           /* where per-run key files live for this driver */
};

void vmiConnClose(vmiConn *conn);
void vmiConnWaitReconnect(vmiConn *conn, virDomainPtr dom);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmiConn, vmiConnClose)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virSecret, virSecretFree)

void vmiLibvirtInit(void);
void vmiLibvirtUseMainLoop(void);
void vmiSetLibvirtError(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
char *vmiLibvirtTakeString(char *str);

vmiConn *vmiConnOpen(const char *uri, GError **error);
vmiConn *vmiConnShare(const vmiConn *conn);
char *vmiConnKeyDirForURI(const char *uri);
char *vmiConnDomainLogPath(vmiConn *conn, const char *name);
virDomainPtr vmiConnLookupDomain(vmiConn *conn, const char *name, GError **error);
GStrv vmiConnListPersistentDomains(vmiConn *conn, GError **error);
char *vmiDomainGetXML(virDomainPtr dom, gboolean inactive, GError **error);
gboolean vmiDomainIsRunning(virDomainPtr dom);
gboolean vmiDomainIsPaused(virDomainPtr dom);
char *vmiDomainQemuMonitor(virDomainPtr dom, const char *command, GError **error);
char *vmiConnGetDACBaseLabel(vmiConn *conn, const char *virtType, GError **error);
