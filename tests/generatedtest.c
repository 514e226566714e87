/*
 * generatedtest: the parts of committed files that are generated from
 * the KVMI name table (src/conf/vmi_kvmi.c) and the table of numeric
 * attributes (vmiAttrs, src/conf/vmi_conf.c), so that those tables stay
 * the single source of truth; and the docs' tables, held to vmiAttrs.
 * With VIR_TEST_REGENERATE_OUTPUT=1 the files are rewritten instead of
 * compared.
 */
#include <string.h>

#include "conf/vmi_conf.h"
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


/* One <define> per schema type, in the table's order. */
static char *
formatRNGRanges(void)
{
    g_autoptr(GPtrArray) done = g_ptr_array_new();
    GString *buf = g_string_new(NULL);
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(vmiAttrs); i++) {
        const vmiAttrInfo *info = &vmiAttrs[i];

        if (g_ptr_array_find_with_equal_func(done, info->schemaType, g_str_equal, NULL))
            continue;
        g_ptr_array_add(done, (gpointer)info->schemaType);
        if (done->len > 1)
            g_string_append_c(buf, '\n');
        if (info->kind == VMI_ATTR_KIND_YES_NO) {
            g_string_append_printf(buf,
                                   "  <define name=\"%s\">\n"
                                   "    <choice>\n"
                                   "      <value>yes</value>\n"
                                   "      <value>no</value>\n"
                                   "    </choice>\n"
                                   "  </define>\n",
                                   info->schemaType);
            continue;
        }
        g_string_append_printf(buf,
                               "  <define name=\"%s\">\n"
                               "    <data type=\"unsignedInt\">\n"
                               "      <param name=\"pattern\">[0-9]+</param>\n",
                               info->schemaType);
        /* unsignedInt starts at 0 anyway */
        if (info->range->min > 0)
            g_string_append_printf(buf, "      <param name=\"minInclusive\">%" G_GUINT64_FORMAT
                                   "</param>\n", info->range->min);
        g_string_append_printf(buf,
                               "      <param name=\"maxInclusive\">%" G_GUINT64_FORMAT "</param>\n"
                               "    </data>\n"
                               "  </define>\n",
                               info->range->max);
    }
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
    const char *name;       /* the test's */
    const char *file;       /* relative to the source root */
    const char *begin;      /* marker lines around the generated text */
    const char *end;
    char *(*generate)(void);
} GeneratedRegion;

static const GeneratedRegion regions[] = {
    { "rng/attribute-ranges", "src/conf/schemas/introspection.rng",
      "  <!-- BEGIN GENERATED: attribute ranges -->\n",
      "  <!-- END GENERATED: attribute ranges -->\n", formatRNGRanges },
    { "rng/kvmi-ids", "src/conf/schemas/introspection.rng",
      "  <!-- BEGIN GENERATED: KVMI v8 ids -->\n",
      "  <!-- END GENERATED: KVMI v8 ids -->\n", formatRNG },
    { "docs/kvmi-ids", "docs/formatdomain-vmi.rst",
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


/*
 * The row of @attr in the table of section ``@element`` of the element's
 * page, its continuation lines joined, blanks squeezed.
 */
static char *
docsAttrRow(const char *docs, const char *element, const char *attr)
{
    g_autofree char *heading = g_strdup_printf("\n``%s``\n---", element);
    g_autofree char *start = g_strdup_printf("\n``%s`` ", attr);
    g_autoptr(GRegex) blanks = g_regex_new("\\s+", 0, 0, NULL);
    g_autoptr(GString) row = g_string_new(NULL);
    const char *section = strstr(docs, heading);
    const char *next, *line, *eol;

    g_assert_nonnull(section);
    section += strlen(heading);
    next = strstr(section, "\n---");
    line = strstr(section, start);
    g_assert_true(line && (!next || line < next));
    for (line++; *line; line = eol + 1) {
        eol = strchrnul(line, '\n');
        if (row->len && line[0] != ' ')
            break;
        g_string_append_len(row, line, eol - line);
        g_string_append_c(row, ' ');
        if (!*eol)
            break;
    }
    return g_regex_replace_literal(blanks, row->str, -1, 0, " ", 0, NULL);
}


/* docs/formatdomain-vmi.rst states each attribute's range (or yes/no) and
 * default as vmiAttrs has them. */
static void
testDocsAttrs(gconstpointer data)
{
    g_autofree char *path = g_build_filename(srcdir, "docs/formatdomain-vmi.rst", NULL);
    g_autofree char *docs = NULL;
    g_autoptr(GError) err = NULL;
    size_t i;

    g_assert_true(g_file_get_contents(path, &docs, NULL, &err));
    for (i = 0; i < G_N_ELEMENTS(vmiAttrs); i++) {
        const vmiAttrInfo *info = &vmiAttrs[i];
        g_autofree char *row = docsAttrRow(docs, info->element, info->attribute);
        g_autofree char *range = NULL;
        g_autofree char *dflt = NULL;

        if (info->kind == VMI_ATTR_KIND_YES_NO) {
            g_autofree char *expected =
                g_strdup_printf("default ``%s``", vmiYesNoToString(info->defaultValue));

            if (!strstr(row, "``yes`` or ``no``") || !strcasestr(row, expected))
                g_test_message("%s/@%s: the docs say '%s', not ``yes`` or ``no``, %s",
                               info->element, info->attribute, row, expected);
            g_assert_nonnull(strstr(row, "``yes`` or ``no``"));
            g_assert_nonnull(strcasestr(row, expected));
            continue;
        }
        range = g_strdup_printf("%" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
                                info->range->min, info->range->max);
        dflt = g_strdup_printf("\\b%u\\b", info->defaultValue);

        if (!strstr(row, range))
            g_test_message("%s/@%s: the docs say '%s', not %s",
                           info->element, info->attribute, row, range);
        g_assert_nonnull(strstr(row, range));
        if (info->defaultValue) {
            if (!g_regex_match_simple(dflt, row, 0, 0))
                g_test_message("%s/@%s: the docs say '%s', without the default %u",
                               info->element, info->attribute, row, info->defaultValue);
            g_assert_true(g_regex_match_simple(dflt, row, 0, 0));
        }
    }
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
        g_autofree char *name = g_strdup_printf("/generated/%s", regions[i].name);
        g_test_add_data_func(name, &regions[i], testRegion);
    }
    g_test_add_data_func("/generated/docs/attribute-ranges", NULL, testDocsAttrs);
    return g_test_run();
}
