/*
 * emu_secret.c: the `secret` objects the introspection object's key= names
 */
#include <string.h>

#include "emu_secret.h"
#include "emu_object.h"

static GHashTable *secrets;         /* id -> emuSecret */


static void
emuSecretFree(gpointer data)
{
    emuSecret *secret = data;

    g_free(secret->id);
    g_free(secret->data);
    g_free(secret->file);
    g_free(secret->format);
    g_free(secret->keyid);
    g_clear_pointer(&secret->value, g_bytes_unref);
    g_clear_error(&secret->loadError);
    g_free(secret);
}


static GBytes *emuSecretRead(const emuSecret *secret, GError **error);


/* QEMU reads a secret's file when the object is created, never later:
 * so does the emulator, and the introspection object (created then, or
 * by a later object-add) and its reconnections use that copy. */
static void
emuSecretsAdd(emuSecret *secret)
{
    secret->value = emuSecretRead(secret, &secret->loadError);
    if (!secrets)
        secrets = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, emuSecretFree);
    g_hash_table_replace(secrets, secret->id, secret);
}


void
emuSecretsAddOpts(const emuOpts *opts)
{
    emuSecret *secret;

    if (!emuOptsGet(opts, "id"))
        return;
    secret = g_new0(emuSecret, 1);
    secret->id = g_strdup(emuOptsGet(opts, "id"));
    secret->data = g_strdup(emuOptsGet(opts, "data"));
    secret->file = g_strdup(emuOptsGet(opts, "file"));
    secret->format = g_strdup(emuOptsGet(opts, "format"));
    secret->keyid = g_strdup(emuOptsGet(opts, "keyid"));
    emuSecretsAdd(secret);
}


static char *
emuJsonDupString(yajl_val obj, const char *key)
{
    const char *path[] = { key, NULL };
    yajl_val val = yajl_tree_get(obj, path, yajl_t_string);

    return val ? g_strdup(YAJL_GET_STRING(val)) : NULL;
}


/* @obj: the object-add arguments, props already flattened. */
void
emuSecretsAddJson(yajl_val obj)
{
    emuSecret *secret;
    char *id = emuJsonDupString(obj, "id");

    if (!id)
        return;
    secret = g_new0(emuSecret, 1);
    secret->id = id;
    secret->data = emuJsonDupString(obj, "data");
    secret->file = emuJsonDupString(obj, "file");
    secret->format = emuJsonDupString(obj, "format");
    secret->keyid = emuJsonDupString(obj, "keyid");
    emuSecretsAdd(secret);
}


void
emuSecretsRemove(const char *id)
{
    if (secrets)
        g_hash_table_remove(secrets, id);
}


const emuSecret *
emuSecretsLookup(const char *id)
{
    return secrets ? g_hash_table_lookup(secrets, id) : NULL;
}


void
emuSecretsClear(void)
{
    g_clear_pointer(&secrets, g_hash_table_unref);
}


static gboolean
emuIsBase64(const char *str)
{
    gsize len = strlen(str);

    return len % 4 == 0 &&
           strspn(str, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == len;
}


GBytes *
emuSecretLoad(const emuSecret *secret, GError **error)
{
    if (secret->loadError) {
        g_propagate_error(error, g_error_copy(secret->loadError));
        return NULL;
    }
    return g_bytes_ref(secret->value);
}


static GBytes *
emuSecretRead(const emuSecret *secret, GError **error)
{
    g_autofree char *raw = NULL;
    gsize len = 0;

    if (secret->keyid) {
        g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED,
                    "VMI: secret '%s' is encrypted (keyid=): qemu-kvmi does not emulate that",
                    secret->id);
        return NULL;
    }
    if (secret->data && secret->file) {
        g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED,
                    "'data' and 'file' are mutually exclusive");
        return NULL;
    }
    if (secret->file) {
        g_autoptr(GError) err = NULL;

        if (!g_file_get_contents(secret->file, &raw, &len, &err)) {
            g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED, "Unable to read %s: %s",
                        secret->file, err->message);
            return NULL;
        }
    } else if (secret->data) {
        raw = g_strdup(secret->data);
        len = strlen(raw);
    } else {
        g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED,
                    "Either 'data' or 'file' must be provided");
        return NULL;
    }

    if (secret->format && g_str_equal(secret->format, "base64")) {
        guchar *bin;

        /* strict, as qbase64_decode(): a file's newline is an error too */
        if (!emuIsBase64(raw)) {
            g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED,
                        "Base64 data contains non-base64 characters");
            return NULL;
        }
        bin = g_base64_decode(raw, &len);
        return g_bytes_new_take(bin, len);
    }
    return g_bytes_new_take(g_steal_pointer(&raw), len);
}
