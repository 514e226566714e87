/*
 * qemuxml2argvtest: tests/qemuxml2argvdata/NAME.xml becomes the arguments
 * in NAME.args, or fails with the message in NAME.err.
 *
 * Every XML is also checked against the RELAX NG schema: valid cases must
 * pass it, error cases must fail it unless their mistake is one only the
 * semantic checks can see (listed below).
 * VIR_TEST_REGENERATE_OUTPUT=1 rewrites the expected files.
 */
#include <string.h>

#include "conf/vmi_domain_xml.h"
#include "conf/vmi_schema.h"
#include "core/qemu_vmi.h"
#include "testutils.h"

#define BARE_UUID "00000000-0000-4000-8000-000000000001"

static const char *datadir;

/* Cases generated with a key directory other than the default. */
static const struct {
    const char *name;
    const char *keyDir;
} keyDirs[] = {
    { "key-dir-comma", "/run/vmi,keys" },
    { "key-dir-custom", "/var/lib/vmi/keys" },
};

/* Error cases the schema accepts: the mistake is beyond RELAX NG. */
static const char *const schemaAccepts[] = {
    "err-allow-duplicate-command",
    "err-allow-duplicate-event",
    "err-allow-duplicate-name-id",
    "err-source-path-bytes",
    NULL
};


static const char *
caseKeyDir(const char *name)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(keyDirs); i++) {
        if (g_str_equal(keyDirs[i].name, name))
            return keyDirs[i].keyDir;
    }
    return NULL;
}


static char *
formatArgs(GStrv args)
{
    GString *buf = g_string_new(NULL);
    size_t i;

    for (i = 0; args[i] && args[i + 1]; i += 2)
        g_string_append_printf(buf, "%s %s\n", args[i], args[i + 1]);
    return g_string_free(buf, FALSE);
}


static void
testCase(gconstpointer data)
{
    const char *name = data;
    g_autofree char *display = g_strdup_printf("%s.xml", name);
    g_autofree char *xmlPath = g_build_filename(datadir, display, NULL);
    g_autofree char *argsPath = g_strdup_printf("%s/%s.args", datadir, name);
    g_autofree char *errPath = g_strdup_printf("%s/%s.err", datadir, name);
    gboolean expectError = g_file_test(errPath, G_FILE_TEST_EXISTS);
    g_autoptr(vmiDomainXML) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) schemaErr = NULL;
    gboolean schemaValid = TRUE;

    if ((dom = vmiDomainXMLReadFile(xmlPath, display, &err))) {
        if (dom->vmi)
            schemaValid = vmiSchemaValidate(dom->vmi, display, &schemaErr);
        def = vmiDomainXMLGetDef(dom, &err);
    }

    if (expectError) {
        g_autofree char *msg = NULL;

        if (!err) {
            g_printerr("%s: expected an error, but it parsed\n", display);
            g_test_fail();
            return;
        }
        msg = g_strdup_printf("%s\n", err->message);
        vmiTestCompareFile(errPath, msg);

        if (dom && dom->vmi &&
            schemaValid != g_strv_contains(schemaAccepts, name)) {
            g_printerr("%s: the schema %s it%s%s\n", display,
                       schemaValid ? "accepts" : "rejects",
                       schemaErr ? ": " : "", schemaErr ? schemaErr->message : "");
            g_test_fail();
        }
        return;
    }

    if (err) {
        g_printerr("%s: unexpected error: %s\n", display, err->message);
        g_test_fail();
        return;
    }
    if (!schemaValid) {
        g_printerr("%s: the schema rejects it: %s\n", display, schemaErr->message);
        g_test_fail();
    }

    {
        g_auto(GStrv) args = vmiQemuBuildArgs(def, dom->uuid ? dom->uuid : BARE_UUID,
                                              caseKeyDir(name));
        g_autofree char *text = formatArgs(args);
        vmiTestCompareFile(argsPath, text);
    }
}


int
main(int argc, char **argv)
{
    g_autoptr(GPtrArray) names = NULL;
    guint nargs = 0, nerr = 0;
    guint i;

    g_test_init(&argc, &argv, NULL);
    if (argc != 2)
        g_error("usage: %s DATADIR", argv[0]);
    datadir = argv[1];

    names = vmiTestListFiles(datadir, ".xml");
    for (i = 0; i < names->len; i++) {
        const char *name = names->pdata[i];
        g_autofree char *errPath = g_strdup_printf("%s/%s.err", datadir, name);
        g_autofree char *path = g_strdup_printf("/qemuxml2argv/%s", name);

        if (g_file_test(errPath, G_FILE_TEST_EXISTS))
            nerr++;
        else
            nargs++;
        g_test_add_data_func(path, name, testCase);
    }
    /* The coverage the project promises; a lost data file must not pass. */
    g_assert_cmpuint(nargs, >=, 25);
    g_assert_cmpuint(nerr, >=, 15);
    return g_test_run();
}
