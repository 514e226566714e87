/*
 * emu_handshake.c: the introspection handshake's byte layouts (RFC)
 */
#include <string.h>

#include "emu_handshake.h"
#include "emu_log.h"


static gint
emuE820Compare(gconstpointer a, gconstpointer b)
{
    const emuVmiE820Entry *ea = a;
    const emuVmiE820Entry *eb = b;

    return (ea->address > eb->address) - (ea->address < eb->address);
}


GBytes *
emuHandshakeBuild(const guint8 *uuid, gint64 startTimeMs, const char *name,
                  const GArray *e820)
{
    emuVmiToIntrospector hs;
    g_autoptr(GArray) entries = g_array_new(FALSE, TRUE, sizeof(emuVmiE820Entry));
    GByteArray *out;
    guint n = e820 ? e820->len : 0;

    if (n > EMU_VMI_MAX_E820) {
        emuWarn("VMI: discard e820 info (size %u, max %d)", n, EMU_VMI_MAX_E820);
        n = 0;
    }
    if (n) {
        g_array_append_vals(entries, e820->data, n);
        g_array_sort(entries, emuE820Compare);
    }

    memset(&hs, 0, sizeof(hs));
    hs.structSize = sizeof(hs) + n * sizeof(emuVmiE820Entry);
    memcpy(hs.uuid, uuid, sizeof(hs.uuid));
    hs.cpuType = EMU_VMI_CPU_TYPE_X86_64;
    hs.startTime = startTimeMs;
    if (name)
        g_strlcpy(hs.name, name, sizeof(hs.name));
    hs.e820Count = n;

    out = g_byte_array_sized_new(hs.structSize);
    g_byte_array_append(out, (const guint8 *)&hs, sizeof(hs));
    if (n) {
        guint i;

        for (i = 0; i < n; i++)
            g_array_index(entries, emuVmiE820Entry, i).padding = 0;
        g_byte_array_append(out, (const guint8 *)entries->data, n * sizeof(emuVmiE820Entry));
    }
    return g_byte_array_free_to_bytes(out);
}


void
emuHandshakeCookie(GBytes *key, guint8 *hash)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA1);
    gsize len = EMU_VMI_COOKIE_HASH_SIZE;
    gsize keyLen;
    const guint8 *data = g_bytes_get_data(key, &keyLen);

    g_checksum_update(sum, data, keyLen);
    g_checksum_get_digest(sum, hash, &len);
}
