/*
 * vmi_domain.h: introspection on a libvirt domain: its definition, its
 * key, and what has to happen around its start and stop
 */
#pragma once

#include <glib.h>

#include "conf/vmi_domain_xml.h"
#include "libvirt/vmi_libvirt.h"
#include "libvirt/vmi_secret.h"

typedef struct _vmiDomain vmiDomain;
struct _vmiDomain {
    virDomainPtr dom;
    vmiDomainXML *xml;      /* the persistent definition */
    const char *name;
    char uuid[VIR_UUID_STRING_BUFLEN];
    gboolean running;
    gboolean persistent;
};

typedef enum {
    VMI_DOMAIN_LOAD_ANY = 1 << 0,   /* a transient domain too */
} vmiDomainLoadFlags;

void vmiDomainFree(vmiDomain *dom);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmiDomain, vmiDomainFree)

vmiDomain *vmiDomainLoad(vmiConn *conn, const char *name, unsigned int flags,
                         GError **error);
vmiDef *vmiDomainGetDef(vmiDomain *dom, GError **error);
gboolean vmiDomainGetLiveDef(vmiDomain *dom, vmiDef **def, GError **error);
gboolean vmiDomainApply(vmiConn *conn, vmiDomain *dom, const vmiDef *def,
                        GPtrArray *changes, GError **error);
char *vmiDomainDefine(vmiConn *conn, vmiDomainXML *dom, const vmiDef *def,
                      const char *display, GPtrArray *changes, GError **error);
gboolean vmiDomainCheckKey(vmiConn *conn, const vmiDef *def, GError **error);
char *vmiDomainAddKey(vmiConn *conn, vmiDomain *dom, const vmiKey *key,
                      GPtrArray *changes, GError **error);
vmiKey *vmiDomainGetKey(vmiConn *conn, vmiDomain *dom, GError **error);
gboolean vmiDomainStart(vmiConn *conn, vmiDomain *dom, gboolean paused, GError **error);
gboolean vmiDomainDestroy(vmiConn *conn, vmiDomain *dom, GError **error);
gboolean vmiDomainSuspend(vmiDomain *dom, GError **error);
gboolean vmiDomainResume(vmiDomain *dom, GError **error);
gboolean vmiDomainSave(vmiDomain *dom, const char *file, GError **error);
vmiDomainXML *vmiDomainSaveImageGetXML(vmiConn *conn, const char *file, GError **error);
vmiDomain *vmiDomainRestore(vmiConn *conn, const char *file, vmiDomainXML *image,
                            gboolean paused, GError **error);
char *vmiDomainSnapshotCreate(vmiDomain *dom, const char *name, const char *memoryFile,
                              GError **error);
gboolean vmiDomainAbortJob(virDomainPtr dom, const char *name, GError **error);
gboolean vmiDomainResumeUnmonitored(vmiDomain *dom, GError **error);
char *vmiDomainGetUnmonitored(vmiDomain *dom);
char *vmiDomainGetLiveState(virDomainPtr dom, const char *element, const char *attr);
gboolean vmiDomainRecordPaused(virDomainPtr dom, const char *reason, GError **error);
/* That record: why and since when virt-vmid paused @dom; NULLs if it did not. */
void vmiDomainGetPausedRecord(virDomainPtr dom, char **reason, char **since);
