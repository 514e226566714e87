/*
 * vmi_key.c: introspection keys in memory
 *
 * Key material is wiped before it is freed, and never printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/vmi_key.h"
#include "core/vmi_fd.h"
#include "conf/vmi_error.h"


void
vmiKeyFree(vmiKey *key)
{
    if (!key)
        return;
    if (key->data) {
        explicit_bzero(key->data, key->len);
        g_free(key->data);
    }
    g_free(key);
}


vmiKey *
vmiKeyNewRandom(GError **error)
{
    g_autoptr(vmiKey) key = g_new0(vmiKey, 1);

    key->len = VMI_KEY_BYTES;
    key->data = g_malloc(key->len);
    /* The kernel's CSPRNG; 32 bytes never come back short. */
    if (getrandom(key->data, key->len, 0) != (ssize_t)key->len) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "cannot get random bytes for a key: %s", g_strerror(errno));
        return NULL;
    }
    return g_steal_pointer(&key);
}


/*
 * All the bytes readable from @in: 1 to VMI_KEY_MAX_BYTES of them. @what
 * names the source in errors ("key file '/x'").
 */
vmiKey *
vmiKeyReadStream(GInputStream *in, const char *what, GError **error)
{
    g_autoptr(vmiKey) key = g_new0(vmiKey, 1);
    g_autoptr(GError) err = NULL;
    gsize len = 0;

    /* One byte more than allowed tells a pipe that is too long. */
    key->data = g_malloc(VMI_KEY_MAX_BYTES + 1);
    if (!g_input_stream_read_all(in, key->data, VMI_KEY_MAX_BYTES + 1, &len, NULL, &err)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "cannot read %s: %s", what, err->message);
        return NULL;
    }
    key->len = len;
    if (key->len == 0) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "invalid %s: 0 bytes, expected 1 to %d", what, VMI_KEY_MAX_BYTES);
        return NULL;
    }
    if (key->len > VMI_KEY_MAX_BYTES) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "invalid %s: more than %d bytes, expected at most %d",
                    what, VMI_KEY_MAX_BYTES, VMI_KEY_MAX_BYTES);
        return NULL;
    }
    return g_steal_pointer(&key);
}


/*
 * All the bytes of @path, which must be a regular file of 1 to
 * VMI_KEY_MAX_BYTES bytes, or "-" for standard input (a pipe, say). A
 * FIFO or a device would make the open or the read wait forever (or
 * never end): the open does not wait (O_NONBLOCK) and fstat decides.
 * Errors quote the path with ASCII quotes and say why from errno: GLib's
 * messages use typographic quotes, which a C locale prints as '?'.
 */
vmiKey *
vmiKeyReadFile(const char *path, GError **error)
{
    g_autofree char *what = NULL;
    g_autoptr(GInputStream) in = NULL;
    struct stat st;
    VMI_AUTOCLOSE fd = -1;

    if (g_str_equal(path, "-")) {
        in = g_unix_input_stream_new(STDIN_FILENO, FALSE);
        return vmiKeyReadStream(in, "key on standard input", error);
    }
    what = g_strdup_printf("key file '%s'", path);
    if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) < 0 ||
        fstat(fd, &st) < 0) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "cannot read %s: %s", what, g_strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "cannot read %s: it is a directory", what);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "cannot read %s: not a regular file: give a file, or '-' for "
                    "standard input", what);
        return NULL;
    }
    if (st.st_size > VMI_KEY_MAX_BYTES) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "invalid %s: %lld bytes, expected at most %d",
                    what, (long long)st.st_size, VMI_KEY_MAX_BYTES);
        return NULL;
    }
    in = g_unix_input_stream_new(g_steal_fd(&fd), TRUE);
    return vmiKeyReadStream(in, what, error);
}


/* What the tool sends back in the handshake: SHA-1 over all the key's bytes. */
char *
vmiKeyHashHex(const vmiKey *key)
{
    return g_compute_checksum_for_data(G_CHECKSUM_SHA1, key->data, key->len);
}


