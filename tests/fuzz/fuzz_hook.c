/*
 * fuzz_hook: the libvirt hook, its argv and the domain XML on its
 * standard input (src/hook/vmi_hook.c, through vmiHookMain), in a private
 * key directory, with a stand-in for the emulator probe (no emulator a
 * domain XML names is ever run) and for the key secret
 *
 * Input: "DOMAIN\0OPERATION\0SUB-OPERATION\0EXTRA\0" then the domain XML;
 * fewer fields make a shorter argv. The hook exits 0, 1 (refused, with a
 * reason) or 2 (usage); a refused operation leaves no key file behind,
 * nor does a clean-up; a prepare that passes writes the key (0600, the
 * secret's bytes), then start hands it to QEMU's user and started
 * removes it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "hook/vmi_hook.h"
#include "core/vmi_keyfile.h"

static char *keyDir;
static char *qemuConf;
static const guint8 fuzzKey[VMI_KEY_BYTES] = { 0x5a, 0x01, 0x02, 0x03 };


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzzInit();
    keyDir = g_build_filename(fuzzTempDir(), "keys", NULL);
    qemuConf = g_build_filename(fuzzTempDir(), "qemu.conf", NULL);
    if (!g_file_set_contents(qemuConf, "user = \"+107\"\ngroup = \"+108\"\n", -1, NULL))
        g_error("cannot write %s", qemuConf);
    return 0;
}


/* The key secret: a fixed key, or none for secrets whose UUID starts
 * with 0000. */
static vmiKey *
fetchKey(gpointer opaque, const char *secretUUID, GError **error)
{
    vmiKey *key;

    g_assert_true(g_uuid_string_is_valid(secretUUID));
    if (g_str_has_prefix(secretUUID, "0000")) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "no secret with UUID '%s'",
                    secretUUID);
        return NULL;
    }
    key = g_new0(vmiKey, 1);
    key->len = sizeof(fuzzKey);
    key->data = g_memdup2(fuzzKey, sizeof(fuzzKey));
    return key;
}


/* The probe's verdict from the emulator's name: nothing is run. */
static gboolean
probe(const char *emulator, const char *dacLabel, const char *cacheDir,
      vmiProbeResult *result, GError **error)
{
    g_assert_nonnull(emulator);
    g_assert_nonnull(dacLabel);
    if (strstr(emulator, "missing")) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "cannot run '%s'", emulator);
        return FALSE;
    }
    if (strstr(emulator, "readonly"))
        *result = VMI_PROBE_READONLY;
    else if (strstr(emulator, "lastonly"))
        *result = VMI_PROBE_LAST_ONLY;
    else if (strstr(emulator, "plain"))
        *result = VMI_PROBE_NO_OBJECT;
    else
        *result = VMI_PROBE_ENFORCED;
    return TRUE;
}


static int
runHook(char **argv, const char *xmlPath)
{
    const vmiHookEnv env = {
        .xmlPath = xmlPath,
        .keyDir = keyDir,
        .cacheDir = NULL,
        .settingsFile = "/nonexistent/libvirt-vmi.conf",
        .qemuConf = qemuConf,
        /* none: a required domain's wait at `started` fails at once */
        .qemuLogDir = "/nonexistent/libvirt-vmi-fuzz-logs",
        .apparmorDir = "/nonexistent/libvirt-vmi-fuzz-apparmor.d",
        .guard = FALSE,
        .fetchKey = fetchKey,
        .probe = probe,
    };
    int rc = vmiHookMain(&env, g_strv_length(argv), argv);

    g_assert_true(rc == 0 || rc == 1 || rc == 2);
    return rc;
}


/* The per-domain directories in the key directory. */
static guint
keyDirEntries(void)
{
    GDir *dir = g_dir_open(keyDir, 0, NULL);
    guint n = 0;

    if (!dir)
        return 0;
    while (g_dir_read_name(dir))
        n++;
    g_dir_close(dir);
    return n;
}


/* After a prepare that passed: the key file, if any, then the rest of a start. */
static void
followPrepare(const char *domain, const char *xmlPath)
{
    char *argv[] = { (char *)"libvirt-vmi-hook", (char *)domain, (char *)"start",
                     (char *)"begin", (char *)"-", NULL };
    GDir *dir = g_dir_open(keyDir, 0, NULL);
    g_autofree char *uuid = NULL;
    g_autofree char *path = NULL;
    g_autofree char *content = NULL;
    struct stat st;
    gsize len;

    if (!dir)
        return;
    uuid = g_strdup(g_dir_read_name(dir));
    g_assert_null(g_dir_read_name(dir));
    g_dir_close(dir);
    if (!uuid)
        return;     /* no key: nothing written */

    path = vmiKeyFilePath(keyDir, uuid);
    g_assert_true(g_file_get_contents(path, &content, &len, NULL));
    g_assert_cmpmem(content, len, fuzzKey, sizeof(fuzzKey));
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 07777, ==, 0600);

    if (runHook(argv, xmlPath) != 0)
        return;
    argv[2] = (char *)"started";
    g_assert_cmpint(runHook(argv, xmlPath), ==, 0);
    g_assert_cmpuint(keyDirEntries(), ==, 0);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *xmlPath = NULL;
    gboolean cleanUp, prepare;
    int fd, rc;

    g_ptr_array_add(args, g_strdup("libvirt-vmi-hook"));
    while (args->len < 5) {
        const uint8_t *nul = memchr(data, 0, size);

        if (!nul)
            break;
        g_ptr_array_add(args, g_strndup((const char *)data, nul - data));
        size -= nul + 1 - data;
        data = nul + 1;
    }
    g_ptr_array_add(args, NULL);

    fuzzRemoveTree(keyDir);
    fd = fuzzMemFile(data, size, &xmlPath);
    rc = runHook((char **)args->pdata, xmlPath);
    if (args->len - 1 < 4)
        g_assert_true(rc == 2 || (args->len - 1 == 2 && rc == 0));
    else
        g_assert_cmpint(rc, !=, 2);

    cleanUp = args->len - 1 >= 4 &&
        ((g_str_equal(args->pdata[2], "started") && g_str_equal(args->pdata[3], "begin")) ||
         (g_str_equal(args->pdata[2], "stopped") && g_str_equal(args->pdata[3], "end")) ||
         (g_str_equal(args->pdata[2], "release") && g_str_equal(args->pdata[3], "end")));
    prepare = args->len - 1 >= 4 && g_str_equal(args->pdata[2], "prepare") &&
        g_str_equal(args->pdata[3], "begin");
    /* refused, or cleaned up: no key file is left */
    if (rc != 0 || cleanUp || !prepare)
        g_assert_cmpuint(keyDirEntries(), ==, 0);
    else
        followPrepare(args->pdata[1], xmlPath);
    close(fd);
    return 0;
}
