/*
 * confsettest: a definition changed option by option (vmi_conf_set.c):
 * the values each setter takes, 'default'/'all'/'none', and errors that
 * name the option, quote the value and say what is allowed
 */
#include "conf/vmi_conf_set.h"
#include "conf/vmi_error.h"

#define UUID_UPPER "C7A5FDBD-EDAF-9455-926A-D65C16DB1809"


static vmiDef *
newUnixDef(void)
{
    vmiDef *def = vmiDefNew();

    vmiDefSetSocket(def, "/run/vmi/tool.sock");
    return def;
}


/* @err after a call that returned @ok */
static void
assertFailed(gboolean ok, GError **err, const char *message)
{
    g_assert_false(ok);
    g_assert_error(*err, VMI_ERROR, VMI_ERROR_INVALID_ARG);
    g_assert_cmpstr((*err)->message, ==, message);
    g_clear_error(err);
}


static void
testSource(void)
{
    g_autoptr(vmiDef) def = newUnixDef();
    g_autoptr(GError) err = NULL;
    gboolean ok;

    g_assert_true(vmiDefSetVsock(def, "3:4321", "--vsock", &err));
    g_assert_no_error(err);
    g_assert_cmpint(def->source.type, ==, VMI_SOURCE_VSOCK);
    g_assert_null(def->source.path);
    g_assert_cmpuint(def->source.cid, ==, 3);
    g_assert_cmpuint(def->source.port, ==, 4321);

    ok = vmiDefSetVsock(def, "0:1", "--vsock", &err);
    assertFailed(ok, &err,
                 "invalid value '0:1' for option '--vsock': expected CID:PORT, "
                 "CID 1 to 4294967294, PORT 0 to 4294967294");
    g_assert_cmpuint(def->source.cid, ==, 3);       /* unchanged */

    vmiDefSetSocket(def, "/a,b");
    g_assert_cmpint(def->source.type, ==, VMI_SOURCE_UNIX);
    g_assert_cmpstr(def->source.path, ==, "/a,b");
    g_assert_cmpuint(def->source.cid, ==, 0);
}


static void
testSeconds(void)
{
    g_autoptr(vmiDef) def = newUnixDef();
    g_autoptr(GError) err = NULL;
    gboolean ok;

    g_assert_true(vmiDefSetSeconds(def, VMI_ATTR_TIMEOUTS_UNHOOK, "3600", "--unhook-timeout",
                                   &err));
    g_assert_cmpuint(def->unhookTimeout, ==, 3600);
    g_assert_cmpuint(vmiDefUnhookTimeout(def), ==, 3600);
    g_assert_true(vmiDefSetSeconds(def, VMI_ATTR_TIMEOUTS_UNHOOK, "default", "--unhook-timeout",
                                   &err));
    g_assert_cmpuint(def->unhookTimeout, ==, 0);
    g_assert_cmpuint(vmiDefUnhookTimeout(def), ==,
                     vmiAttrs[VMI_ATTR_TIMEOUTS_UNHOOK].defaultValue);

    g_assert_true(vmiDefSetSeconds(def, VMI_ATTR_RECONNECT_TIMEOUT, "1", "--reconnect", &err));
    g_assert_cmpuint(def->reconnect, ==, 1);
    g_assert_true(vmiDefSetSeconds(def, VMI_ATTR_TIMEOUTS_HANDSHAKE, "7", "--handshake-timeout",
                                   &err));
    g_assert_cmpuint(def->handshakeTimeout, ==, 7);

    ok = vmiDefSetSeconds(def, VMI_ATTR_TIMEOUTS_HANDSHAKE, "3601", "--handshake-timeout", &err);
    assertFailed(ok, &err,
                 "invalid value '3601' for option '--handshake-timeout': expected 1 to 3600 "
                 "seconds, or 'default'");
    g_assert_cmpuint(def->handshakeTimeout, ==, 7);
}


static void
testAllowList(void)
{
    g_autoptr(vmiDef) def = newUnixDef();
    g_autoptr(GError) err = NULL;
    char *ids[] = { "6", "vm-get-info", NULL };
    char *all[] = { "all", NULL };
    char *allAndMore[] = { "all", "6", NULL };
    char *twice[] = { "6", "vm-control-events", NULL };

    g_assert_true(vmiDefSetAllowList(def, "command", ids, "--allow-command", &err));
    g_assert_no_error(err);
    g_assert_cmpuint(def->commands, !=, 0);
    g_assert_cmpuint(def->events, ==, 0);
    g_assert_true(vmiDefSetAllowList(def, "command", all, "--allow-command", &err));
    g_assert_cmpuint(def->commands, ==, 0);

    g_assert_false(vmiDefSetAllowList(def, "event", allAndMore, "--allow-event", &err));
    g_assert_error(err, VMI_ERROR, VMI_ERROR_INVALID_ARG);
    g_assert_true(g_str_has_prefix(err->message, "option '--allow-event': "));
    g_assert_true(g_str_has_suffix(err->message, " ('all' must be given alone)"));
    g_clear_error(&err);

    g_assert_false(vmiDefSetAllowList(def, "command", twice, "--allow-command", &err));
    g_assert_cmpstr(err->message, ==, "option '--allow-command': duplicate command "
                    "'vm-control-events' (id 6) in element 'allow'");
    g_assert_cmpuint(def->commands, ==, 0);     /* unchanged */
}


static void
testKeySecret(void)
{
    g_autoptr(vmiDef) def = newUnixDef();
    g_autoptr(GError) err = NULL;
    gboolean ok;

    g_assert_true(vmiDefSetKeySecret(def, UUID_UPPER, "--key-secret", &err));
    g_assert_cmpstr(def->keySecret, ==, "c7a5fdbd-edaf-9455-926a-d65c16db1809");
    g_assert_true(vmiDefSetKeySecret(def, "none", "--key-secret", &err));
    g_assert_null(def->keySecret);
    ok = vmiDefSetKeySecret(def, "nope", "--key-secret", &err);
    assertFailed(ok, &err,
                 "invalid value 'nope' for option '--key-secret': expected the UUID of a "
                 "libvirt secret, or 'none'");
}


static void
testRequired(void)
{
    g_autoptr(vmiDef) def = newUnixDef();
    g_autoptr(GError) err = NULL;
    gboolean ok;

    g_assert_false(def->required);
    g_assert_true(vmiDefSetRequired(def, "yes", "--required", &err));
    g_assert_true(def->required);
    ok = vmiDefSetRequired(def, "YES", "--required", &err);
    assertFailed(ok, &err, "invalid value 'YES' for option '--required': expected yes or no");
    g_assert_true(def->required);               /* unchanged */
    g_assert_true(vmiDefSetRequired(def, "no", "--required", &err));
    g_assert_false(def->required);
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/confset/source", testSource);
    g_test_add_func("/confset/seconds", testSeconds);
    g_test_add_func("/confset/allow-list", testAllowList);
    g_test_add_func("/confset/key-secret", testKeySecret);
    g_test_add_func("/confset/required", testRequired);
    return g_test_run();
}
