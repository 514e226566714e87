/*
 * keyfiletest: the per-run key file's directory layout, owners and
 * modes, replacement of a stale file, clean-up, and refusal of a key
 * directory others could tamper with. Runs as root (the tests do).
 */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/vmi_keyfile.h"

#define UUID "c7a5fdbd-edaf-9455-926a-d65c16db1809"

typedef struct {
    char *tmp;
    char *keyDir;
} Fixture;


static void
setUp(Fixture *fx, gconstpointer data)
{
    g_autoptr(GError) err = NULL;

    fx->tmp = g_dir_make_tmp("vmi-keyfile-XXXXXX", &err);
    g_assert_no_error(err);
    fx->keyDir = g_build_filename(fx->tmp, "run", "libvirt-vmi", NULL);
}


static void
tearDown(Fixture *fx, gconstpointer data)
{
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", fx->tmp);

    g_assert_cmpint(system(cmd), ==, 0);
    g_free(fx->tmp);
    g_free(fx->keyDir);
}


static vmiKey *
testKey(const char *text)
{
    vmiKey *key = g_new0(vmiKey, 1);

    key->data = (guchar *)g_strdup(text);
    key->len = strlen(text);
    return key;
}


static void
testWriteAndRemove(Fixture *fx, gconstpointer data)
{
    g_autoptr(vmiKey) key = testKey("secret-bytes\n");
    g_autoptr(GError) err = NULL;
    g_autofree char *file = g_build_filename(fx->keyDir, UUID, "key", NULL);
    g_autofree char *dir = g_build_filename(fx->keyDir, UUID, NULL);
    g_autofree char *contents = NULL;
    vmiKeyFileState state;
    struct stat st;
    gsize len;

    g_assert_true(vmiKeyFileWrite(fx->keyDir, UUID, key, &err));
    g_assert_no_error(err);
    g_assert_true(vmiKeyFileChown(fx->keyDir, UUID, 4242, 4343, &err));
    g_assert_no_error(err);

    g_assert_cmpint(stat(fx->keyDir, &st), ==, 0);
    g_assert_cmpuint(st.st_uid, ==, geteuid());
    g_assert_cmpuint(st.st_mode & 022, ==, 0);
    g_assert_cmpint(stat(dir, &st), ==, 0);
    g_assert_cmpuint(st.st_mode & 07777, ==, 0700);
    g_assert_cmpuint(st.st_uid, ==, 4242);
    g_assert_cmpuint(st.st_gid, ==, 4343);

    g_assert_true(vmiKeyFileGetState(fx->keyDir, UUID, &state, &err));
    g_assert_true(state.exists);
    g_assert_cmpuint(state.mode, ==, 0600);
    g_assert_cmpuint(state.dirMode, ==, 0700);
    g_assert_cmpuint(state.uid, ==, 4242);
    g_assert_cmpuint(state.gid, ==, 4343);

    /* all the key's bytes, the newline included, as QEMU reads them */
    g_assert_true(g_file_get_contents(file, &contents, &len, &err));
    g_assert_cmpmem(contents, len, "secret-bytes\n", 13);

    g_assert_true(vmiKeyFileRemove(fx->keyDir, UUID, &err));
    g_assert_no_error(err);
    g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
    g_assert_true(vmiKeyFileGetState(fx->keyDir, UUID, &state, &err));
    g_assert_false(state.exists);

    /* removing twice, or from no directory at all, is fine */
    g_assert_true(vmiKeyFileRemove(fx->keyDir, UUID, &err));
    g_assert_true(vmiKeyFileRemove("/nonexistent/libvirt-vmi", UUID, &err));
    g_assert_no_error(err);
}


/* Written as root's at prepare, handed over to QEMU's user at start. */
static void
testHandOver(Fixture *fx, gconstpointer data)
{
    g_autoptr(vmiKey) key = testKey("k");
    g_autoptr(GError) err = NULL;
    vmiKeyFileState state;

    g_assert_true(vmiKeyFileWrite(fx->keyDir, UUID, key, &err));
    g_assert_true(vmiKeyFileChown(fx->keyDir, UUID, 4242, 4343, &err));
    g_assert_no_error(err);
    g_assert_true(vmiKeyFileGetState(fx->keyDir, UUID, &state, &err));
    g_assert_cmpuint(state.uid, ==, 4242);
    g_assert_cmpuint(state.gid, ==, 4343);
    g_assert_cmpuint(state.mode, ==, 0600);
    g_assert_cmpuint(state.dirMode, ==, 0700);

    g_assert_true(vmiKeyFileRemove(fx->keyDir, UUID, &err));
    g_assert_false(vmiKeyFileChown(fx->keyDir, UUID, 1, 1, &err));
    g_assert_nonnull(strstr(err->message, "cannot hand over directory"));
}


static void
testStaleReplaced(Fixture *fx, gconstpointer data)
{
    g_autoptr(vmiKey) old = testKey("old");
    g_autoptr(vmiKey) fresh = testKey("fresh");
    g_autoptr(GError) err = NULL;
    g_autofree char *file = g_build_filename(fx->keyDir, UUID, "key", NULL);
    g_autofree char *contents = NULL;

    g_assert_true(vmiKeyFileWrite(fx->keyDir, UUID, old, &err));
    /* what a crash leaves: the old file */
    g_assert_true(vmiKeyFileWrite(fx->keyDir, UUID, fresh, &err));
    g_assert_no_error(err);
    g_assert_true(g_file_get_contents(file, &contents, NULL, &err));
    g_assert_cmpstr(contents, ==, "fresh");
}


static void
testSymlinkNotFollowed(Fixture *fx, gconstpointer data)
{
    g_autoptr(vmiKey) key = testKey("k");
    g_autoptr(GError) err = NULL;
    g_autofree char *elsewhere = g_build_filename(fx->tmp, "elsewhere", NULL);
    g_autofree char *planted = g_build_filename(fx->keyDir, UUID, NULL);

    g_assert_cmpint(g_mkdir_with_parents(fx->keyDir, 0711), ==, 0);
    g_assert_cmpint(g_mkdir(elsewhere, 0755), ==, 0);
    g_assert_cmpint(symlink(elsewhere, planted), ==, 0);

    /* the link is removed and a real directory made in its place */
    g_assert_true(vmiKeyFileWrite(fx->keyDir, UUID, key, &err));
    g_assert_no_error(err);
    g_assert_false(g_file_test(planted, G_FILE_TEST_IS_SYMLINK));
    {
        g_autofree char *stray = g_build_filename(elsewhere, "key", NULL);
        g_assert_false(g_file_test(stray, G_FILE_TEST_EXISTS));
    }
}


static void
testUnsafeKeyDirRefused(Fixture *fx, gconstpointer data)
{
    g_autoptr(vmiKey) key = testKey("k");
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(g_mkdir_with_parents(fx->keyDir, 0711), ==, 0);
    g_assert_cmpint(chmod(fx->keyDir, 0777), ==, 0);
    g_assert_false(vmiKeyFileWrite(fx->keyDir, UUID, key, &err));
    g_assert_nonnull(strstr(err->message, "refusing key directory"));
    g_assert_nonnull(strstr(err->message, "not writable by group or others"));
}


static void
testDACLabels(void)
{
    g_autoptr(GError) err = NULL;
    uid_t uid;
    gid_t gid;

    g_assert_true(vmiParseDACLabel("+999:+994", &uid, &gid, &err));
    g_assert_cmpuint(uid, ==, 999);
    g_assert_cmpuint(gid, ==, 994);
    g_assert_true(vmiParseDACLabel("root:root", &uid, &gid, &err));
    g_assert_cmpuint(uid, ==, 0);
    g_assert_cmpuint(gid, ==, 0);
    g_assert_false(vmiParseDACLabel("+999", &uid, &gid, &err));
    g_assert_cmpstr(err->message, ==, "invalid DAC label '+999': expected USER:GROUP");
    g_clear_error(&err);
    g_assert_false(vmiParseDACLabel("nosuchuser-vmi:root", &uid, &gid, &err));
    g_assert_cmpstr(err->message, ==, "invalid user 'nosuchuser-vmi' in DAC label");
    g_clear_error(&err);
    g_assert_false(vmiParseDACLabel("+x:+1", &uid, &gid, &err));
}


/* The paths QEMU's argument names and the status prints, and the
 * directory rule host-validate applies. */
static void
testPathsAndRule(void)
{
    g_autofree char *dir = vmiKeyFileDirPath("/run/libvirt-vmi", UUID);
    g_autofree char *file = vmiKeyFilePath("/run/libvirt-vmi", UUID);

    g_assert_cmpstr(dir, ==, "/run/libvirt-vmi/" UUID);
    g_assert_cmpstr(file, ==, "/run/libvirt-vmi/" UUID "/key");
    g_assert_true(vmiKeyDirIsSafe(geteuid(), S_IFDIR | 0711));
    g_assert_true(vmiKeyDirIsSafe(geteuid(), S_IFDIR | 0755));
    g_assert_false(vmiKeyDirIsSafe(geteuid(), S_IFDIR | 0731));
    g_assert_false(vmiKeyDirIsSafe(geteuid(), S_IFDIR | 0713));
    g_assert_false(vmiKeyDirIsSafe(geteuid() + 1, S_IFDIR | 0711));
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/keyfile/write-remove", Fixture, NULL, setUp, testWriteAndRemove, tearDown);
    g_test_add("/keyfile/hand-over", Fixture, NULL, setUp, testHandOver, tearDown);
    g_test_add("/keyfile/stale-replaced", Fixture, NULL, setUp, testStaleReplaced, tearDown);
    g_test_add("/keyfile/symlink", Fixture, NULL, setUp, testSymlinkNotFollowed, tearDown);
    g_test_add("/keyfile/unsafe-dir", Fixture, NULL, setUp, testUnsafeKeyDirRefused, tearDown);
    g_test_add_func("/keyfile/dac-labels", testDACLabels);
    g_test_add_func("/keyfile/paths-and-rule", testPathsAndRule);
    return g_test_run();
}
