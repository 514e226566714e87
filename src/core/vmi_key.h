/*
 * vmi_key.h: introspection keys in memory
 */
#pragma once

#include <gio/gio.h>

#define VMI_KEY_BYTES 32
#define VMI_KEY_MAX_BYTES 65536

/* Key material: wiped before it is freed. */
typedef struct {
    guchar *data;
    size_t len;
} vmiKey;

void vmiKeyFree(vmiKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmiKey, vmiKeyFree)

vmiKey *vmiKeyNewRandom(GError **error);
vmiKey *vmiKeyReadStream(GInputStream *in, const char *what, GError **error);
vmiKey *vmiKeyReadFile(const char *path, GError **error);
char *vmiKeyHashHex(const vmiKey *key);

