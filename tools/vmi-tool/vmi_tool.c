/*
 * vmi-tool: the reference KVMI introspection tool
 *
 * Listens for QEMU's introspection object, authenticates itself, talks
 * KVMI v8 with the kernel and unhooks when asked, reporting every step as
 * a JSON line. Usage and output: docs/vmi-tool.rst.
 */
#include <locale.h>
#include <signal.h>
#include <glib-unix.h>

#include "vmi_tool.h"
#include "vmi_tool_output.h"


static void
vmiToolServerQuit(vmiToolServer *server, const char *reason)
{
    if (!server->exitReason)
        server->exitReason = reason;
    g_main_loop_quit(server->loop);
}


static gboolean
vmiToolServerReap(gpointer opaque)
{
    vmiToolServer *server = opaque;

    server->reapId = 0;
    g_ptr_array_set_size(server->dead, 0);
    return G_SOURCE_REMOVE;
}


/*
 * A connection closes from inside its own callbacks: it is freed from an
 * idle callback, once they have returned.
 */
void
vmiToolServerConnClosed(vmiToolServer *server, vmiToolConn *conn)
{
    g_hash_table_remove(server->conns, conn);
    g_ptr_array_add(server->dead, conn);
    if (!server->reapId)
        server->reapId = g_idle_add(vmiToolServerReap, server);

    server->closed++;
    if (server->cfg->exitAfter && server->closed >= server->cfg->exitAfter)
        vmiToolServerQuit(server, "exit-after");
}


static gboolean
vmiToolServerOnSignal(gpointer opaque)
{
    vmiToolServer *server = opaque;

    vmiToolServerQuit(server, "signal");
    return G_SOURCE_CONTINUE;
}


static void
vmiToolListenerFreeFunc(gpointer listener)
{
    vmiToolListenerFree(listener);
}


static void
vmiToolConnFreeFunc(gpointer conn)
{
    vmiToolConnFree(conn);
}


static gboolean
vmiToolServerListen(vmiToolServer *server, GError **error)
{
    const vmiToolConfig *cfg = server->cfg;
    guint i;

    for (i = 0; i < cfg->listen->len; i++) {
        const vmiToolListenAddr *addr = g_ptr_array_index(cfg->listen, i);
        vmiToolListener *listener = vmiToolListenerNew(server, addr, error);
        vmiToolLine *line;

        if (!listener)
            return FALSE;
        g_ptr_array_add(server->listeners, listener);

        line = vmiToolLineNew("listening", 0);
        vmiToolLineString(line, "address", addr->text);
        /* where the cookie came from; never the cookie, a secret */
        vmiToolLineString(line, "cookie_from", cfg->keyFile ? "key-file" :
                                               cfg->keyHashFile ? "key-hash-file" : NULL);
        vmiToolLineEmit(line);
    }
    return TRUE;
}


/* Closes what is still open, so that every connection ends with a line. */
static void
vmiToolServerShutdown(vmiToolServer *server)
{
    g_autofree gpointer *live = NULL;
    guint n, i;
    vmiToolLine *line;

    g_ptr_array_set_size(server->listeners, 0);
    live = g_hash_table_get_keys_as_array(server->conns, &n);
    for (i = 0; i < n; i++)
        vmiToolConnShutdown(live[i]);
    g_clear_handle_id(&server->reapId, g_source_remove);
    g_ptr_array_set_size(server->dead, 0);

    line = vmiToolLineNew("exit", 0);
    vmiToolLineString(line, "reason", server->exitReason);
    vmiToolLineUint64(line, "connections", server->lastConnId);
    vmiToolLineEmit(line);
}


int
main(int argc, char **argv)
{
    vmiToolConfig cfg;
    vmiToolServer server = { &cfg };
    g_autoptr(GError) err = NULL;
    guint sigterm, sigint;
    int exitCode = VMI_TOOL_EXIT_OK;

    setlocale(LC_ALL, "");
    g_set_prgname("vmi-tool");
    /* Peers go away mid-write, and so may the reader of stdout. */
    signal(SIGPIPE, SIG_IGN);

    vmiToolConfigInit(&cfg);
    if (!vmiToolConfigParse(&cfg, &argc, &argv, &exitCode))
        goto out;
    if (!vmiToolConfigLoadKey(&cfg, &err)) {
        g_printerr("vmi-tool: error: %s\n", err->message);
        exitCode = VMI_TOOL_EXIT_FAILURE;
        goto out;
    }

    server.loop = g_main_loop_new(NULL, FALSE);
    server.listeners = g_ptr_array_new_with_free_func(vmiToolListenerFreeFunc);
    server.conns = g_hash_table_new(NULL, NULL);
    server.dead = g_ptr_array_new_with_free_func(vmiToolConnFreeFunc);
    sigterm = g_unix_signal_add(SIGTERM, vmiToolServerOnSignal, &server);
    sigint = g_unix_signal_add(SIGINT, vmiToolServerOnSignal, &server);

    if (vmiToolServerListen(&server, &err)) {
        g_main_loop_run(server.loop);
        vmiToolServerShutdown(&server);
    } else {
        g_printerr("vmi-tool: error: %s\n", err->message);
        exitCode = VMI_TOOL_EXIT_FAILURE;
    }

    g_source_remove(sigterm);
    g_source_remove(sigint);
    g_ptr_array_unref(server.listeners);
    g_hash_table_unref(server.conns);
    g_ptr_array_unref(server.dead);
    g_main_loop_unref(server.loop);
 out:
    vmiToolConfigClear(&cfg);
    return exitCode;
}
