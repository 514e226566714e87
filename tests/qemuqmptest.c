/*
 * qemuqmptest: reading QMP replies, on replies recorded from QEMU 7.2
 */
#include <string.h>

#include "core/vmi_qmp.h"
#include "conf/vmi_error.h"

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


static GPtrArray *
buildCommands(const vmiDef *def, GError **error)
{
    g_autoptr(GPtrArray) objs = vmiQemuBuildObjects(def, "11111111-2222-3333-4444-555555555555",
                                                    "/run/keys");
    g_autoptr(GPtrArray) cmds = g_ptr_array_new_with_free_func(g_free);
    guint i;

    for (i = 0; i < objs->len; i++) {
        char *cmd = vmiQmpBuildAdd(g_ptr_array_index(objs, i), error);

        if (!cmd)
            return NULL;
        g_ptr_array_add(cmds, cmd);
    }
    return g_steal_pointer(&cmds);
}


/* The QMP commands of a live attach say what the arguments say. */
static void
testBuildAdd(void)
{
    g_autoptr(vmiDef) def = vmiDefNew();
    g_autoptr(GPtrArray) cmds = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *del = NULL;

    def->source.type = VMI_SOURCE_UNIX;
    def->source.path = g_strdup("/run/vmi/a,b.sock");
    def->keySecret = g_strdup("0a4b4d8e-7d62-4a3c-9e3a-6a1f2c3d4e5f");
    def->unhookTimeout = 7;
    def->commands = G_GUINT64_CONSTANT(1) << 6;     /* effective: one id */
    cmds = buildCommands(def, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(cmds->len, ==, 3);
    g_assert_cmpstr(g_ptr_array_index(cmds, 0), ==,
                    "{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"charvmi0\","
                    "\"backend\":{\"type\":\"socket\",\"data\":{\"addr\":{\"type\":\"unix\","
                    "\"data\":{\"path\":\"/run/vmi/a,b.sock\"}},\"server\":false,"
                    "\"reconnect\":10}}}}");
    g_assert_cmpstr(g_ptr_array_index(cmds, 1), ==,
                    "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"secret\","
                    "\"id\":\"vmi0-key\",\"props\":{\"format\":\"raw\",\"file\":"
                    "\"/run/keys/11111111-2222-3333-4444-555555555555/key\"}}}");
    g_assert_cmpstr(g_ptr_array_index(cmds, 2), ==,
                    "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"introspection\","
                    "\"id\":\"vmi0\",\"props\":{\"chardev\":\"charvmi0\",\"key\":\"vmi0-key\","
                    "\"unhook_timeout\":7,\"command\":6}}}");
    del = vmiQmpBuildCommand("object-del", "id", "vmi0");
    g_assert_cmpstr(del, ==, "{\"execute\":\"object-del\",\"arguments\":{\"id\":\"vmi0\"}}");
    g_clear_pointer(&cmds, g_ptr_array_unref);

    /* vsock: QMP takes cid and port as strings */
    def->source.type = VMI_SOURCE_VSOCK;
    def->source.cid = 1234;
    def->source.port = 4321;
    def->reconnect = 3;
    g_clear_pointer(&def->keySecret, g_free);
    cmds = buildCommands(def, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(cmds->len, ==, 2);
    g_assert_cmpstr(g_ptr_array_index(cmds, 0), ==,
                    "{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"charvmi0\","
                    "\"backend\":{\"type\":\"socket\",\"data\":{\"addr\":{\"type\":\"vsock\","
                    "\"data\":{\"cid\":\"1234\",\"port\":\"4321\"}},\"server\":false,"
                    "\"reconnect\":3}}}}");
    g_clear_pointer(&cmds, g_ptr_array_unref);

    /* several ids: no QMP form */
    def->commands |= G_GUINT64_CONSTANT(1) << 2;
    g_assert_null(buildCommands(def, &err));
    g_assert_error(err, VMI_ERROR, VMI_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(err->message, "allow-list has 2 command ids"));
}


static void
testReturn(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *desc = NULL;
    g_autoptr(GHashTable) objs = NULL;

    g_assert_true(vmiQmpParseReturn("{\"return\": {}, \"id\": \"libvirt-1\"}", "x", &desc, &err));
    g_assert_false(vmiQmpParseReturn("{\"id\": \"libvirt-2\", \"error\": {\"class\": "
                                     "\"GenericError\", \"desc\": \"object 'vmi0' is in use, "
                                     "can not be deleted\"}}", "object-del", &desc, &err));
    g_assert_cmpstr(desc, ==, "object 'vmi0' is in use, can not be deleted");
    g_assert_cmpstr(err->message, ==,
                    "object-del: QEMU: object 'vmi0' is in use, can not be deleted");
    g_clear_error(&err);
    g_assert_false(vmiQmpParseReturn("[1]", "x", NULL, &err));
    g_clear_error(&err);

    objs = vmiQmpParseObjects("{\"return\": [{\"name\": \"type\", \"type\": \"string\"}, "
                              "{\"name\": \"vmi0\", \"type\": \"child<introspection>\"}, "
                              "{\"name\": \"vmi0-key\", \"type\": \"child<secret>\"}]}", &err);
    g_assert_no_error(err);
    g_assert_cmpuint(g_hash_table_size(objs), ==, 2);
    g_assert_cmpstr(g_hash_table_lookup(objs, "vmi0"), ==, "introspection");
    g_assert_cmpstr(g_hash_table_lookup(objs, "vmi0-key"), ==, "secret");
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


static void
testMigrationStatus(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *status = vmiQmpParseMigrationStatus(
        "{\"return\": {\"status\": \"setup\", \"blocked\": false}, \"id\": \"x\"}", &err);
    g_autofree char *deep = g_strnfill(100000, '[');

    g_assert_no_error(err);
    g_assert_cmpstr(status, ==, "setup");
    g_assert_null(vmiQmpParseMigrationStatus("{\"return\": {}}", &err));
    g_assert_nonnull(strstr(err->message, "no return.status"));
    g_clear_error(&err);
    /* a reply nested this deep would overflow the stack of yajl's tree parser */
    g_assert_null(vmiQmpParseMigrationStatus(deep, &err));
    g_assert_nonnull(strstr(err->message, "nested deeper than"));
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qmp/query-chardev", testChardevs);
    g_test_add_func("/qmp/bad-replies", testBadReplies);
    g_test_add_func("/qmp/deep-reply", testDeepReply);
    g_test_add_func("/qmp/depth-limit", testDepthLimit);
    g_test_add_func("/qmp/build-add", testBuildAdd);
    g_test_add_func("/qmp/return", testReturn);
    g_test_add_func("/qmp/duplicate-label", testDuplicateLabel);
    g_test_add_func("/qmp/migration-status", testMigrationStatus);
    return g_test_run();
}
