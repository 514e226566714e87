/*
 * vmi_cli.c: option parsing and error reporting shared by the commands
 */
#include <stdio.h>
#include <sys/prctl.h>

#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"


/* Consumes @error. */
int
vmiCliFail(GError *error)
{
    g_printerr("error: %s\n", error->message);
    g_error_free(error);
    return VMI_EXIT_FAILURE;
}


/*
 * For a command about to hold a key: no core dump of it, and no ptrace
 * or /proc/PID/mem by other processes of the same user.
 */
void
vmiCliHoldsKey(void)
{
    prctl(PR_SET_DUMPABLE, 0);
}


int
vmiCliUsage(GOptionContext *ctx, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_printerr("error: %s\n", msg);
    if (ctx)
        g_printerr("Try '%s --help' for more information.\n", g_get_prgname());
    return VMI_EXIT_USAGE;
}


GOptionContext *
vmiCliOptionContext(const vmiCliCommand *cmd, const GOptionEntry *entries)
{
    /* The program name, set by the dispatcher, already says the command. */
    GOptionContext *ctx = g_option_context_new(cmd->params);

    g_option_context_set_summary(ctx, cmd->summary);
    if (entries)
        g_option_context_add_main_entries(ctx, entries, NULL);
    return ctx;
}


gboolean
vmiCliParseOptions(GOptionContext *ctx, int *argc, char ***argv, int *exitCode)
{
    g_autoptr(GError) err = NULL;

    if (g_option_context_parse(ctx, argc, argv, &err))
        return TRUE;
    *exitCode = vmiCliUsage(ctx, "%s", err->message);
    return FALSE;
}


/*
 * What a command changed in a definition, a line each, and when it takes
 * effect: a running domain keeps running with its old arguments.
 */
void
vmiCliReportChanges(const vmiDomain *dom, const char *name, GPtrArray *changes)
{
    guint i;

    if (!changes->len) {
        g_print("Domain '%s': unchanged\n", name);
        return;
    }
    for (i = 0; i < changes->len; i++)
        g_print("Domain '%s': %s\n", name, (const char *)changes->pdata[i]);
    if (dom && dom->running)
        g_print("Domain '%s' is running: the change applies at its next start\n", name);
}


/*
 * What most commands start with: their options, exactly one DOMAIN, a
 * connection and the domain loaded. On failure *exitCode says how to exit.
 */
gboolean
vmiCliOpenDomain(const vmiCliCommand *cmd, GOptionContext *ctx, const vmiCliGlobal *global,
                 int argc, char **argv, vmiConn **conn, vmiDomain **dom, int *exitCode)
{
    GError *err = NULL;

    if (!vmiCliParseOptions(ctx, &argc, &argv, exitCode))
        return FALSE;
    if (argc != 2) {
        *exitCode = vmiCliUsage(ctx, "%s takes exactly one DOMAIN", cmd->name);
        return FALSE;
    }
    if (!(*conn = vmiConnOpen(global->uri, &err)) ||
        !(*dom = vmiDomainLoad(*conn, argv[1], cmd->loadFlags, &err))) {
        *exitCode = vmiCliFail(err);
        return FALSE;
    }
    return TRUE;
}
