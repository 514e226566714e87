/*
 * generatedtest: the parts of committed files that are generated from
 * the KVMI name table (src/conf/vmi_kvmi.c), so that table stays the
 * single source of truth. With VIR_TEST_REGENERATE_OUTPUT=1 the files
 * are rewritten instead of compared.
 */
#include <string.h>

#include "conf/vmi_kvmi.h"
#include "testutils.h"

static const char *srcdir;


static void
formatRNGKind(GString *buf, const vmiKvmiTable *table, const char *Kind)
{
    guint id;

    g_string_append_printf(buf, "  <define name=\"kvmi%sName\">\n    <choice>\n", Kind);
    for (id = table->first; id <= table->last; id++)
        g_string_append_printf(buf, "      <value>%s</value>\n", vmiKvmiTableName(table, id));
    g_string_append(buf, "    </choice>\n  </define>\n\n");
    g_string_append_printf(buf,
                           "  <define name=\"kvmi%sId\">\n"
                           "    <data type=\"unsignedInt\">\n"
                           "      <param name=\"pattern\">[0-9]+</param>\n"
                           "      <param name=\"minInclusive\">%u</param>\n"
                           "      <param name=\"maxInclusive\">%u</param>\n"
                           "    </data>\n"
                           "  </define>\n",
                           Kind, table->first, table->last);
}


static char *
formatRNG(void)
{
    GString *buf = g_string_new(NULL);

    formatRNGKind(buf, &vmiKvmiCommands, "Command");
    g_string_append_c(buf, '\n');
    formatRNGKind(buf, &vmiKvmiEvents, "Event");
    return g_string_free(buf, FALSE);
}


/* KVMI_VM_GET_INFO from vm-get-info */
static char *
kvmiConstant(const vmiKvmiTable *table, guint id)
{
    g_autofree char *upper = g_ascii_strup(vmiKvmiTableName(table, id), -1);

    g_strdelimit(upper, "-", '_');
    return g_strdup_printf("KVMI_%s%s", table == &vmiKvmiEvents ? "EVENT_" : "", upper);
}


static void
formatDocsKind(GString *buf, const vmiKvmiTable *table, const char *title)
{
    g_autofree char *rule = NULL;
    g_autofree char *line = NULL;
    int width = strlen(title);
    guint id;

    for (id = table->first; id <= table->last; id++)
        width = MAX(width, (int)strlen(vmiKvmiTableName(table, id)) + 4);
    line = g_strnfill(width, '=');
    rule = g_strdup_printf("%s ==== ================================\n", line);
    g_string_append(buf, rule);
    g_string_append_printf(buf, "%-*s %-4s %s\n", width, title, "id", "KVMI v8 constant");
    g_string_append(buf, rule);
    for (id = table->first; id <= table->last; id++) {
        g_autofree char *name = g_strdup_printf("``%s``", vmiKvmiTableName(table, id));
        g_autofree char *constant = kvmiConstant(table, id);
        g_string_append_printf(buf, "%-*s %-4u %s\n", width, name, id, constant);
    }
    g_string_append(buf, rule);
}


static char *
formatDocs(void)
{
    GString *buf = g_string_new("\n");

    formatDocsKind(buf, &vmiKvmiCommands, "command name");
    g_string_append_c(buf, '\n');
    formatDocsKind(buf, &vmiKvmiEvents, "event name");
    g_string_append_c(buf, '\n');
    return g_string_free(buf, FALSE);
}


typedef struct {
    const char *file;       /* relative to the source root */
    const char *begin;      /* marker lines around the generated text */
    const char *end;
    char *(*generate)(void);
} GeneratedRegion;

static const GeneratedRegion regions[] = {
    { "src/conf/schemas/introspection.rng",
      "  <!-- BEGIN GENERATED: KVMI v8 ids -->\n",
      "  <!-- END GENERATED: KVMI v8 ids -->\n", formatRNG },
    { "docs/formatdomain-vmi.rst",
      ".. BEGIN GENERATED: KVMI v8 ids\n",
      ".. END GENERATED: KVMI v8 ids\n", formatDocs },
};


static void
testRegion(gconstpointer data)
{
    const GeneratedRegion *region = data;
    g_autofree char *path = g_build_filename(srcdir, region->file, NULL);
    g_autofree char *contents = NULL;
    g_autofree char *expected = region->generate();
    g_autofree char *actual = NULL;
    g_autoptr(GError) err = NULL;
    char *begin, *end;

    g_assert_true(g_file_get_contents(path, &contents, NULL, &err));
    g_assert_no_error(err);
    begin = strstr(contents, region->begin);
    g_assert_nonnull(begin);
    begin += strlen(region->begin);
    end = strstr(begin, region->end);
    g_assert_nonnull(end);

    actual = g_strndup(begin, end - begin);
    if (vmiTestRegenerate() && !g_str_equal(actual, expected)) {
        g_autoptr(GString) out = g_string_new_len(contents, begin - contents);
        g_string_append(out, expected);
        g_string_append(out, end);
        g_assert_true(g_file_set_contents(path, out->str, out->len, &err));
        return;
    }
    vmiTestAssertEqualText(region->file, expected, actual);
}


int
main(int argc, char **argv)
{
    size_t i;

    g_test_init(&argc, &argv, NULL);
    if (argc != 2)
        g_error("usage: %s SRCDIR", argv[0]);
    srcdir = argv[1];

    for (i = 0; i < G_N_ELEMENTS(regions); i++) {
        g_autofree char *name = g_strdup_printf("/generated/%s", regions[i].file);
        g_test_add_data_func(name, &regions[i], testRegion);
    }
    return g_test_run();
}
