/*
 * qemuqmptest: reading QMP replies, on replies recorded from QEMU 7.2
 */
#include <string.h>

#include "core/vmi_qmp.h"

/* QEMU 7.2: a connected unix client chardev reads "unix:" */
#define REPLY_CONNECTED \
    "{\"return\": [{\"frontend-open\": false, \"filename\": \"unix:\", \"label\": \"charvmi0\"}, " \
    "{\"frontend-open\": true, \"filename\": \"stdio\", \"label\": \"compat_monitor0\"}]}"
#define REPLY_DISCONNECTED \
    "{\"return\": [{\"frontend-open\": false, \"filename\": " \
    "\"disconnected:unix:/run/vmi/guest1.sock\", \"label\": \"charvmi0\"}]}"
#define REPLY_ABSENT \
    "{\"return\": [{\"frontend-open\": true, \"filename\": \"stdio\", \"label\": \"compat_monitor0\"}]}"


static void
testChardevs(void)
{
    g_autoptr(GError) err = NULL;
    vmiQmpChardevState st;

    g_assert_true(vmiQmpParseChardevs(REPLY_CONNECTED, &st, &err));
    g_assert_true(st.found);
    g_assert_true(st.connected);
    g_assert_cmpstr(st.filename, ==, "unix:");
    g_free(st.filename);

    g_assert_true(vmiQmpParseChardevs(REPLY_DISCONNECTED, &st, &err));
    g_assert_true(st.found);
    g_assert_false(st.connected);
    g_assert_cmpstr(st.filename, ==, "disconnected:unix:/run/vmi/guest1.sock");
    g_free(st.filename);

    g_assert_true(vmiQmpParseChardevs(REPLY_ABSENT, &st, &err));
    g_assert_false(st.found);
    g_assert_no_error(err);
}


static void
testBadReplies(void)
{
    const char *bad[] = {
        "", "not json", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}}",
        "{\"return\": {}}", "[1,2", NULL
    };
    size_t i;

    for (i = 0; bad[i]; i++) {
        g_autoptr(GError) err = NULL;
        vmiQmpChardevState st;

        g_assert_false(vmiQmpParseChardevs(bad[i], &st, &err));
        g_assert_true(g_str_has_prefix(err->message, "unexpected query-chardev reply: "));
    }
}


/* yajl's tree parser recursed once per level and crashed on these */
static void
testDeepReply(void)
{
    const gsize depth = 300000;
    g_autoptr(GString) reply = g_string_new("{\"return\": ");
    g_autoptr(GError) err = NULL;
    vmiQmpChardevState st;
    gsize i;

    for (i = 0; i < depth; i++)
        g_string_append_c(reply, '[');
    for (i = 0; i < depth; i++)
        g_string_append_c(reply, ']');
    g_string_append_c(reply, '}');
    g_assert_false(vmiQmpParseChardevs(reply->str, &st, &err));
    g_assert_cmpstr(err->message, ==, "unexpected query-chardev reply: nested deeper than 64 levels");
}


/* Brackets in strings are no nesting; 64 levels are fine. */
static void
testDepthLimit(void)
{
    g_autoptr(GString) reply = g_string_new("{\"return\": [{\"label\": \"[[[[{{\\\"\", "
                                            "\"filename\": \"x\", \"n\": ");
    g_autoptr(GError) err = NULL;
    vmiQmpChardevState st;
    guint i;

    /* the reply's own 3 levels and 61 more */
    for (i = 0; i < 61; i++)
        g_string_append_c(reply, '[');
    for (i = 0; i < 61; i++)
        g_string_append_c(reply, ']');
    g_string_append(reply, "}]}");
    g_assert_true(vmiQmpParseChardevs(reply->str, &st, &err));
    g_assert_no_error(err);
    g_assert_false(st.found);

    g_string_insert_c(reply, reply->len - 3 - 61, '[');
    g_string_insert_c(reply, reply->len - 3, ']');
    g_assert_false(vmiQmpParseChardevs(reply->str, &st, &err));
    g_assert_nonnull(strstr(err->message, "nested deeper than 64 levels"));
}


/* Found by tests/fuzz (fuzz_qmp): a label twice leaked the first filename */
static void
testDuplicateLabel(void)
{
    g_autoptr(GError) err = NULL;
    vmiQmpChardevState st;

    g_assert_true(vmiQmpParseChardevs(
        "{\"return\": [{\"filename\": \"disconnected:unix:/a\", \"label\": \"charvmi0\"}, "
        "{\"filename\": \"unix:\", \"label\": \"charvmi0\"}]}", &st, &err));
    g_assert_no_error(err);
    g_assert_true(st.found);
    g_assert_true(st.connected);
    g_assert_cmpstr(st.filename, ==, "unix:");
    g_free(st.filename);
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qmp/query-chardev", testChardevs);
    g_test_add_func("/qmp/bad-replies", testBadReplies);
    g_test_add_func("/qmp/deep-reply", testDeepReply);
    g_test_add_func("/qmp/depth-limit", testDepthLimit);
    g_test_add_func("/qmp/duplicate-label", testDuplicateLabel);
    return g_test_run();
}
