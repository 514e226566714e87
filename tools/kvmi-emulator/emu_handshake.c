/*
 * emu_handshake.c: the introspection handshake's byte layouts (RFC)
 */
#include <string.h>

#include "emu_handshake.h"
#include "emu_log.h"


static gint
emuE820Compare(gconstpointer a, gconstpointer b)
{
    const kvmiWireE820Entry *ea = a;
    const kvmiWireE820Entry *eb = b;

    return (ea->address > eb->address) - (ea->address < eb->address);
}


GBytes *
emuHandshakeBuild(const guint8 *uuid, gint64 startTimeMs, const char *name,
                  const GArray *e820)
{
    kvmiWireQemuHandshake hs;
    g_autoptr(GArray) entries = g_array_new(FALSE, TRUE, sizeof(kvmiWireE820Entry));
    GByteArray *out;
    guint n = e820 ? e820->len : 0;

    if (n > KVMI_WIRE_MAX_E820) {
        emuWarn("VMI: discard e820 info (size %u, max %d)", n, KVMI_WIRE_MAX_E820);
        n = 0;
    }
    if (n) {
        g_array_append_vals(entries, e820->data, n);
        g_array_sort(entries, emuE820Compare);
    }

    memset(&hs, 0, sizeof(hs));
    hs.structSize = sizeof(hs) + n * sizeof(kvmiWireE820Entry);
    memcpy(hs.uuid, uuid, sizeof(hs.uuid));
    hs.cpuType = KVMI_WIRE_CPU_TYPE_X86_64;
    hs.startTime = startTimeMs;
    if (name)
        g_strlcpy(hs.name, name, sizeof(hs.name));
    hs.e820Count = n;

    out = g_byte_array_sized_new(hs.structSize);
    g_byte_array_append(out, (const guint8 *)&hs, sizeof(hs));
    if (n) {
        guint i;

        for (i = 0; i < n; i++)
            g_array_index(entries, kvmiWireE820Entry, i).padding = 0;
        g_byte_array_append(out, (const guint8 *)entries->data, n * sizeof(kvmiWireE820Entry));
    }
    return g_byte_array_free_to_bytes(out);
}


void
emuHandshakeCookie(GBytes *key, guint8 *hash)
{
    g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA1);
    gsize len = KVMI_WIRE_COOKIE_LEN;
    gsize keyLen;
    const guint8 *data = g_bytes_get_data(key, &keyLen);

    g_checksum_update(sum, data, keyLen);
    g_checksum_get_digest(sum, hash, &len);
}
