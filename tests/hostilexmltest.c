/*
 * hostilexmltest: inputs too large, too deep or too strange to keep as
 * files in tests/qemuxml2argvdata are generated here. Each must give a
 * clear error (checked by its text) and never a crash or a hang.
 */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/vmi_domain_xml.h"
#include "conf/vmi_error.h"

#define NS "http://libvirt-vmi.org/schemas/introspection/1.0"
#define HEAD "<domain type='kvm'><name>h</name><metadata>" \
             "<vmi:introspection xmlns:vmi='" NS "'>"
#define SOURCE "<vmi:source type='unix' path='/run/vmi/h.sock'/>"
#define TAIL "</vmi:introspection></metadata></domain>"


/* Writes @repeat copies of @middle between @head and @tail, streaming. */
static char *
writeInput(const char *head, const char *middle, gsize repeat, const char *tail)
{
    g_autoptr(GError) err = NULL;
    char *path = NULL;
    FILE *fp;
    int fd;
    gsize i;

    fd = g_file_open_tmp("vmi-hostile-XXXXXX.xml", &path, &err);
    g_assert_no_error(err);
    fp = fdopen(fd, "w");
    g_assert_nonnull(fp);
    fputs(head, fp);
    if (repeat) {
        /* Whole chunks at a time: this also runs under valgrind. */
        gsize per = MAX(1, 65536 / strlen(middle));
        g_autoptr(GString) chunk = g_string_new(NULL);

        for (i = 0; i < per; i++)
            g_string_append(chunk, middle);
        for (i = 0; i + per <= repeat; i += per)
            fwrite(chunk->str, 1, chunk->len, fp);
        for (; i < repeat; i++)
            fputs(middle, fp);
    }
    fputs(tail, fp);
    g_assert_cmpint(fclose(fp), ==, 0);
    return path;
}


static void
assertLoadFails(const char *path, const char *expected)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(vmiDomainXML) dom = vmiDomainXMLReadFile(path, "input.xml", &err);
    g_autoptr(vmiDef) def = NULL;

    if (dom)
        def = vmiDomainXMLGetDef(dom, &err);
    g_assert_null(def);
    g_assert_nonnull(err);
    if (!strstr(err->message, expected))
        g_error("error '%s' does not contain '%s'", err->message, expected);
    g_assert_cmpuint(strlen(err->message), <, 1024);
    g_unlink(path);
}


static void
testHundredMegabytesOfNesting(void)
{
    /* 100 MiB of <a>: refused before libxml2 ever builds a tree */
    g_autofree char *path = writeInput(HEAD SOURCE, "<a>", 100 * 1024 * 1024 / 3, TAIL);

    assertLoadFails(path, "input.xml: too large: an XML definition may have at most 10485760 bytes");
}


static void
testDeepNestingUnderTheCap(void)
{
    g_autofree char *path = writeInput(HEAD SOURCE "<vmi:allow>", "<vmi:allow>", 100000, TAIL);

    assertLoadFails(path, "malformed XML: Excessive depth in document: 256");
}


static void
testNestingInsideAllow(void)
{
    g_autofree char *path = writeInput(HEAD SOURCE "<vmi:allow><vmi:command name='vcpu-pause'>",
                                       "<x/>", 10, "</vmi:command></vmi:allow>" TAIL);

    assertLoadFails(path, "unexpected content in element 'command': it takes attributes only");
}


static void
testHugeAttribute(void)
{
    g_autofree char *path = writeInput(HEAD "<vmi:source type='unix' path='/",
                                       "pppppppppp", 500000, "'/>" TAIL);
    g_autoptr(GError) err = NULL;
    g_autoptr(vmiDomainXML) dom = vmiDomainXMLReadFile(path, "input.xml", &err);

    g_assert_no_error(err);
    g_assert_null(vmiDomainXMLGetDef(dom, &err));
    /* The value is quoted, but not all 5 MB of it. */
    g_assert_true(g_str_has_prefix(err->message, "invalid value '/pppp"));
    g_assert_nonnull(strstr(err->message, "...' for attribute 'path' of element 'source': "
                                          "expected at most 107 bytes (a unix socket path), not 5000001"));
    g_unlink(path);
}


static void
testHugeNumber(void)
{
    g_autofree char *path = writeInput(HEAD SOURCE "<vmi:timeouts unhook='",
                                       "9999999999", 100000, "'/>" TAIL);

    assertLoadFails(path, "...' for attribute 'unhook' of element 'timeouts': expected 1 to 3600 seconds");
}


static void
testManyEntries(void)
{
    g_autofree char *path = writeInput(HEAD SOURCE "<vmi:allow>",
                                       "<vmi:event name='cr'/>", 200000, "</vmi:allow>" TAIL);

    assertLoadFails(path, "duplicate event 'cr' (id 4) in element 'allow'");
}


/*
 * Entities declared in an internal subset, each reference to them in an
 * attribute expanding to 324 KB when the attribute is read: minutes and
 * hundreds of MB if the DOCTYPE got through, so a regression hangs here
 * until meson's timeout.
 */
static void
testEntityExpansion(void)
{
    g_autofree char *text = g_strnfill(36000, 'a');
    g_autofree char *head = g_strdup_printf("<!DOCTYPE domain [<!ENTITY a '%s'>"
                                            "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]>"
                                            HEAD "<vmi:source type='unix' path='", text);
    g_autofree char *path = writeInput(head, "&b;", 12000, "'/>" TAIL);

    assertLoadFails(path, "input.xml: a <!DOCTYPE> is not allowed: libvirt's XML has none");
}


static void
testDoctypeWithoutSubset(void)
{
    g_autofree char *path = writeInput("<!DOCTYPE domain SYSTEM 'http://example.org/d.dtd'>"
                                       HEAD SOURCE, "", 0, TAIL);

    assertLoadFails(path, "input.xml: a <!DOCTYPE> is not allowed");
}


/*
 * An undeclared prefix is an error libxml2 goes on after; a warning after
 * it (a relative namespace URI) once hid it, so the document was read,
 * and the same text without the warning (our sync removes the element
 * that had it) was refused (found by fuzz_sync).
 */
static void
testNamespaceErrorBeforeWarning(void)
{
    g_autofree char *alone = writeInput("<domain type='kvm'><name>h</name>"
                                        "<qemu:commandline/>", "", 0, "</domain>");
    g_autofree char *hidden = writeInput("<domain type='kvm'><name>h</name>"
                                         "<qemu:commandline/><metadata>"
                                         "<vmi:introspection xmlns:vmi='" NS "'>"
                                         "<vmi:source xmlns='comd' type='unix' "
                                         "path='/run/vmi/h.sock'/>", "", 0, TAIL);

    assertLoadFails(alone, "input.xml:1: malformed XML: Namespace prefix qemu on "
                    "commandline is not defined");
    assertLoadFails(hidden, "input.xml:1: malformed XML: Namespace prefix qemu on "
                    "commandline is not defined");
}


/* 40 KB names: quoted in errors, but not whole (vmiErrorQuote) */
static void
testHugeElementName(void)
{
    g_autofree char *path = writeInput(HEAD SOURCE "<vmi:", "n", 40000, "/>" TAIL);

    assertLoadFails(path, "unexpected element 'nnnn");
}


static void
testHugeAttributeName(void)
{
    g_autofree char *path = writeInput(HEAD "<vmi:source type='unix' path='/p' ", "a", 40000,
                                       "='1'/>" TAIL);

    assertLoadFails(path, "unexpected attribute 'aaaa");
}


static void
testHugeDomainName(void)
{
    g_autofree char *path = writeInput("<domain><name>", "n", 40000, "</name></domain>");

    assertLoadFails(path, "...' has no <vmi:introspection> element");
}


static void
testErrorQuote(void)
{
    g_autofree char *limit = g_strnfill(VMI_ERROR_QUOTE_MAX, 'x');
    g_autofree char *over = g_strnfill(VMI_ERROR_QUOTE_MAX + 1, 'x');
    g_autofree char *cut = g_strconcat(limit, "...", NULL);
    g_autofree char *wide = g_strnfill(VMI_ERROR_QUOTE_MAX * 2, 'x');
    g_autofree char *q = NULL;
    guint i;

    /* characters, not bytes: 'é' is two */
    for (i = 0; i < VMI_ERROR_QUOTE_MAX * 2; i += 2)
        memcpy(wide + i, "\xc3\xa9", 2);

    q = vmiErrorQuote("guest1");
    g_assert_cmpstr(q, ==, "guest1");
    g_free(q);
    q = vmiErrorQuote(limit);
    g_assert_cmpstr(q, ==, limit);
    g_free(q);
    q = vmiErrorQuote(over);
    g_assert_cmpstr(q, ==, cut);
    g_free(q);
    q = vmiErrorQuote(wide);
    g_assert_cmpstr(q, ==, wide);
    g_free(q);
    q = vmiErrorQuote("bad\xff");
    g_assert_true(g_utf8_validate(q, -1, NULL));
    g_free(q);
    q = vmiErrorQuote(NULL);
    g_assert_cmpstr(q, ==, "");
}


static void
testNulByte(void)
{
    g_autofree char *path = writeInput(HEAD, "", 0, "\n");
    FILE *fp = fopen(path, "a");

    g_assert_nonnull(fp);
    fwrite("\0" SOURCE TAIL, 1, sizeof("\0" SOURCE TAIL) - 1, fp);
    fclose(fp);
    assertLoadFails(path, "input.xml: malformed XML: it contains a NUL byte");
}


static void
testInvalidUTF8(void)
{
    g_autofree char *path = writeInput(HEAD "<vmi:source type='unix' path='/run/\xff\xfe'/>",
                                       "", 0, TAIL);

    assertLoadFails(path, "malformed XML");
}


static void
testEmptyFile(void)
{
    g_autofree char *path = writeInput("", "", 0, "");

    assertLoadFails(path, "input.xml");
}


static void
testMissingFile(void)
{
    assertLoadFails("/nonexistent/vmi-hostile.xml", "input.xml: Error opening file");
}


/* Opening a FIFO waited for a writer forever. */
static void
testFifo(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("vmi-hostile-XXXXXX", &err);
    g_autofree char *path = g_build_filename(dir, "input.xml", NULL);

    g_assert_no_error(err);
    g_assert_cmpint(mkfifo(path, 0600), ==, 0);
    assertLoadFails(path, "input.xml: not a regular file: give a file, or '-' for standard input");
    g_rmdir(dir);
}


static void
testDirectory(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(vmiDomainXML) dom = vmiDomainXMLReadFile("/", "input.xml", &err);

    g_assert_null(dom);
    g_assert_true(g_str_has_prefix(err->message, "input.xml: "));
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/hostile/100MB-nesting", testHundredMegabytesOfNesting);
    g_test_add_func("/hostile/deep-nesting", testDeepNestingUnderTheCap);
    g_test_add_func("/hostile/nesting-in-allow", testNestingInsideAllow);
    g_test_add_func("/hostile/huge-attribute", testHugeAttribute);
    g_test_add_func("/hostile/huge-number", testHugeNumber);
    g_test_add_func("/hostile/many-entries", testManyEntries);
    g_test_add_func("/hostile/entity-expansion", testEntityExpansion);
    g_test_add_func("/hostile/doctype", testDoctypeWithoutSubset);
    g_test_add_func("/hostile/namespace-error-before-warning", testNamespaceErrorBeforeWarning);
    g_test_add_func("/hostile/huge-element-name", testHugeElementName);
    g_test_add_func("/hostile/huge-attribute-name", testHugeAttributeName);
    g_test_add_func("/hostile/huge-domain-name", testHugeDomainName);
    g_test_add_func("/hostile/error-quote", testErrorQuote);
    g_test_add_func("/hostile/nul-byte", testNulByte);
    g_test_add_func("/hostile/invalid-utf8", testInvalidUTF8);
    g_test_add_func("/hostile/empty-file", testEmptyFile);
    g_test_add_func("/hostile/missing-file", testMissingFile);
    g_test_add_func("/hostile/directory", testDirectory);
    g_test_add_func("/hostile/fifo", testFifo);
    return g_test_run();
}
