/*
 * qemu_vmi.c: build the -chardev, -object secret and -object
 * introspection arguments for a <vmi:introspection> definition
 */

#include "core/qemu_vmi.h"
#include "core/vmi_keyfile.h"
#include "conf/vmi_error.h"
#include "conf/vmi_kvmi.h"


/* QEMU's option syntax: a comma inside a value is written twice. */
static void
vmiQemuAppendValue(GString *buf, const char *value)
{
    const char *p;

    for (p = value; *p; p++) {
        if (*p == ',')
            g_string_append_c(buf, ',');
        g_string_append_c(buf, *p);
    }
}


static char *
vmiQemuBuildChardev(const vmiDef *def)
{
    GString *buf = g_string_new("socket,id=" VMI_QEMU_CHARDEV_ID);

    if (def->source.type == VMI_SOURCE_UNIX) {
        g_string_append(buf, ",path=");
        vmiQemuAppendValue(buf, def->source.path);
    } else {
        g_string_append_printf(buf, ",cid=%u,port=%u",
                               def->source.cid, def->source.port);
    }
    /* Always explicit: QEMU's introspection object refuses a chardev
     * without reconnect=N. */
    g_string_append_printf(buf, ",reconnect=%u", vmiDefReconnect(def));
    return g_string_free(buf, FALSE);
}


static char *
vmiQemuBuildSecret(const char *keyDir, const char *domainUUID)
{
    g_autofree char *path = vmiKeyFilePath(keyDir ? keyDir : VMI_KEY_DIR_DEFAULT,
                                                domainUUID);
    GString *buf = g_string_new("secret,id=" VMI_QEMU_SECRET_ID ",format=raw,file=");

    vmiQemuAppendValue(buf, path);
    return g_string_free(buf, FALSE);
}


static void
vmiQemuAppendIds(GString *buf, const char *prop, guint64 bitmap)
{
    guint id;

    for (id = 0; id <= VMI_KVMI_MAX_ID; id++) {
        if (bitmap & (G_GUINT64_CONSTANT(1) << id))
            g_string_append_printf(buf, ",%s=%u", prop, id);
    }
}


static char *
vmiQemuBuildIntrospection(const vmiDef *def)
{
    GString *buf = g_string_new("introspection,id=" VMI_QEMU_OBJECT_ID
                                ",chardev=" VMI_QEMU_CHARDEV_ID);

    if (def->keySecret)
        g_string_append(buf, ",key=" VMI_QEMU_SECRET_ID);
    if (def->handshakeTimeout)
        g_string_append_printf(buf, ",handshake_timeout=%u", def->handshakeTimeout);
    if (def->unhookTimeout)
        g_string_append_printf(buf, ",unhook_timeout=%u", def->unhookTimeout);
    vmiQemuAppendIds(buf, "command", vmiDefEffectiveCommands(def));
    vmiQemuAppendIds(buf, "event", vmiDefEffectiveEvents(def));
    return g_string_free(buf, FALSE);
}


/*
 * Returns the arguments as argv elements: option, value, option, value...
 * @keyDir NULL means VMI_KEY_DIR_DEFAULT.
 */
GStrv
vmiQemuBuildArgs(const vmiDef *def, const char *domainUUID, const char *keyDir)
{
    GPtrArray *args = g_ptr_array_new_null_terminated(6, g_free, TRUE);

    g_ptr_array_add(args, g_strdup("-chardev"));
    g_ptr_array_add(args, vmiQemuBuildChardev(def));
    if (def->keySecret) {
        g_ptr_array_add(args, g_strdup("-object"));
        g_ptr_array_add(args, vmiQemuBuildSecret(keyDir, domainUUID));
    }
    g_ptr_array_add(args, g_strdup("-object"));
    g_ptr_array_add(args, vmiQemuBuildIntrospection(def));
    return (GStrv)g_ptr_array_free(args, FALSE);
}


/*
 * Whether an option/value pair is one this project generates, so that a
 * resync can replace ours and keep every argument the user added.
 */
gboolean
vmiQemuArgIsOurs(const char *option, const char *value)
{
    if (g_str_equal(option, "-chardev"))
        return g_str_has_prefix(value, "socket,id=" VMI_QEMU_CHARDEV_ID ",");
    if (g_str_equal(option, "-object"))
        return g_str_has_prefix(value, "secret,id=" VMI_QEMU_SECRET_ID ",") ||
               g_str_has_prefix(value, "introspection,id=" VMI_QEMU_OBJECT_ID ",");
    return FALSE;
}
