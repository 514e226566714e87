/*
 * fuzz_keyfile: key-file import and the per-run key file
 * (src/core/vmi_key.c, src/core/vmi_keyfile.c)
 *
 * The input is a key file as `virt-vmi key-import` reads it. One of 1 to
 * VMI_KEY_MAX_BYTES bytes is read whole and exactly; anything else is
 * refused with a short message. A key read is written as the per-run
 * file (mode 0600 in a 0700 directory, the bytes exactly) and removed
 * again, leaving nothing. The input's first line also goes through the
 * parsers of what names that file: the domain UUID (canonical form is a
 * fixed point, and the only form the key file takes) and a DAC label.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "conf/vmi_domain_xml.h"
#include "core/vmi_keyfile.h"

#define FUZZ_UUID "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f"

static char *keyDir;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzzInit();
    keyDir = g_build_filename(fuzzTempDir(), "keys", NULL);
    return 0;
}


static void
checkNames(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    g_autofree char *line = fuzzString(data, nl ? (size_t)(nl - data) : size);
    g_autofree char *canonical = vmiUUIDCanonical(line);
    g_autoptr(GError) err = NULL;
    vmiKeyFileState state;
    uid_t uid;
    gid_t gid;

    if (canonical) {
        g_autofree char *twice = vmiUUIDCanonical(canonical);

        g_assert_cmpstr(canonical, ==, twice);
        g_assert_true(g_uuid_string_is_valid(canonical));
    }
    /* only the canonical form names a key file */
    if (vmiKeyFileGetState(keyDir, line, &state, &err)) {
        g_assert_cmpstr(canonical, ==, line);
    } else {
        fuzzCheckError(err, "a key file's UUID");
        g_assert_false(canonical && g_str_equal(canonical, line));
    }
    g_clear_error(&err);
    if (!vmiParseDACLabel(line, &uid, &gid, &err))
        fuzzCheckError(err, "a DAC label");
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *path = NULL;
    g_autofree char *filePath = NULL;
    g_autofree char *dirPath = NULL;
    g_autofree char *written = NULL;
    g_autofree char *hash = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(vmiKey) key = NULL;
    vmiKeyFileState state;
    gsize len;
    struct stat st;
    int fd;

    checkNames(data, size);

    fd = fuzzMemFile(data, size, &path);
    key = vmiKeyReadFile(path, &err);
    close(fd);
    if (!key) {
        fuzzCheckError(err, "importing a key file");
        g_assert_true(size == 0 || size > VMI_KEY_MAX_BYTES);
        return 0;
    }
    g_assert_no_error(err);
    g_assert_cmpuint(key->len, ==, size);
    g_assert_cmpmem(key->data, key->len, data, size);
    hash = vmiKeyHashHex(key);
    g_assert_cmpuint(strlen(hash), ==, 40);

    if (!vmiKeyFileWrite(keyDir, FUZZ_UUID, key, &err))
        g_error("cannot write the key file: %s", err->message);
    filePath = vmiKeyFilePath(keyDir, FUZZ_UUID);
    dirPath = vmiKeyFileDirPath(keyDir, FUZZ_UUID);
    g_assert_true(g_file_get_contents(filePath, &written, &len, NULL));
    g_assert_cmpmem(written, len, data, size);
    g_assert_true(vmiKeyFileGetState(keyDir, FUZZ_UUID, &state, &err));
    g_assert_true(state.exists);
    g_assert_cmpuint(state.mode, ==, 0600);
    g_assert_cmpuint(state.dirMode, ==, 0700);
    g_assert_cmpuint(state.uid, ==, geteuid());

    if (!vmiKeyFileRemove(keyDir, FUZZ_UUID, &err))
        g_error("cannot remove the key file: %s", err->message);
    g_assert_cmpint(lstat(dirPath, &st), <, 0);
    return 0;
}
