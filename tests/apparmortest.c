/*
 * apparmortest: the AppArmor rules of vmi_apparmor.c against Debian's
 * libvirt profiles. A copy of /etc/apparmor.d in a temporary directory
 * gets libvirt-daemon-system's files (the host's, or those
 * scripts/setup-host.sh unpacked), our rules installed as hook-install
 * does, and a domain profile made as virt-aa-helper makes it; then
 * apparmor_parser compiles it without loading anything (-Q -K), and the
 * globs of the rules are matched against the key file and socket paths
 * that qemu_vmi.c generates for sample domains.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "conf/vmi_conf.h"
#include "conf/vmi_error.h"
#include "core/qemu_vmi.h"
#include "core/vmi_apparmor.h"
#include "core/vmi_paths.h"

#define UUID "c7a5fdbd-edaf-9455-926a-d65c16db1809"
#define NS "xmlns:vmi='http://libvirt-vmi.org/schemas/introspection/1.0'"
#define LIBVIRT_CACHE "/var/cache/libvirt-vmi-tests/libvirt-daemon-system/etc/apparmor.d"

static const char *const elements[] = {
    "<vmi:introspection " NS "><vmi:source type='unix' path='/run/vmi/guest1.sock'/>"
    "<vmi:key secret='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/></vmi:introspection>",
    /* AppArmor's glob and variable characters, a comma (doubled by QEMU's
     * option syntax) and a space: all literal in the rule */
    "<vmi:introspection " NS "><vmi:source type='unix' "
    "path='/var/lib/vmi tools/a*b?[c]{d,e}^@{HOME}\"q\\.sock'/></vmi:introspection>",
    "<vmi:introspection " NS "><vmi:source type='vsock' cid='1234' port='4321'/>"
    "</vmi:introspection>",
};

static char *aaSource;      /* where Debian's libvirt profiles are */
static gboolean haveTools;  /* apparmor_parser and those profiles */

#define NEED_TOOLS() \
    do { \
        if (!haveTools) { \
            g_test_skip("no apparmor_parser or no libvirt AppArmor profiles: " \
                        "run scripts/setup-host.sh"); \
            return; \
        } \
    } while (0)


static char *
runParser(const char *aaDir, const char *profile, const char *mode, int *status)
{
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr(GError) error = NULL;
    /* -K: no cache; with -Q nothing is loaded, -p only preprocesses */
    const char *argv[] = { "apparmor_parser", mode, "-K", "-I", aaDir, profile, NULL };

    g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                 &out, &err, status, &error);
    g_assert_no_error(error);
    if (*status != 0)
        g_test_message("apparmor_parser %s: %s", mode, err);
    return g_steal_pointer(&out);
}


/* A copy of /etc/apparmor.d with libvirt's profiles in it. */
static char *
makeTree(const char *tmp)
{
    g_autofree char *cmd = g_strdup_printf("cp -r /etc/apparmor.d '%s/' && cp -r '%s'/. '%s/apparmor.d/'",
                                           tmp, aaSource, tmp);

    g_assert_cmpint(system(cmd), ==, 0);
    return g_build_filename(tmp, "apparmor.d", NULL);
}


/* The profile virt-aa-helper writes for a domain: TEMPLATE.qemu, renamed,
 * plus its .files (here empty: nothing of ours is in the devices). */
static char *
makeDomainProfile(const char *aaDir)
{
    g_autofree char *template = g_build_filename(aaDir, "libvirt", "TEMPLATE.qemu", NULL);
    g_autofree char *text = NULL;
    g_autofree char *files = g_build_filename(aaDir, "libvirt", "libvirt-" UUID ".files", NULL);
    char *profile = g_build_filename(aaDir, "libvirt", "libvirt-" UUID, NULL);
    g_autoptr(GString) buf = NULL;

    g_assert_true(g_file_get_contents(template, &text, NULL, NULL));
    buf = g_string_new(text);
    g_assert_cmpuint(g_string_replace(buf, "LIBVIRT_TEMPLATE", "libvirt-" UUID, 0), ==, 1);
    g_string_replace(buf, "#include <abstractions/libvirt-qemu>",
                     "#include <abstractions/libvirt-qemu>\n"
                     "  #include <libvirt/libvirt-" UUID ".files>", 1);
    g_assert_true(g_file_set_contents(profile, buf->str, -1, NULL));
    g_assert_true(g_file_set_contents(files, "", -1, NULL));
    return profile;
}


/* An AppArmor file glob as a regular expression: * ** ? [...] {a,b} \x */
static char *
globToRegex(const char *glob)
{
    GString *re = g_string_new("^");
    int braces = 0;
    const char *p;

    for (p = glob; *p; p++) {
        switch (*p) {
        case '\\': {
            g_autofree char *lit = g_regex_escape_string(++p, 1);
            g_string_append(re, lit);
            break;
        }
        case '*':
            if (p[1] == '*') {
                g_string_append(re, ".*");
                p++;
            } else {
                g_string_append(re, "[^/]*");
            }
            break;
        case '?':
            g_string_append(re, "[^/]");
            break;
        case '[':
            for (; *p && *p != ']'; p++)
                g_string_append_c(re, *p == '^' ? '^' : *p);
            g_string_append_c(re, ']');
            break;
        case '{':
            g_string_append(re, "(?:");
            braces++;
            break;
        case '}':
            g_string_append_c(re, ')');
            braces--;
            break;
        case ',':
            g_string_append(re, braces ? "|" : ",");
            break;
        default: {
            g_autofree char *lit = g_regex_escape_string(p, 1);
            g_string_append(re, lit);
        }
        }
    }
    g_string_append_c(re, '$');
    return g_string_free(re, FALSE);
}


/* Whether a file rule of @rules with @perms covers @path. */
static gboolean
rulesCover(const char *rules, const char *path, const char *perms)
{
    g_auto(GStrv) lines = g_strsplit(rules, "\n", -1);
    g_autofree char *suffix = g_strdup_printf(" %s,", perms);
    char **line;

    for (line = lines; *line; line++) {
        const char *start = strchr(g_strstrip(*line), '"');
        const char *end = start ? strrchr(*line, '"') : NULL;
        g_autofree char *glob = NULL;
        g_autofree char *re = NULL;

        if (g_str_has_prefix(*line, "#") || !start || end == start ||
            !g_str_has_suffix(*line, suffix))
            continue;
        glob = g_strndup(start + 1, end - start - 1);
        re = globToRegex(glob);
        if (g_regex_match_simple(re, path, 0, 0))
            return TRUE;
    }
    return FALSE;
}


/* QEMU's option value of @key in @arg: "path=...," with ",," for a comma */
static char *
optionValue(const char *arg, const char *key)
{
    g_autofree char *prefix = g_strdup_printf(",%s=", key);
    const char *p = strstr(arg, prefix);
    GString *buf = g_string_new(NULL);

    g_assert_nonnull(p);
    for (p += strlen(prefix); *p; p++) {
        if (*p == ',' && p[1] != ',')
            break;
        if (*p == ',')
            p++;
        g_string_append_c(buf, *p);
    }
    return g_string_free(buf, FALSE);
}


static void
testCompileAndCover(void)
{
    g_autoptr(GPtrArray) defs = g_ptr_array_new_with_free_func((GDestroyNotify)vmiDefFree);
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) err = NULL;
    const char *tmp = g_getenv("VMI_TEST_TMP");
    g_autofree char *aaDir = NULL;
    g_autofree char *profile = NULL;
    g_autofree char *rules = NULL;
    g_autofree char *keyPath = NULL;
    g_autofree char *preprocessed = NULL;
    g_autofree char *out = NULL;
    int status;
    guint i;

    for (i = 0; i < G_N_ELEMENTS(elements); i++) {
        vmiDef *def = vmiDefParseString(elements[i], &err);
        g_auto(GStrv) args = NULL;
        char **arg;

        g_assert_no_error(err);
        g_ptr_array_add(defs, def);
        args = vmiQemuBuildArgs(def, UUID, NULL);
        for (arg = args; *arg; arg++) {
            if (g_str_has_prefix(*arg, "socket,") && strstr(*arg, ",path="))
                g_ptr_array_add(paths, optionValue(*arg, "path"));
            else if (g_str_has_prefix(*arg, "secret,"))
                keyPath = optionValue(*arg, "file");
        }
    }
    g_assert_nonnull(keyPath);
    g_assert_cmpuint(paths->len, ==, 2);

    rules = vmiAppArmorRules(VMI_KEY_DIR_DEFAULT, defs, &err);
    g_assert_no_error(err);
    g_test_message("rules:\n%s", rules);

    aaDir = makeTree(tmp);
    g_assert_cmpint(vmiAppArmorGetState(aaDir, rules), ==, VMI_APPARMOR_MISSING);
    g_assert_true(vmiAppArmorInstall(aaDir, rules, &err));
    g_assert_no_error(err);
    g_assert_cmpint(vmiAppArmorGetState(aaDir, rules), ==, VMI_APPARMOR_IN_PLACE);
    profile = makeDomainProfile(aaDir);

    out = runParser(aaDir, profile, "-Q", &status);
    g_assert_cmpint(status, ==, 0);
    /* our rules are in the domain's profile, through libvirt's abstraction */
    preprocessed = runParser(aaDir, profile, "-p", &status);
    g_assert_cmpint(status, ==, 0);
    g_assert_nonnull(strstr(preprocessed, "##included <" VMI_APPARMOR_RULES ">"));
    g_assert_nonnull(strstr(preprocessed, "network vsock stream,"));

    /* the globs cover what qemu_vmi.c generates, and no more than that */
    g_assert_true(rulesCover(rules, keyPath, "r"));
    for (i = 0; i < paths->len; i++) {
        g_test_message("socket %s", (char *)paths->pdata[i]);
        g_assert_true(rulesCover(rules, paths->pdata[i], "rw"));
    }
    g_assert_false(rulesCover(rules, VMI_KEY_DIR_DEFAULT "/" UUID "/other", "r"));
    g_assert_false(rulesCover(rules, VMI_KEY_DIR_DEFAULT "/virt-vmid.sock", "r"));
    g_assert_false(rulesCover(rules, "/var/lib/vmi tools/aXb?[c]{d,e}^@{HOME}\"q\\.sock", "rw"));
    g_assert_false(rulesCover(rules, "/run/vmi/guest2.sock", "rw"));

    /* a broken rule fails to compile: the check above can fail */
    {
        g_autofree char *ours = g_build_filename(aaDir, VMI_APPARMOR_RULES, NULL);
        g_autofree char *bad = g_strdup_printf("%s  \"/run/x{a\" rw,\n", rules);

        g_assert_true(g_file_set_contents(ours, bad, -1, NULL));
        g_free(runParser(aaDir, profile, "-Q", &status));
        g_assert_cmpint(status, !=, 0);
    }
}


/* Installing keeps the administrator's lines and adds the include once. */
static void
testInstallKeepsLocal(void)
{
    g_autoptr(GError) err = NULL;
    const char *tmp = g_getenv("VMI_TEST_TMP");
    g_autofree char *aaDir = NULL;
    g_autofree char *local = NULL;
    g_autofree char *localDir = NULL;
    g_autofree char *text = NULL;
    g_autofree char *rules = vmiAppArmorRules("/run/a,b", NULL, &err);

    aaDir = makeTree(tmp);
    local = g_build_filename(aaDir, VMI_APPARMOR_LOCAL, NULL);
    localDir = g_path_get_dirname(local);
    g_assert_cmpint(g_mkdir_with_parents(localDir, 0755), ==, 0);
    g_assert_true(g_file_set_contents(local, "  /srv/images/** r,", -1, NULL));
    g_assert_true(vmiAppArmorInstall(aaDir, rules, &err));
    g_assert_true(vmiAppArmorInstall(aaDir, rules, &err));
    g_assert_no_error(err);
    g_assert_true(g_file_get_contents(local, &text, NULL, NULL));
    g_assert_true(g_str_has_prefix(text, "  /srv/images/** r,\n"));
    g_assert_nonnull(strstr(text, VMI_APPARMOR_INCLUDE "\n"));
    g_assert_null(strstr(strstr(text, VMI_APPARMOR_INCLUDE) + 1, VMI_APPARMOR_INCLUDE));
    g_assert_cmpint(vmiAppArmorGetState(aaDir, rules), ==, VMI_APPARMOR_IN_PLACE);
}


/*
 * The hook's addition at prepare: the lines of the generator's text for
 * one domain that the installed file lacks, appended once; nothing where
 * hook-install has not written the file.
 */
static void
testAddSource(void)
{
    const char *tmp = g_getenv("VMI_TEST_TMP");
    g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func((GDestroyNotify)vmiDefFree);
    g_autoptr(GPtrArray) one = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *aaDir = makeTree(tmp);
    g_autofree char *ours = g_build_filename(aaDir, VMI_APPARMOR_RULES, NULL);
    g_autofree char *rulesOne = NULL;
    g_autofree char *rulesAll = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autofree char *again = NULL;
    g_autofree char *profile = NULL;
    int status;
    guint i;

    for (i = 0; i < G_N_ELEMENTS(elements); i++) {
        g_ptr_array_add(all, vmiDefParseString(elements[i], &err));
        g_assert_no_error(err);
    }
    g_ptr_array_add(one, all->pdata[0]);
    rulesOne = vmiAppArmorRules(VMI_KEY_DIR_DEFAULT, one, &err);
    rulesAll = vmiAppArmorRules(VMI_KEY_DIR_DEFAULT, all, &err);
    g_assert_no_error(err);

    /* no file from hook-install: nothing written */
    g_assert_true(vmiAppArmorAddSource(aaDir, VMI_KEY_DIR_DEFAULT, all->pdata[1], &err));
    g_assert_false(g_file_test(ours, G_FILE_TEST_EXISTS));

    g_assert_true(vmiAppArmorInstall(aaDir, rulesOne, &err));
    g_assert_cmpint(vmiAppArmorGetState(aaDir, rulesAll), ==, VMI_APPARMOR_STALE);
    g_assert_true(g_file_get_contents(ours, &before, NULL, NULL));
    g_assert_true(vmiAppArmorAddSource(aaDir, VMI_KEY_DIR_DEFAULT, all->pdata[0], &err));
    g_assert_true(vmiAppArmorAddSource(aaDir, VMI_KEY_DIR_DEFAULT, all->pdata[1], &err));
    g_assert_true(vmiAppArmorAddSource(aaDir, VMI_KEY_DIR_DEFAULT, all->pdata[2], &err));
    g_assert_no_error(err);
    g_assert_true(g_file_get_contents(ours, &after, NULL, NULL));
    g_assert_true(g_str_has_prefix(after, before));
    g_assert_true(g_str_has_suffix(after, "\n"));
    g_assert_cmpint(vmiAppArmorGetState(aaDir, rulesAll), ==, VMI_APPARMOR_IN_PLACE);

    g_assert_true(vmiAppArmorAddSource(aaDir, VMI_KEY_DIR_DEFAULT, all->pdata[1], &err));
    g_assert_true(g_file_get_contents(ours, &again, NULL, NULL));
    g_assert_cmpstr(again, ==, after);

    profile = makeDomainProfile(aaDir);
    g_free(runParser(aaDir, profile, "-Q", &status));
    g_assert_cmpint(status, ==, 0);
}


static void
testQuoteRefuses(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *rule = vmiAppArmorQuotePath("/run/a\nb", &err);

    g_assert_null(rule);
    g_assert_error(err, VMI_ERROR, VMI_ERROR_INVALID_ARG);
    g_assert_nonnull(strstr(err->message, "control character"));
    g_clear_error(&err);
    g_assert_null(vmiAppArmorQuotePath("run/x", &err));
    g_assert_nonnull(strstr(err->message, "absolute path"));
}


/*
 * Each test that writes files runs in a child process, in a temporary
 * directory the parent removes whatever the child did.
 */
static void
runInTmp(gconstpointer data)
{
    GTestFunc body = (GTestFunc)data;
    g_autoptr(GError) err = NULL;
    g_autofree char *tmp = NULL;
    g_autofree char *rm = NULL;

    if (g_test_subprocess()) {
        body();
        return;
    }
    NEED_TOOLS();
    tmp = g_dir_make_tmp("vmi-apparmor-XXXXXX", &err);
    g_assert_no_error(err);
    g_setenv("VMI_TEST_TMP", tmp, TRUE);
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT |
                           G_TEST_SUBPROCESS_INHERIT_STDERR);
    rm = g_strdup_printf("rm -rf '%s'", tmp);
    g_assert_cmpint(system(rm), ==, 0);
    g_test_trap_assert_passed();
}


int
main(int argc, char **argv)
{
    g_autofree char *parser = g_find_program_in_path("apparmor_parser");
    const char *env = g_getenv("VMI_TEST_LIBVIRT_APPARMOR");

    g_test_init(&argc, &argv, NULL);
    if (env)
        aaSource = g_strdup(env);
    else if (g_file_test("/etc/apparmor.d/" VMI_APPARMOR_LIBVIRT_QEMU, G_FILE_TEST_EXISTS))
        aaSource = g_strdup("/etc/apparmor.d");
    else
        aaSource = g_strdup(LIBVIRT_CACHE);

    haveTools = parser && g_file_test(aaSource, G_FILE_TEST_IS_DIR) &&
                g_file_test("/etc/apparmor.d/tunables/global", G_FILE_TEST_EXISTS);

    g_test_add_func("/apparmor/quote-refuses", testQuoteRefuses);
    g_test_add_data_func("/apparmor/compile-and-cover", testCompileAndCover, runInTmp);
    g_test_add_data_func("/apparmor/install-keeps-local", testInstallKeepsLocal, runInTmp);
    g_test_add_data_func("/apparmor/hook-adds-source", testAddSource, runInTmp);
    return g_test_run();
}
