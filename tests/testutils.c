/*
 * testutils.c: helpers for the data-driven tests
 */
#include <stdio.h>
#include <string.h>

#include "testutils.h"


/* As libvirt's tests: VIR_TEST_REGENERATE_OUTPUT=1 rewrites expectations. */
gboolean
vmiTestRegenerate(void)
{
    const char *env = g_getenv("VIR_TEST_REGENERATE_OUTPUT");

    return env && g_str_equal(env, "1");
}


/* On a mismatch, print a diff-like view before failing. */
void
vmiTestAssertEqualText(const char *what, const char *expected, const char *actual)
{
    if (g_str_equal(expected, actual))
        return;
    g_printerr("%s: mismatch\n--- expected\n%s\n+++ actual\n%s\n", what, expected, actual);
    g_test_fail();
}


char *
vmiTestReadFile(const char *path)
{
    g_autoptr(GError) err = NULL;
    char *contents = NULL;

    if (!g_file_get_contents(path, &contents, NULL, &err))
        return NULL;
    return contents;
}


/* Compare @actual with the file at @path, or rewrite it when regenerating. */
void
vmiTestCompareFile(const char *path, const char *actual)
{
    g_autofree char *expected = vmiTestReadFile(path);
    g_autoptr(GError) err = NULL;

    if (vmiTestRegenerate()) {
        if (!expected || !g_str_equal(expected, actual)) {
            g_assert_true(g_file_set_contents(path, actual, -1, &err));
            g_assert_no_error(err);
        }
        return;
    }
    if (!expected) {
        g_printerr("%s: missing; run with VIR_TEST_REGENERATE_OUTPUT=1 to create it\n", path);
        g_test_fail();
        return;
    }
    vmiTestAssertEqualText(path, expected, actual);
}


static gint
vmiTestCompareStrings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}


/* Base names (without @suffix) of the files in @dir ending in @suffix, sorted. */
GPtrArray *
vmiTestListFiles(const char *dir, const char *suffix)
{
    g_autoptr(GDir) d = NULL;
    g_autoptr(GError) err = NULL;
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *ent;

    if (!(d = g_dir_open(dir, 0, &err)))
        g_error("%s", err->message);
    while ((ent = g_dir_read_name(d))) {
        if (g_str_has_suffix(ent, suffix))
            g_ptr_array_add(names, g_strndup(ent, strlen(ent) - strlen(suffix)));
    }
    g_ptr_array_sort(names, vmiTestCompareStrings);
    return names;
}
