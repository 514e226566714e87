/*
 * vmi_tool_options.c: vmi-tool's command line
 *
 * Every option is parsed by a callback, so that a bad value is reported
 * with the option's name and the value as written, and exits with 2.
 */
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "vmi_tool.h"
#include "vmi_config.h"
#include "conf/vmi_kvmi.h"

#define VMI_TOOL_DELAY_MAX_MS (24 * 3600 * 1000)
#define VMI_TOOL_TIMEOUT_MAX_S 3600


static void
vmiToolListenAddrFree(gpointer opaque)
{
    vmiToolListenAddr *addr = opaque;

    g_free(addr->path);
    g_free(addr->text);
    g_free(addr);
}


void
vmiToolConfigInit(vmiToolConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen = g_ptr_array_new_with_free_func(vmiToolListenAddrFree);
    cfg->socketMode = -1;
    cfg->socketGroup = -1;
    cfg->unhookEvent = TRUE;
    cfg->tryCommands = g_array_new(FALSE, FALSE, sizeof(vmiToolTry));
    cfg->tryEvents = g_array_new(FALSE, FALSE, sizeof(vmiToolTry));
    cfg->timeoutSec = 10;
}


void
vmiToolConfigClear(vmiToolConfig *cfg)
{
    g_ptr_array_unref(cfg->listen);
    g_array_unref(cfg->tryCommands);
    g_array_unref(cfg->tryEvents);
    g_free(cfg->keyFile);
    g_free(cfg->keyHashFile);
    explicit_bzero(cfg->cookie, sizeof(cfg->cookie));
}


static gboolean
vmiToolBadValue(GError **error, const char *option, const char *value,
                const char *expected)
{
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "invalid value '%s' for %s: expected %s", value, option, expected);
    return FALSE;
}


static gboolean
vmiToolOptListen(const char *option, const char *value, gpointer opaque, GError **error)
{
    vmiToolConfig *cfg = opaque;
    g_autofree vmiToolListenAddr *addr = g_new0(vmiToolListenAddr, 1);
    guint64 port;

    if (g_str_has_prefix(value, "unix:")) {
        const char *path = value + strlen("unix:");
        struct sockaddr_un sun;

        if (!*path || strlen(path) >= sizeof(sun.sun_path))
            return vmiToolBadValue(error, option, value,
                                   "unix:PATH with a path of 1 to 107 bytes");
        addr->type = VMI_TOOL_LISTEN_UNIX;
        addr->path = g_strdup(path);
    } else if (g_str_has_prefix(value, "vsock:")) {
        /* -1 is VMADDR_PORT_ANY, which QEMU cannot be told to connect to */
        if (!g_ascii_string_to_unsigned(value + strlen("vsock:"), 10, 0,
                                        G_MAXUINT32 - 1, &port, NULL))
            return vmiToolBadValue(error, option, value,
                                   "vsock:PORT with a port of 0 to 4294967294");
        addr->type = VMI_TOOL_LISTEN_VSOCK;
        addr->port = port;
    } else {
        return vmiToolBadValue(error, option, value, "unix:PATH or vsock:PORT");
    }
    addr->text = g_strdup(value);
    g_ptr_array_add(cfg->listen, g_steal_pointer(&addr));
    return TRUE;
}


static gboolean
vmiToolOptSocketMode(const char *option, const char *value, gpointer opaque, GError **error)
{
    vmiToolConfig *cfg = opaque;
    guint64 mode;

    if (!g_ascii_string_to_unsigned(value, 8, 0, 0777, &mode, NULL))
        return vmiToolBadValue(error, option, value, "an octal mode from 0 to 0777, e.g. 0660");
    cfg->socketMode = mode;
    return TRUE;
}


static gboolean
vmiToolOptSocketGroup(const char *option, const char *value, gpointer opaque, GError **error)
{
    vmiToolConfig *cfg = opaque;
    struct group *grp;
    guint64 gid;

    if (g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT32 - 1, &gid, NULL)) {
        cfg->socketGroup = gid;
        return TRUE;
    }
    /* Only at startup, with one thread: getgrnam's static buffer is fine. */
    if (!(grp = getgrnam(value)))
        return vmiToolBadValue(error, option, value, "a group name known to this host or a gid");
    cfg->socketGroup = grp->gr_gid;
    return TRUE;
}


static gboolean
vmiToolOptKeyFile(const char *option, const char *value, gpointer opaque, GError **error)
{
    vmiToolConfig *cfg = opaque;

    g_free(cfg->keyFile);
    cfg->keyFile = g_strdup(value);
    return TRUE;
}


static gboolean
vmiToolOptKeyHashFile(const char *option, const char *value, gpointer opaque, GError **error)
{
    vmiToolConfig *cfg = opaque;

    g_free(cfg->keyHashFile);
    cfg->keyHashFile = g_strdup(value);
    return TRUE;
}


/* The cookie on a command line is every local user's (/proc/PID/cmdline):
 * the old option is refused, its value never repeated. */
static gboolean
vmiToolOptKeyHashGone(const char *option, const char *value, gpointer opaque, GError **error)
{
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "--key-hash is no more: a cookie on the command line can be read by every "
                "user of the host; give it in a file or on a pipe with --key-hash-file FILE "
                "(e.g. /dev/stdin)");
    return FALSE;
}


static gboolean
vmiToolOptUnhookDelay(const char *option, const char *value, gpointer opaque, GError **error)
{
    vmiToolConfig *cfg = opaque;
    guint64 ms;

    if (g_str_equal(value, "never")) {
        cfg->unhookDelayMs = VMI_TOOL_DELAY_NEVER;
        return TRUE;
    }
    if (!g_ascii_string_to_unsigned(value, 10, 0, VMI_TOOL_DELAY_MAX_MS, &ms, NULL))
        return vmiToolBadValue(error, option, value,
                               "milliseconds from 0 to 86400000, or 'never'");
    cfg->unhookDelayMs = ms;
    return TRUE;
}


/* A v8 name or any 16-bit id: unknown ids are worth trying too. */
static gboolean
vmiToolParseTry(const vmiKvmiTable *table, const char *option, const char *value,
                GArray *tries, GError **error)
{
    gint64 found = vmiKvmiTableLookup(table, value);
    vmiToolTry try = { 0 };
    guint64 id;

    if (found >= 0) {
        id = found;
    } else if (!g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT16, &id, NULL)) {
        g_autofree char *names = vmiKvmiTableNameList(table, ", ");
        g_autofree char *expected = g_strdup_printf("a KVMI v8 %s name (%s) or an id from 0 to 65535",
                                                    table->kind, names);
        return vmiToolBadValue(error, option, value, expected);
    }
    try.id = id;
    try.name = vmiKvmiTableName(table, id);
    g_array_append_val(tries, try);
    return TRUE;
}


static gboolean
vmiToolOptTryCommand(const char *option, const char *value, gpointer opaque, GError **error)
{
    vmiToolConfig *cfg = opaque;

    return vmiToolParseTry(&vmiKvmiCommands, option, value, cfg->tryCommands, error);
}


static gboolean
vmiToolOptTryEvent(const char *option, const char *value, gpointer opaque, GError **error)
{
    vmiToolConfig *cfg = opaque;

    return vmiToolParseTry(&vmiKvmiEvents, option, value, cfg->tryEvents, error);
}


static gboolean
vmiToolOptExitAfter(const char *option, const char *value, gpointer opaque, GError **error)
{
    vmiToolConfig *cfg = opaque;
    guint64 n;

    if (!g_ascii_string_to_unsigned(value, 10, 1, G_MAXUINT32, &n, NULL))
        return vmiToolBadValue(error, option, value, "a number of connections, at least 1");
    cfg->exitAfter = n;
    return TRUE;
}


static gboolean
vmiToolOptTimeout(const char *option, const char *value, gpointer opaque, GError **error)
{
    vmiToolConfig *cfg = opaque;
    guint64 s;

    if (!g_ascii_string_to_unsigned(value, 10, 0, VMI_TOOL_TIMEOUT_MAX_S, &s, NULL))
        return vmiToolBadValue(error, option, value, "seconds from 0 (no timeout) to 3600");
    cfg->timeoutSec = s;
    return TRUE;
}


static gboolean
vmiToolOptNoUnhookEvent(const char *option, const char *value, gpointer opaque, GError **error)
{
    vmiToolConfig *cfg = opaque;

    cfg->unhookEvent = FALSE;
    return TRUE;
}


static int
vmiToolUsage(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_printerr("vmi-tool: error: %s\n", msg);
    g_printerr("Try 'vmi-tool --help' for more information.\n");
    return VMI_TOOL_EXIT_USAGE;
}


static const char vmiToolDescription[] =
    "Each connection from QEMU's introspection object is authenticated with the key,\n"
    "then the tool talks KVMI v8 to the kernel: GET_VERSION, the tried commands and\n"
    "events, VM_GET_INFO and, unless --no-unhook-event, VM_CONTROL_EVENTS to enable\n"
    "the UNHOOK event. On UNHOOK it closes the connection after --unhook-delay.\n"
    "Every happening is printed as one JSON object per line on stdout.\n"
    "\n"
    "Exit status: 0 on success, 1 if the tool could not set up or run, 2 on a bad\n"
    "command line. See vmi-tool(1).";


gboolean
vmiToolConfigParse(vmiToolConfig *cfg, int *argc, char ***argv, int *exitCode)
{
    gboolean version = FALSE;
    const GOptionEntry entries[] = {
        { "listen", 'l', 0, G_OPTION_ARG_CALLBACK, vmiToolOptListen,
          "Listen on a unix socket or a vsock port (repeatable)", "unix:PATH|vsock:PORT" },
        { "socket-mode", 0, 0, G_OPTION_ARG_CALLBACK, vmiToolOptSocketMode,
          "Permissions of the unix sockets (octal, e.g. 0660)", "MODE" },
        { "socket-group", 0, 0, G_OPTION_ARG_CALLBACK, vmiToolOptSocketGroup,
          "Group of the unix sockets (e.g. libvirt-qemu)", "GROUP" },
        { "key-file", 0, G_OPTION_FLAG_FILENAME, G_OPTION_ARG_CALLBACK, vmiToolOptKeyFile,
          "Authenticate with SHA-1 of all bytes of FILE (QEMU's secret)", "FILE" },
        { "key-hash-file", 0, G_OPTION_FLAG_FILENAME, G_OPTION_ARG_CALLBACK, vmiToolOptKeyHashFile,
          "Authenticate with the SHA-1 of the key, in hex, read from FILE (may be /dev/stdin)",
          "FILE" },
        { "key-hash", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_CALLBACK, vmiToolOptKeyHashGone,
          NULL, NULL },
        { "unhook-delay", 0, 0, G_OPTION_ARG_CALLBACK, vmiToolOptUnhookDelay,
          "Close the connection this long after UNHOOK (default 0), or never", "MS|never" },
        { "no-unhook-event", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, vmiToolOptNoUnhookEvent,
          "Do not enable the UNHOOK event", NULL },
        { "try-command", 0, 0, G_OPTION_ARG_CALLBACK, vmiToolOptTryCommand,
          "Report whether a KVMI command is allowed (repeatable)", "NAME|ID" },
        { "try-event", 0, 0, G_OPTION_ARG_CALLBACK, vmiToolOptTryEvent,
          "Report whether a KVMI event is allowed (repeatable)", "NAME|ID" },
        { "exit-after", 0, 0, G_OPTION_ARG_CALLBACK, vmiToolOptExitAfter,
          "Exit once N connections have closed (default: run until SIGTERM/SIGINT)", "N" },
        { "timeout", 0, 0, G_OPTION_ARG_CALLBACK, vmiToolOptTimeout,
          "Wait at most this long for the handshake and for each KVMI reply (default 10, 0: forever)",
          "SECONDS" },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version,
          "Print the version and exit", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
    GOptionGroup *group = g_option_group_new("vmi-tool", "vmi-tool options", "Show vmi-tool options",
                                             cfg, NULL);
    g_autoptr(GError) err = NULL;

    g_option_group_add_entries(group, entries);
    g_option_context_set_main_group(ctx, group);
    g_option_context_set_summary(ctx,
        "Reference KVMI introspection tool: accepts QEMU introspection connections\n"
        "and reports each step of the handshake and the KVMI session as JSON lines.");
    g_option_context_set_description(ctx, vmiToolDescription);

    if (!g_option_context_parse(ctx, argc, argv, &err)) {
        *exitCode = vmiToolUsage("%s", err->message);
        return FALSE;
    }
    if (version) {
        g_print("vmi-tool %s\n", VMI_VERSION);
        *exitCode = VMI_TOOL_EXIT_OK;
        return FALSE;
    }
    if (*argc > 1) {
        *exitCode = vmiToolUsage("unexpected argument '%s'", (*argv)[1]);
        return FALSE;
    }
    if (cfg->listen->len == 0) {
        *exitCode = vmiToolUsage("no --listen address given");
        return FALSE;
    }
    if (cfg->keyFile && cfg->keyHashFile) {
        *exitCode = vmiToolUsage("--key-file and --key-hash-file exclude each other");
        return FALSE;
    }
    return TRUE;
}


/*
 * The cookie from --key-hash-file: 40 hex digits, optionally followed by
 * white space and anything (sha1sum's output). What the file holds is a
 * secret: an error never quotes it.
 */
static gboolean
vmiToolLoadKeyHash(vmiToolConfig *cfg, GError **error)
{
    g_autofree char *data = NULL;
    gboolean ok;
    gsize size;
    size_t i;

    if (!g_file_get_contents(cfg->keyHashFile, &data, &size, error)) {
        g_prefix_error(error, "--key-hash-file: ");
        return FALSE;
    }
    for (i = 0; i < KVMI_WIRE_COOKIE_LEN && 2 * i + 1 < size; i++) {
        int hi = g_ascii_xdigit_value(data[2 * i]);
        int lo = g_ascii_xdigit_value(data[2 * i + 1]);

        if (hi < 0 || lo < 0)
            break;
        cfg->cookie[i] = hi << 4 | lo;
    }
    ok = i == KVMI_WIRE_COOKIE_LEN &&
         (size == 2 * KVMI_WIRE_COOKIE_LEN || g_ascii_isspace(data[2 * KVMI_WIRE_COOKIE_LEN]));
    explicit_bzero(data, size);
    if (ok)
        return TRUE;
    explicit_bzero(cfg->cookie, sizeof(cfg->cookie));
    g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                "--key-hash-file: '%s' does not start with 40 hexadecimal digits "
                "(the SHA-1 of the key, as virt-vmi key-hash --show-cookie prints)",
                cfg->keyHashFile);
    return FALSE;
}


/* SHA-1 over every byte of the file, as QEMU hashes a file= secret. */
gboolean
vmiToolConfigLoadKey(vmiToolConfig *cfg, GError **error)
{
    g_autoptr(GChecksum) sum = NULL;
    g_autofree char *data = NULL;
    gsize len = KVMI_WIRE_COOKIE_LEN;
    gsize size;

    if (cfg->keyHashFile)
        return vmiToolLoadKeyHash(cfg, error);
    if (!cfg->keyFile)
        return TRUE;
    if (!g_file_get_contents(cfg->keyFile, &data, &size, error)) {
        g_prefix_error(error, "--key-file: ");
        return FALSE;
    }
    sum = g_checksum_new(G_CHECKSUM_SHA1);
    g_checksum_update(sum, (const guchar *)data, size);
    g_checksum_get_digest(sum, cfg->cookie, &len);
    explicit_bzero(data, size);
    return TRUE;
}
