/*
 * vmi_keyfile.h: the per-run file QEMU reads the key from
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "core/vmi_key.h"

/* the name of the file in KEYDIR/DOMAIN-UUID/ */
#define VMI_KEY_FILE_NAME "key"

typedef struct {
    gboolean exists;
    guint mode;             /* permission bits of the file */
    guint dirMode;          /* and of its directory */
    uid_t uid;
    gid_t gid;
} vmiKeyFileState;

char *vmiKeyFileDirPath(const char *keyDir, const char *domUUID);
char *vmiKeyFilePath(const char *keyDir, const char *domUUID);
gboolean vmiKeyDirIsSafe(uid_t owner, mode_t mode);

/* @domUUID in libvirt's canonical form, the only one that names a key path */
gboolean vmiKeyFileCheckUUID(const char *domUUID, GError **error);
gboolean vmiKeyFileWrite(const char *keyDir, const char *domUUID, const vmiKey *key,
                         GError **error);
gboolean vmiKeyFileChown(const char *keyDir, const char *domUUID, uid_t uid, gid_t gid,
                         GError **error);
gboolean vmiKeyFileSetLabel(const char *keyDir, const char *domUUID, const char *label,
                            GError **error);
gboolean vmiKeyFileRemove(const char *keyDir, const char *domUUID, GError **error);
gboolean vmiKeyFileGetState(const char *keyDir, const char *domUUID,
                            vmiKeyFileState *state, GError **error);
gboolean vmiParseDACLabel(const char *label, uid_t *uid, gid_t *gid, GError **error);
