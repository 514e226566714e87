/*
 * keyfiletest: the per-run key file's directory layout, owners and
 * modes, replacement of a stale file, clean-up, and refusal of a key
 * directory others could tamper with. Runs as root (the tests do).
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "conf/vmi_domain_xml.h"
#include "core/vmi_keyfile.h"
#include "core/vmi_lifecycle.h"
#include "core/vmi_settings.h"
#include "core/vmi_sync.h"

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


static char *
getLabel(const char *path)
{
    char buf[256] = "";

    if (getxattr(path, "security.selinux", buf, sizeof(buf) - 1) < 0)
        return NULL;
    return g_strdup(buf);
}


/*
 * At `start`, the domain XML carries the SELinux <imagelabel> libvirt
 * gives the domain's files: the key file and its directory get it too.
 * (The xattr is stored as it is where no SELinux is loaded.)
 */
static void
testHandOverSELinux(Fixture *fx, gconstpointer data)
{
#define LABEL "system_u:object_r:svirt_image_t:s0:c392,c662"
    const char *xmlFmt =
        "<domain type='kvm'><name>d</name><uuid>" UUID "</uuid>"
        "<metadata><vmi:introspection xmlns:vmi='http://libvirt-vmi.org/schemas/introspection/1.0'>"
        "<vmi:source type='unix' path='/run/vmi/d.sock'/>"
        "<vmi:key secret='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/></vmi:introspection></metadata>"
        "<seclabel type='dynamic' model='selinux' relabel='RELABEL'>"
        "<label>system_u:system_r:svirt_t:s0:c392,c662</label>"
        "<imagelabel>" LABEL "</imagelabel></seclabel>"
        "<seclabel type='dynamic' model='dac' relabel='yes'><label>+4242:+4343</label></seclabel>"
        "</domain>";
    g_autoptr(GString) xml = g_string_new(xmlFmt);
    g_autoptr(GString) xmlNo = g_string_new(xmlFmt);
    g_autofree char *dir = g_build_filename(fx->keyDir, UUID, NULL);
    g_autofree char *file = g_build_filename(fx->keyDir, UUID, "key", NULL);
    g_autofree char *fileLabel = NULL;
    g_autofree char *dirLabel = NULL;
    g_autoptr(vmiKey) key = testKey("k");
    g_autoptr(GError) err = NULL;
    g_autoptr(vmiDomainXML) dom = NULL;
    g_autoptr(vmiDomainXML) domNo = NULL;
    g_autoptr(vmiDef) def = NULL;
    g_autofree char *dac = NULL;
    vmiLifecycle lc = { .keyDir = fx->keyDir };

    g_string_replace(xml, "RELABEL", "yes", 1);
    g_string_replace(xmlNo, "RELABEL", "no", 1);
    dom = vmiDomainXMLParseString(xml->str, "test", &err);
    g_assert_no_error(err);
    domNo = vmiDomainXMLParseString(xmlNo->str, "test", &err);
    g_assert_no_error(err);
    def = vmiDomainXMLGetDef(dom, &err);
    g_assert_no_error(err);
    dac = vmiDomainXMLGetDACLabel(dom);

    /* relabel='no': libvirt leaves the files alone, so do we */
    g_assert_true(vmiKeyFileWrite(fx->keyDir, UUID, key, &err));
    g_assert_true(vmiLifecycleHandOver(&lc, domNo, def, dac, &err));
    g_assert_no_error(err);
    g_assert_null(getLabel(file));

    g_assert_true(vmiLifecycleHandOver(&lc, dom, def, dac, &err));
    g_assert_no_error(err);
    fileLabel = getLabel(file);
    dirLabel = getLabel(dir);
    if (!fileLabel && (errno == ENOTSUP || errno == EOPNOTSUPP)) {
        g_test_skip("this file system keeps no security.selinux attribute");
        return;
    }
    g_assert_cmpstr(fileLabel, ==, LABEL);
    g_assert_cmpstr(dirLabel, ==, LABEL);

    g_assert_true(vmiKeyFileRemove(fx->keyDir, UUID, &err));
    g_assert_false(vmiKeyFileSetLabel(fx->keyDir, UUID, LABEL, &err));
    g_assert_nonnull(strstr(err->message, "cannot give SELinux label '" LABEL "' to"));
#undef LABEL
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


/* The modes are the layout's whatever the umask: under 077 the key
 * directory was 0700 and QEMU's user could not reach its key. */
static void
testModesUnderUmask(Fixture *fx, gconstpointer data)
{
    const mode_t masks[] = { 077, 0777 };
    guint i;

    for (i = 0; i < G_N_ELEMENTS(masks); i++) {
        g_autoptr(vmiKey) key = testKey("k");
        g_autoptr(GError) err = NULL;
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", fx->keyDir);
        vmiKeyFileState state;
        mode_t old = umask(masks[i]);
        struct stat st;
        gboolean ok = vmiKeyFileWrite(fx->keyDir, UUID, key, &err);

        umask(old);
        g_assert_no_error(err);
        g_assert_true(ok);
        g_assert_cmpint(stat(fx->keyDir, &st), ==, 0);
        g_assert_cmpuint(st.st_mode & 07777, ==, 0711);
        g_assert_true(vmiKeyFileGetState(fx->keyDir, UUID, &state, &err));
        g_assert_cmpuint(state.dirMode, ==, 0700);
        g_assert_cmpuint(state.mode, ==, 0600);
        g_assert_cmpint(system(cmd), ==, 0);
    }
}


/* The UUID names a directory: '../victim' in a domain XML must not
 * make the hook chown or remove anything outside the key directory. */
static void
testBadUUIDRefused(Fixture *fx, gconstpointer data)
{
    const char *bad[] = { "../victim", "4DEA22B3-1D52-D8F3-2516-782E98AB3FA0",
                          "4dea22b3-1d52-d8f3-2516-782e98ab3fa0/..", "", NULL };
    g_autofree char *victim = g_build_filename(fx->tmp, "run", "victim", NULL);
    g_autofree char *victimKey = g_build_filename(victim, "key", NULL);
    guint i;

    g_assert_cmpint(g_mkdir_with_parents(fx->keyDir, 0711), ==, 0);
    g_assert_cmpint(g_mkdir(victim, 0755), ==, 0);
    g_assert_true(g_file_set_contents(victimKey, "x", 1, NULL));
    for (i = 0; bad[i]; i++) {
        g_autoptr(vmiKey) key = testKey("k");
        g_autoptr(GError) err = NULL;
        vmiKeyFileState state;
        struct stat st;

        g_assert_false(vmiKeyFileChown(fx->keyDir, bad[i], 4242, 4343, &err));
        g_assert_nonnull(strstr(err->message, "invalid domain UUID"));
        g_clear_error(&err);
        g_assert_false(vmiKeyFileWrite(fx->keyDir, bad[i], key, &err));
        g_assert_nonnull(strstr(err->message, "invalid domain UUID"));
        g_clear_error(&err);
        g_assert_false(vmiKeyFileRemove(fx->keyDir, bad[i], &err));
        g_clear_error(&err);
        g_assert_false(vmiKeyFileGetState(fx->keyDir, bad[i], &state, &err));
        g_clear_error(&err);

        g_assert_cmpint(stat(victimKey, &st), ==, 0);
        g_assert_cmpuint(st.st_uid, ==, geteuid());
        g_assert_cmpint(stat(victim, &st), ==, 0);
        g_assert_cmpuint(st.st_uid, ==, geteuid());
    }
}


static void
testUUIDCanonical(void)
{
    const char *same[] = { "4dea22b3-1d52-d8f3-2516-782e98ab3fa0",
                           "4DEA22B3-1D52-D8F3-2516-782E98AB3FA0",
                           " 4dea22b31d52d8f32516782e98ab3fa0 ",
                           "4d-ea-22b3 1d52d8f3-2516-782e98ab3fa0", NULL };
    const char *bad[] = { "../victim", "4dea22b3-1d52-d8f3-2516-782e98ab3fa",
                          "4dea22b3-1d52-d8f3-2516-782e98ab3fa0a", "4-dea22b3-1d52-d8f3-2516-782e98ab3fa0",
                          "4dea22b3-1d52-d8f3-2516-782e98ab3fa0/..", "", NULL };
    guint i;

    for (i = 0; same[i]; i++) {
        g_autofree char *c = vmiUUIDCanonical(same[i]);
        g_assert_cmpstr(c, ==, "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
    }
    for (i = 0; bad[i]; i++)
        g_assert_null(vmiUUIDCanonical(bad[i]));
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


/* The label of qemu.conf's user and group, which the emulator probe runs
 * as; @text NULL: no qemu.conf. */
static char *
qemuConfLabel(Fixture *fx, const char *text, GError **error)
{
    g_autofree char *path = g_build_filename(fx->tmp, "qemu.conf", NULL);

    if (text)
        g_assert_true(g_file_set_contents(path, text, -1, NULL));
    else
        g_unlink(path);
    return vmiSettingsQemuDACLabel(path, error);
}


static void
testQemuConfLabel(Fixture *fx, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *label = NULL;
    g_autofree char *expected = NULL;
    struct passwd *pw;

    label = qemuConfLabel(fx, "# user = \"root\"\nuser = \"nobody\"\n  group=\"daemon\"\n", &err);
    g_assert_no_error(err);
    g_assert_cmpstr(label, ==, "nobody:daemon");
    g_clear_pointer(&label, g_free);

    /* the last setting wins, as in libvirt; without a group, the user's own */
    label = qemuConfLabel(fx, "user = \"root\"\nuser = \"nobody\"\n", &err);
    g_assert_no_error(err);
    pw = getpwnam("nobody");
    g_assert_nonnull(pw);
    expected = g_strdup_printf("nobody:+%u", (unsigned)pw->pw_gid);
    g_assert_cmpstr(label, ==, expected);
    g_clear_pointer(&label, g_free);
    g_clear_pointer(&expected, g_free);

    /* no file, or no user: libvirt's default user, never root */
    label = qemuConfLabel(fx, NULL, &err);
    if ((pw = getpwnam("libvirt-qemu")) || (pw = getpwnam("qemu"))) {
        g_assert_no_error(err);
        expected = g_strdup_printf("%s:+%u", pw->pw_name, (unsigned)pw->pw_gid);
        g_assert_cmpstr(label, ==, expected);
    } else {
        g_assert_null(label);
        g_assert_nonnull(strstr(err->message, "cannot tell which user QEMU runs as"));
    }
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


/* A domain XML without <uuid> at the hook's start (found by tests/fuzz:
 * fuzz_hook) read through NULL. */
static void
testNoUUIDRefused(Fixture *fx, gconstpointer data)
{
    g_autoptr(vmiKey) key = testKey("k");
    g_autoptr(GError) err = NULL;
    vmiKeyFileState state;

    g_assert_false(vmiKeyFileChown(fx->keyDir, NULL, 4242, 4343, &err));
    g_assert_nonnull(strstr(err->message, "invalid domain UUID ''"));
    g_clear_error(&err);
    g_assert_false(vmiKeyFileWrite(fx->keyDir, NULL, key, &err));
    g_assert_nonnull(strstr(err->message, "invalid domain UUID ''"));
    g_clear_error(&err);
    g_assert_false(vmiKeyFileRemove(fx->keyDir, NULL, &err));
    g_clear_error(&err);
    g_assert_false(vmiKeyFileGetState(fx->keyDir, NULL, &state, &err));
}


static vmiKey *
countingFetch(gpointer opaque, const char *secretUUID, GError **error)
{
    (*(guint *)opaque)++;
    return testKey("k");
}


static gboolean
probeEnforced(const char *emulator, const char *dacLabel, const char *cacheDir,
              vmiProbeResult *result, GError **error)
{
    *result = VMI_PROBE_ENFORCED;
    return TRUE;
}


/*
 * `migrate begin` and `restore begin` check without reading the key (the
 * `prepare begin` after them reads it, before QEMU runs): one fetch of the
 * key secret per start, which without virt-vmid loads libvirt.
 */
static void
testCheckReadsNoKey(Fixture *fx, gconstpointer data)
{
    const char *xml =
        "<domain type='kvm'><name>d</name><uuid>" UUID "</uuid>"
        "<metadata><vmi:introspection xmlns:vmi='http://libvirt-vmi.org/schemas/introspection/1.0'>"
        "<vmi:source type='unix' path='/run/vmi/d.sock'/>"
        "<vmi:key secret='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/></vmi:introspection></metadata>"
        "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>";
    g_autofree char *file = g_build_filename(fx->keyDir, UUID, "key", NULL);
    g_autoptr(GError) err = NULL;
    g_autoptr(vmiDomainXML) dom = vmiDomainXMLParseString(xml, "test", &err);
    g_autoptr(vmiDef) def = NULL;
    g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);
    guint fetches = 0;
    vmiLifecycle lc = { countingFetch, &fetches, fx->keyDir, NULL, "+0:+0", probeEnforced };

    g_assert_no_error(err);
    def = vmiDomainXMLGetDef(dom, &err);
    g_assert_no_error(err);
    g_assert_true(vmiSyncDomain(dom, def, fx->keyDir, changes, &err));
    g_assert_no_error(err);

    g_assert_true(vmiLifecycleCheck(&lc, dom, def, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(fetches, ==, 0);
    g_assert_false(g_file_test(file, G_FILE_TEST_EXISTS));

    g_assert_true(vmiLifecyclePrepare(&lc, dom, def, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(fetches, ==, 1);
    g_assert_true(g_file_test(file, G_FILE_TEST_IS_REGULAR));
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add("/keyfile/write-remove", Fixture, NULL, setUp, testWriteAndRemove, tearDown);
    g_test_add("/keyfile/hand-over", Fixture, NULL, setUp, testHandOver, tearDown);
    g_test_add("/keyfile/hand-over-selinux", Fixture, NULL, setUp, testHandOverSELinux, tearDown);
    g_test_add("/keyfile/stale-replaced", Fixture, NULL, setUp, testStaleReplaced, tearDown);
    g_test_add("/keyfile/symlink", Fixture, NULL, setUp, testSymlinkNotFollowed, tearDown);
    g_test_add("/keyfile/umask", Fixture, NULL, setUp, testModesUnderUmask, tearDown);
    g_test_add("/keyfile/bad-uuid", Fixture, NULL, setUp, testBadUUIDRefused, tearDown);
    g_test_add("/keyfile/no-uuid", Fixture, NULL, setUp, testNoUUIDRefused, tearDown);
    g_test_add("/keyfile/check-reads-no-key", Fixture, NULL, setUp, testCheckReadsNoKey,
               tearDown);
    g_test_add_func("/keyfile/uuid-canonical", testUUIDCanonical);
    g_test_add("/keyfile/unsafe-dir", Fixture, NULL, setUp, testUnsafeKeyDirRefused, tearDown);
    g_test_add_func("/keyfile/dac-labels", testDACLabels);
    g_test_add("/keyfile/qemu-conf-label", Fixture, NULL, setUp, testQemuConfLabel, tearDown);
    g_test_add_func("/keyfile/paths-and-rule", testPathsAndRule);
    return g_test_run();
}
