/*
 * domainsynctest: tests/domainsyncdata/NAME.in.xml, a domain XML, after
 * the operation the name starts with:
 *   sync-    regenerate the arguments from the element the domain has
 *   set-     carry the element of NAME.def.xml instead
 *   remove-  drop the element and our arguments
 * gives NAME.out.xml and the change lines in NAME.changes, or fails with
 * NAME.err. VIR_TEST_REGENERATE_OUTPUT=1 rewrites the expected files.
 */
#include <string.h>

#include "conf/vmi_error.h"
#include "core/vmi_lifecycle.h"
#include "core/vmi_sync.h"
#include "testutils.h"

static const char *datadir;


static char *
dataPath(const char *name, const char *suffix)
{
    return g_strdup_printf("%s/%s%s", datadir, name, suffix);
}


static vmiDef *
caseDef(const char *name, vmiDomainXML *dom)
{
    g_autoptr(GError) err = NULL;
    vmiDef *def = NULL;

    if (g_str_has_prefix(name, "set-")) {
        g_autofree char *path = dataPath(name, ".def.xml");
        g_autoptr(vmiDomainXML) bare = vmiDomainXMLReadFile(path, path, &err);
        g_assert_no_error(err);
        def = vmiDomainXMLGetDef(bare, &err);
    } else if (g_str_has_prefix(name, "sync-")) {
        def = vmiDomainXMLGetDef(dom, &err);
    } else {
        g_assert_true(g_str_has_prefix(name, "remove-"));
        return NULL;
    }
    g_assert_no_error(err);
    return def;
}


/* @xml with its <uuid> in lower case, as libvirt formats it. */
static char *
libvirtUUID(const char *xml)
{
    const char *start = strstr(xml, "<uuid>");
    const char *end = start ? strstr(start, "</uuid>") : NULL;
    g_autofree char *uuid = NULL;

    if (!end)
        return g_strdup(xml);
    uuid = g_ascii_strdown(start, end - start);
    return g_strdup_printf("%.*s%s%s", (int)(start - xml), xml, uuid, end);
}


/* Syncing @xml with its own element (or none, !@withDef) changes
 * nothing; the document formats as @expected, if given. */
static void
assertSyncChangesNothing(gboolean withDef, const char *xml, const char *display,
                         const char *expected)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(vmiDomainXML) again = vmiDomainXMLParseString(xml, display, &err);
    g_autoptr(GPtrArray) more = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(vmiDef) def = NULL;

    g_assert_no_error(err);
    if (withDef)
        def = vmiDomainXMLGetDef(again, &err);
    g_assert_no_error(err);
    g_assert_true(vmiSyncDomain(again, def, NULL, more, &err));
    g_assert_no_error(err);
    if (more->len)
        g_error("%s: the second sync changed: %s", display, (char *)more->pdata[0]);
    if (expected) {
        g_autofree char *text = vmiXMLNodeToString(xmlDocGetRootElement(again->doc));
        vmiTestAssertEqualText(display, expected, text);
    }
}


static void
testSync(gconstpointer data)
{
    const char *name = data;
    g_autofree char *inPath = dataPath(name, ".in.xml");
    g_autofree char *errPath = dataPath(name, ".err");
    g_autoptr(vmiDomainXML) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) err = NULL;
    gboolean ok;

    /* refused as it is read, or by the sync */
    dom = vmiDomainXMLReadFile(inPath, name, &err);
    if (dom) {
        def = caseDef(name, dom);
        ok = vmiSyncDomain(dom, def, NULL, changes, &err);
    } else {
        ok = FALSE;
    }

    if (g_file_test(errPath, G_FILE_TEST_EXISTS)) {
        g_autofree char *msg = NULL;
        g_assert_false(ok);
        msg = g_strdup_printf("%s\n", err->message);
        vmiTestCompareFile(errPath, msg);
        return;
    }
    g_assert_no_error(err);
    g_assert_true(ok);

    {
        g_autofree char *outPath = dataPath(name, ".out.xml");
        g_autofree char *changesPath = dataPath(name, ".changes");
        g_autofree char *xml = vmiXMLNodeToString(xmlDocGetRootElement(dom->doc));
        g_autoptr(GString) lines = g_string_new(NULL);
        guint i;

        for (i = 0; i < changes->len; i++)
            g_string_append_printf(lines, "%s\n", (char *)changes->pdata[i]);
        vmiTestCompareFile(outPath, xml);
        vmiTestCompareFile(changesPath, lines->str);

        /* sync(sync(x)) == sync(x): nothing to change the second time,
         * and the same document; nor does libvirt writing the <uuid> in
         * its own form (lower case) change anything. */
        {
            g_autofree char *libvirtXML = libvirtUUID(xml);

            assertSyncChangesNothing(def != NULL, xml, outPath, xml);
            assertSyncChangesNothing(def != NULL, libvirtXML, outPath, NULL);
        }
    }
}


/*
 * The hook leaves a domain without the element alone, whatever its
 * <qemu:commandline> has: here an introspection object written by hand.
 */
static void
testHookLeavesDomainAlone(void)
{
    g_autofree char *path = dataPath("remove-foreign-introspection", ".in.xml");
    g_autoptr(GError) err = NULL;
    g_autoptr(vmiDomainXML) dom = vmiDomainXMLReadFile(path, path, &err);
    vmiLifecycle lc = { NULL, NULL, "/nonexistent/libvirt-vmi", NULL };

    g_assert_no_error(err);
    g_assert_null(dom->vmi);
    g_assert_true(vmiLifecycleCheck(&lc, dom, NULL, &err));
    g_assert_true(vmiLifecyclePrepare(&lc, dom, NULL, &err));
    g_assert_no_error(err);
}


/*
 * An out-of-step error names a few of the changes, not hundreds: a
 * definition with 300 stray copies of our arguments made a 9 KB message
 * (found by fuzz_hook).
 */
static void
testCheckErrorIsBounded(void)
{
    g_autoptr(GString) xml = g_string_new("<domain type='kvm' xmlns:qemu="
                                          "'http://libvirt.org/schemas/domain/qemu/1.0'>"
                                          "<name>many</name><uuid>6f1c3c58-3f0e-4d7e-9d55-0c4b0d7f8a11</uuid><metadata>"
                                          "<vmi:introspection xmlns:vmi='" VMI_NAMESPACE_URI "'>"
                                          "<vmi:source type='unix' path='/run/vmi/many.sock'/>"
                                          "</vmi:introspection></metadata><qemu:commandline>");
    g_autoptr(GError) err = NULL;
    g_autoptr(vmiDomainXML) dom = NULL;
    g_autoptr(vmiDef) def = NULL;

    for (guint i = 0; i < 300; i++)
        g_string_append(xml, "<qemu:arg value='-chardev'/>"
                             "<qemu:arg value='socket,id=charvmi0,path=/run/vmi/old.sock,reconnect=10'/>");
    g_string_append(xml, "</qemu:commandline></domain>");
    dom = vmiDomainXMLParseString(xml->str, "many", &err);
    g_assert_no_error(err);
    def = vmiDomainXMLGetDef(dom, &err);
    g_assert_no_error(err);
    g_assert_false(vmiSyncCheck(dom, def, NULL, "many", &err));
    if (!strstr(err->message, "is out of step"))
        g_error("%s", err->message);
    if (!strstr(err->message, " more)"))
        g_error("%s", err->message);
    g_assert_cmpuint(strlen(err->message), <, 2048);
}


int
main(int argc, char **argv)
{
    g_autoptr(GPtrArray) names = NULL;
    guint i;

    g_test_init(&argc, &argv, NULL);
    if (argc != 2)
        g_error("usage: %s DATADIR", argv[0]);
    datadir = argv[1];

    names = vmiTestListFiles(datadir, ".in.xml");
    for (i = 0; i < names->len; i++) {
        g_autofree char *path = g_strdup_printf("/domainsync/%s", (char *)names->pdata[i]);
        g_test_add_data_func(path, names->pdata[i], testSync);
    }
    g_test_add_func("/domainsync/hook-leaves-domain-alone", testHookLeavesDomainAlone);
    g_test_add_func("/domainsync/check-error-is-bounded", testCheckErrorIsBounded);
    g_assert_cmpuint(names->len, >=, 10);
    return g_test_run();
}
