/*
 * virt-vmi: manage VM introspection of libvirt domains
 *
 * A thin dispatcher: global options, then one command from the table.
 */
#include <locale.h>
#include <stdio.h>

#include "vmi_cli.h"
#include "vmi_config.h"

static const vmiCliCommand *const vmiCommands[] = {
    &vmiCmdSet,
    &vmiCmdGet,
    &vmiCmdRemove,
    &vmiCmdEdit,
    &vmiCmdDefine,
    &vmiCmdSync,
    &vmiCmdKeyCreate,
    &vmiCmdKeyImport,
    &vmiCmdKeyHash,
    &vmiCmdStart,
    &vmiCmdDestroy,
    &vmiCmdSuspend,
    &vmiCmdResume,
    &vmiCmdAttach,
    &vmiCmdDetach,
    &vmiCmdSave,
    &vmiCmdRestore,
    &vmiCmdSnapshotCreate,
    &vmiCmdMigrate,
    &vmiCmdStatus,
    &vmiCmdHostValidate,
    &vmiCmdHookInstall,
    &vmiCmdValidate,
    &vmiCmdDomxmlToNative,
};


static const vmiCliCommand *
vmiFindCommand(const char *name)
{
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(vmiCommands); i++) {
        if (g_str_equal(vmiCommands[i]->name, name))
            return vmiCommands[i];
    }
    return NULL;
}


static char *
vmiCommandList(void)
{
    GString *buf = g_string_new("Commands:\n");
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(vmiCommands); i++)
        g_string_append_printf(buf, "  %-18s %s\n", vmiCommands[i]->name, vmiCommands[i]->brief);
    g_string_append(buf, "\n'virt-vmi COMMAND --help' describes a command; man virt-vmi tells more.");
    return g_string_free(buf, FALSE);
}


static int
vmiRunCommand(const vmiCliCommand *cmd, const vmiCliGlobal *global,
              int argc, char **argv)
{
    g_autofree char *prgname = g_strdup_printf("virt-vmi %s", cmd->name);

    g_set_prgname(prgname);
    return cmd->run(global, argc, argv);
}


int
main(int argc, char **argv)
{
    vmiCliGlobal global = { NULL };
    g_autofree char *uri = NULL;
    gboolean version = FALSE;
    const GOptionEntry entries[] = {
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri,
          "libvirt connection URI (default: as virsh)", "URI" },
        { "version", 0, 0, G_OPTION_ARG_NONE, &version,
          "Print the version and exit", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("COMMAND [ARGS...]");
    g_autofree char *commands = vmiCommandList();
    g_autoptr(GError) err = NULL;
    const vmiCliCommand *cmd;

    setlocale(LC_ALL, "");
    g_option_context_set_summary(ctx, "Manage VM introspection (<vmi:introspection>) of libvirt domains.");
    g_option_context_set_description(ctx, commands);
    g_option_context_add_main_entries(ctx, entries, NULL);
    /* Options after the command are the command's own. */
    g_option_context_set_strict_posix(ctx, TRUE);
    if (!g_option_context_parse(ctx, &argc, &argv, &err))
        return vmiCliUsage(ctx, "%s", err->message);

    if (version) {
        g_print("virt-vmi %s\n", VMI_VERSION);
        return VMI_EXIT_OK;
    }
    if (argc < 2)
        return vmiCliUsage(ctx, "no command given");

    if (g_str_equal(argv[1], "help")) {
        if (argc == 2) {
            g_autofree char *help = g_option_context_get_help(ctx, TRUE, NULL);
            g_print("%s", help);
            return VMI_EXIT_OK;
        }
        if (!(cmd = vmiFindCommand(argv[2])))
            return vmiCliUsage(ctx, "unknown command '%s'", argv[2]);
        {
            char *helpArgv[] = { (char *)cmd->name, (char *)"--help", NULL };
            return vmiRunCommand(cmd, &global, 2, helpArgv);
        }
    }

    if (!(cmd = vmiFindCommand(argv[1])))
        return vmiCliUsage(ctx, "unknown command '%s'", argv[1]);

    global.uri = uri;
    return vmiRunCommand(cmd, &global, argc - 1, argv + 1);
}
