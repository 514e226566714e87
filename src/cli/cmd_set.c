/*
 * virt-vmi set DOMAIN [OPTIONS]: write <vmi:introspection> from options
 */
#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"
#include "conf/vmi_error.h"
#include "conf/vmi_conf_set.h"

typedef struct {
    char *socket;
    char *vsock;
    char *reconnect;
    char *handshake;
    char *unhook;
    char **commands;
    char **events;
    char *keySecret;
    char *required;
} vmiSetOptions;


static void
vmiSetOptionsClear(vmiSetOptions *opts)
{
    g_free(opts->socket);
    g_free(opts->vsock);
    g_free(opts->reconnect);
    g_free(opts->handshake);
    g_free(opts->unhook);
    g_strfreev(opts->commands);
    g_strfreev(opts->events);
    g_free(opts->keySecret);
    g_free(opts->required);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(vmiSetOptions, vmiSetOptionsClear)


static gboolean
vmiSetApplyOptions(const vmiSetOptions *opts, vmiDef *def, GError **error)
{
    if (opts->socket && opts->vsock) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                    "options '--socket' and '--vsock' exclude each other");
        return FALSE;
    }
    if (opts->socket)
        vmiDefSetSocket(def, opts->socket);
    if ((opts->vsock && !vmiDefSetVsock(def, opts->vsock, "--vsock", error)) ||
        (opts->reconnect &&
         !vmiDefSetSeconds(def, VMI_ATTR_RECONNECT_TIMEOUT, opts->reconnect,
                           "--reconnect", error)) ||
        (opts->handshake &&
         !vmiDefSetSeconds(def, VMI_ATTR_TIMEOUTS_HANDSHAKE, opts->handshake,
                           "--handshake-timeout", error)) ||
        (opts->unhook &&
         !vmiDefSetSeconds(def, VMI_ATTR_TIMEOUTS_UNHOOK, opts->unhook,
                           "--unhook-timeout", error)) ||
        (opts->commands &&
         !vmiDefSetAllowList(def, "command", opts->commands, "--allow-command", error)) ||
        (opts->events &&
         !vmiDefSetAllowList(def, "event", opts->events, "--allow-event", error)) ||
        (opts->keySecret && !vmiDefSetKeySecret(def, opts->keySecret, "--key-secret", error)) ||
        (opts->required && !vmiDefSetRequired(def, opts->required, "--required", error)))
        return FALSE;
    return vmiDefValidate(def, error);
}


/* "WHAT (yes or no; default: no)", from conf's table */
static char *
vmiSetYesNoHelp(const char *what, vmiAttrId attr)
{
    return g_strdup_printf("%s (yes or no; default: %s)", what,
                           vmiYesNoToString(vmiAttrs[attr].defaultValue));
}


/* "WHAT (1-3600, or 'default': 10)", from conf's table */
static char *
vmiSetSecondsHelp(const char *what, vmiAttrId attr)
{
    const vmiAttrInfo *info = &vmiAttrs[attr];

    return g_strdup_printf("%s (%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT ", or 'default': %u)",
                           what, info->range->min, info->range->max, info->defaultValue);
}


static int
vmiCmdSetRun(const vmiCliGlobal *global, int argc, char **argv)
{
    g_auto(vmiSetOptions) opts = { 0 };
    g_autofree char *reconnectHelp =
        vmiSetSecondsHelp("Seconds between QEMU's connection attempts", VMI_ATTR_RECONNECT_TIMEOUT);
    g_autofree char *handshakeHelp =
        vmiSetSecondsHelp("Seconds QEMU waits for the handshake", VMI_ATTR_TIMEOUTS_HANDSHAKE);
    g_autofree char *unhookHelp =
        vmiSetSecondsHelp("Seconds QEMU waits for the unhook", VMI_ATTR_TIMEOUTS_UNHOOK);
    g_autofree char *requiredHelp =
        vmiSetYesNoHelp("Run the guest only while its tool is hooked", VMI_ATTR_REQUIRED);
    const GOptionEntry entries[] = {
        { "socket", 0, 0, G_OPTION_ARG_FILENAME, &opts.socket,
          "The tool listens on this unix socket (absolute path)", "PATH" },
        { "vsock", 0, 0, G_OPTION_ARG_STRING, &opts.vsock,
          "The tool listens on this vsock address", "CID:PORT" },
        { "reconnect", 0, 0, G_OPTION_ARG_STRING, &opts.reconnect,
          reconnectHelp, "SECONDS" },
        { "handshake-timeout", 0, 0, G_OPTION_ARG_STRING, &opts.handshake,
          handshakeHelp, "SECONDS" },
        { "unhook-timeout", 0, 0, G_OPTION_ARG_STRING, &opts.unhook,
          unhookHelp, "SECONDS" },
        { "allow-command", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts.commands,
          "Allow only these KVMI commands (repeat; 'all' drops the list)", "NAME|ID" },
        { "allow-event", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts.events,
          "Allow only these KVMI events (repeat; 'all' drops the list)", "NAME|ID" },
        { "key-secret", 0, 0, G_OPTION_ARG_STRING, &opts.keySecret,
          "Authenticate the tool with the key in this libvirt secret ('none' drops it)", "UUID" },
        { "required", 0, 0, G_OPTION_ARG_STRING, &opts.required,
          requiredHelp, "yes|no" },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdSet, entries);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiDef) def = NULL;
    g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) current = NULL;
    GError *err = NULL;
    int rc;

    if (!vmiCliOpenDomain(&vmiCmdSet, ctx, global, argc, argv, &conn, &dom, &rc))
        return rc;
    if (!opts.socket && !opts.vsock && !opts.reconnect && !opts.handshake && !opts.unhook &&
        !opts.commands && !opts.events && !opts.keySecret && !opts.required)
        return vmiCliUsage(ctx, "nothing to set: give at least one option");

    if (dom->xml->vmi) {
        if (!(def = vmiDomainGetDef(dom, &current))) {
            g_set_error(&err, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "domain '%s' has an invalid <vmi:introspection>: %s "
                        "(virt-vmi edit fixes it; virt-vmi remove drops it)",
                        dom->name, current->message);
            return vmiCliFail(err);
        }
    } else {
        if (!opts.socket && !opts.vsock) {
            g_set_error(&err, VMI_ERROR, VMI_ERROR_INVALID_ARG,
                        "domain '%s' has no <vmi:introspection> yet: give --socket PATH "
                        "or --vsock CID:PORT", dom->name);
            return vmiCliFail(err);
        }
        def = vmiDefNew();
    }

    if (!vmiSetApplyOptions(&opts, def, &err) ||
        !vmiDomainApply(conn, dom, def, changes, &err))
        return vmiCliFail(err);
    vmiCliReportChanges(dom, dom->name, changes);
    return VMI_EXIT_OK;
}


const vmiCliCommand vmiCmdSet = {
    "set", "DOMAIN [OPTION...]",
    "Configure a domain's introspection from options",
    "Write the <vmi:introspection> element of DOMAIN's persistent definition\n"
    "from the options, keeping what they do not mention, and put the QEMU\n"
    "arguments it needs into the domain's <qemu:commandline> in the same\n"
    "definition. A domain without the element needs --socket or --vsock.",
    vmiCmdSetRun,
};
