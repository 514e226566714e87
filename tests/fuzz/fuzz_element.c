/*
 * fuzz_element: <vmi:introspection> parse + validate + QEMU arguments +
 * format round trip (src/conf, src/core/qemu_vmi.c)
 *
 * The input is the element's XML. What parses must validate, generate
 * arguments that are all ours and carry no line break, format into XML
 * that parses into the same definition, format the same again and give
 * the same arguments: a definition written back by virt-vmi never
 * changes meaning or text.
 */
#include <string.h>

#include "fuzz_common.h"
#include "conf/vmi_conf.h"
#include "core/qemu_vmi.h"

#define FUZZ_UUID "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f"


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzzInit();
    return 0;
}


static void
checkArgs(const vmiDef *def, GStrv args)
{
    guint n = g_strv_length(args);
    guint i;

    g_assert_cmpuint(n % 2, ==, 0);
    g_assert_cmpuint(n, >=, 4);
    for (i = 0; i < n; i += 2) {
        g_assert_true(vmiQemuArgIsOurs(args[i], args[i + 1]));
        g_assert_null(strpbrk(args[i + 1], "\n\r"));
    }
    g_assert_cmpuint(n, ==, def->keySecret ? 6 : 4);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *xml = fuzzString(data, size);
    g_autoptr(GError) err = NULL;
    g_autoptr(vmiDef) def = vmiDefParseString(xml, &err);
    g_autoptr(vmiDef) again = NULL;
    g_autoptr(vmiDef) copy = NULL;
    g_auto(GStrv) args = NULL;
    g_auto(GStrv) args2 = NULL;
    g_autofree char *text = NULL;
    g_autofree char *text2 = NULL;

    if (!def) {
        fuzzCheckError(err, "parsing the element");
        return 0;
    }
    g_assert_no_error(err);
    g_assert_true(vmiDefValidate(def, &err));
    g_assert_no_error(err);

    args = vmiQemuBuildArgs(def, FUZZ_UUID, NULL);
    checkArgs(def, args);

    text = vmiDefFormat(def);
    again = vmiDefParseString(text, &err);
    if (!again)
        g_error("the formatted element does not parse: %s\n%s", err->message, text);
    g_assert_true(vmiDefEqual(def, again));
    text2 = vmiDefFormat(again);
    g_assert_cmpstr(text, ==, text2);
    args2 = vmiQemuBuildArgs(again, FUZZ_UUID, NULL);
    g_assert_true(g_strv_equal((const char *const *)args, (const char *const *)args2));

    copy = vmiDefCopy(def);
    g_assert_true(vmiDefEqual(def, copy));
    return 0;
}
