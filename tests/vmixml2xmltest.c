/*
 * vmixml2xmltest: every valid case of tests/qemuxml2argvdata survives
 * parse -> format -> parse unchanged, formats canonically (the expected
 * text is tests/vmixml2xmloutdata/NAME.xml) and the canonical form passes
 * the schema. VIR_TEST_REGENERATE_OUTPUT=1 rewrites the expected files.
 */
#include "conf/vmi_domain_xml.h"
#include "conf/vmi_schema.h"
#include "testutils.h"

static const char *datadir;
static const char *outdir;


static void
testRoundTrip(gconstpointer data)
{
    const char *name = data;
    g_autofree char *display = g_strdup_printf("%s.xml", name);
    g_autofree char *inPath = g_build_filename(datadir, display, NULL);
    g_autofree char *outPath = g_build_filename(outdir, display, NULL);
    g_autoptr(vmiDomainXML) dom = NULL;
    g_autoptr(vmiDef) first = NULL;
    g_autoptr(vmiDef) second = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *xml1 = NULL;
    g_autofree char *xml2 = NULL;

    dom = vmiDomainXMLReadFile(inPath, display, &err);
    g_assert_no_error(err);
    first = vmiDomainXMLGetDef(dom, &err);
    g_assert_no_error(err);

    xml1 = vmiDefFormat(first);
    second = vmiDefParseString(xml1, &err);
    g_assert_no_error(err);
    g_assert_true(vmiDefEqual(first, second));

    xml2 = vmiDefFormat(second);
    vmiTestAssertEqualText(display, xml1, xml2);
    vmiTestCompareFile(outPath, xml1);

    {
        g_autoptr(vmiDomainXML) canonical = vmiDomainXMLParseString(xml1, display, &err);
        g_assert_no_error(err);
        g_assert_true(vmiSchemaValidate(canonical->vmi, display, &err));
        g_assert_no_error(err);
    }
}


int
main(int argc, char **argv)
{
    g_autoptr(GPtrArray) names = NULL;
    guint ncases = 0;
    guint i;

    g_test_init(&argc, &argv, NULL);
    if (argc != 3)
        g_error("usage: %s DATADIR OUTDIR", argv[0]);
    datadir = argv[1];
    outdir = argv[2];

    names = vmiTestListFiles(datadir, ".args");
    for (i = 0; i < names->len; i++) {
        g_autofree char *path = g_strdup_printf("/vmixml2xml/%s", (char *)names->pdata[i]);
        g_test_add_data_func(path, names->pdata[i], testRoundTrip);
        ncases++;
    }
    g_assert_cmpuint(ncases, >=, 25);
    return g_test_run();
}
