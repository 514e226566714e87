/*
 * vmi_migrate.h: migrating an introspected domain: the destination's
 * pre-flight checks, the migration, what its job shows, the re-hook
 */
#pragma once

#include <glib.h>

#include "libvirt/vmi_domain.h"
#include "libvirt/vmi_host_validate.h"

typedef enum {
    VMI_MIGRATE_LIVE = 1 << 0,
    VMI_MIGRATE_P2P = 1 << 1,
    VMI_MIGRATE_PERSISTENT = 1 << 2,
    VMI_MIGRATE_UNDEFINE_SOURCE = 1 << 3,
} vmiMigrateFlags;

typedef enum {
    VMI_MIGRATE_PHASE_PREFLIGHT,
    VMI_MIGRATE_PHASE_PREPARE,      /* libvirt's Begin and Prepare: the destination's QEMU */
    VMI_MIGRATE_PHASE_UNHOOK,       /* QEMU holds the migration for the tool's unhook */
    VMI_MIGRATE_PHASE_TRANSFER,
    VMI_MIGRATE_PHASE_REHOOK,       /* the tool hooks the destination's QEMU */

    VMI_MIGRATE_PHASE_LAST
} vmiMigratePhase;

VMI_ENUM_DECL(vmiMigratePhase);

typedef struct {
    vmiConn *src;
    vmiDomain *dom;
    vmiDef *def;            /* NULL: the domain has no introspection */
    vmiConn *dst;
    char *dstURI;
    char *dstRoot;          /* the destination's files: "" here, "/proc/PID/root", NULL: remote */
    gboolean copyKey;       /* pre-flight found the key secret to copy */
    virConnectPtr watchConn;    /* the source again, for the progress queries */
    virDomainPtr watchDom;
} vmiMigration;

typedef struct {
    vmiMigratePhase phase;
    double percent;         /* transfer: < 0 unknown */
    guint64 rate;           /* transfer: bytes/s, 0 unknown */
    guint64 processed;
    guint64 total;
} vmiMigrateProgress;

vmiMigration *vmiMigrationNew(vmiConn *src, vmiDomain *dom, const char *dstURI,
                              GError **error);
void vmiMigrationFree(vmiMigration *mig);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmiMigration, vmiMigrationFree)

char *vmiMigrateLocalRoot(const char *uri);
GPtrArray *vmiMigratePreflight(vmiMigration *mig, gboolean copyKey);
gboolean vmiMigrateCopyKey(vmiMigration *mig, GError **error);
gboolean vmiMigratePerform(vmiMigration *mig, unsigned int flags, GError **error);
void vmiMigrateGetProgress(vmiMigration *mig, vmiMigrateProgress *progress);
gboolean vmiMigrateAbort(vmiMigration *mig, GError **error);
gboolean vmiMigrateResumeSource(vmiMigration *mig, GError **error);
double vmiMigrateRehookLimit(const vmiDef *def);
gboolean vmiMigrateWaitHooked(vmiConn *conn, const char *uuid, const vmiDef *def,
                              double limit, const char *where, GError **error);
