/*
 * emu_cmdline.c: the QEMU command line, read and rewritten
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <gio/gio.h>

#include "emu_cmdline.h"
#include "emu_json.h"
#include "emu_log.h"
#include "emu_secret.h"

/* QEMU 7.2's options that take no argument; every other one takes one. */
static const char *const noArgOptions[] = {
    "h", "help", "version", "audio-help", "mem-prealloc", "snapshot", "usb",
    "nographic", "portrait", "full-screen", "win2k-hack", "no-fd-bootchk",
    "no-acpi", "no-hpet", "s", "S", "singlestep", "preconfig", "enable-kvm",
    "xen-attach", "xen-domid-restrict", "no-reboot", "no-shutdown",
    "daemonize", "only-migratable", "nodefaults", "no-user-config",
    "async-teardown", "enable-sync-profile", "alt-grab", "ctrl-grab",
    "semihosting", "show-cursor", "no-quit", "no-frame", "sdl", "curses",
    "rtc-td-hack", "no-kvm-pit-reinjection", "no-kvm", "nodefconfig",
    NULL
};


void
emuChardevSpecFree(emuChardevSpec *spec)
{
    if (!spec)
        return;
    g_free(spec->id);
    g_free(spec->addr.path);
    g_free(spec->addr.cid);
    g_free(spec->addr.port);
    g_free(spec);
}


void
emuMonitorSpecFree(emuMonitorSpec *spec)
{
    if (!spec)
        return;
    g_free(spec->label);
    g_free(spec->unixPath);
    g_free(spec->filename);
    g_free(spec);
}


static void
emuArgFree(gpointer data)
{
    emuArg *arg = data;

    g_free(arg->opt);
    g_free(arg->written);
    g_free(arg->value);
    g_free(arg->replace);
    g_free(arg);
}


void
emuCmdlineFree(emuCmdline *cmd)
{
    if (!cmd)
        return;
    g_ptr_array_unref(cmd->args);
    g_ptr_array_unref(cmd->objectArgs);
    g_ptr_array_unref(cmd->chardevs);
    g_hash_table_unref(cmd->chardevIds);
    g_hash_table_unref(cmd->objectTypes);
    g_ptr_array_unref(cmd->monitors);
    g_free(cmd->accels);
    g_free(cmd->guestName);
    g_free(cmd);
}


gboolean
emuParseUuid(const char *str, guint8 *uuid)
{
    static const int dashes[] = { 8, 13, 18, 23 };
    guint i, n = 0;

    if (strlen(str) != 36)
        return FALSE;
    for (i = 0; i < G_N_ELEMENTS(dashes); i++) {
        if (str[dashes[i]] != '-')
            return FALSE;
    }
    for (i = 0; i < 36; i += 2) {
        int hi, lo;

        if (str[i] == '-')
            i++;
        hi = g_ascii_xdigit_value(str[i]);
        lo = g_ascii_xdigit_value(str[i + 1]);
        if (hi < 0 || lo < 0)
            return FALSE;
        uuid[n++] = hi << 4 | lo;
    }
    return n == 16;
}


/* --- reading --------------------------------------------------------- */

static gboolean
emuIsHelpValue(const char *value)
{
    return emuIsHelpOption(value) || g_str_has_suffix(value, ",help") ||
           g_str_has_suffix(value, ",?");
}


static void
emuCmdlineSetMode(emuCmdline *cmd, emuRunMode mode)
{
    /* QEMU acts on the first help request it parses */
    if (cmd->mode == EMU_RUN_EMULATE)
        cmd->mode = mode;
}


static void
emuCmdlineObjectJson(emuCmdline *cmd, emuArg *arg)
{
    yajl_val tree = yajl_tree_parse(arg->value, NULL, 0);
    const char *type;
    const char *id;

    /* A JSON -object is QEMU 6.0+ syntax, which the 5.0-based KVMI QEMU
     * never had: an introspection one goes to QEMU, which refuses it. */
    if (!tree)
        return;
    type = emuJsonGetString(tree, "qom-type");
    id = emuJsonGetString(tree, "id");
    if (type && id) {
        g_hash_table_replace(cmd->objectTypes, g_strdup(id), g_strdup(type));
        if (g_str_equal(type, "secret"))
            emuSecretsAddJson(tree);
    }
    yajl_tree_free(tree);
}


static void
emuCmdlineObject(emuCmdline *cmd, emuArg *arg)
{
    g_autoptr(emuOpts) opts = NULL;
    const char *type;
    const char *id;

    if (arg->value[0] == '{') {
        emuCmdlineObjectJson(cmd, arg);
        return;
    }
    opts = emuOptsParse(arg->value, "qom-type");
    type = emuOptsGet(opts, "qom-type");
    id = emuOptsGet(opts, "id");
    if (!type && (emuOptsHas(opts, "help") || emuOptsHas(opts, "?"))) {
        emuCmdlineSetMode(cmd, EMU_RUN_OBJECT_HELP);
        return;
    }
    if (!type)
        return;
    if (emuIsHelpOption(type)) {
        emuCmdlineSetMode(cmd, EMU_RUN_OBJECT_HELP);
        return;
    }
    if (g_str_equal(type, EMU_OBJECT_TYPE)) {
        if (emuOptsHas(opts, "help") || emuOptsHas(opts, "?")) {
            emuCmdlineSetMode(cmd, EMU_RUN_INTROSPECTION_HELP);
            return;
        }
        arg->drop = TRUE;
        g_ptr_array_add(cmd->objectArgs, arg);
    } else if (g_str_equal(type, "secret")) {
        emuSecretsAddOpts(opts);
    }
    if (id)
        g_hash_table_replace(cmd->objectTypes, g_strdup(id), g_strdup(type));
}


static void
emuCmdlineAccel(emuCmdline *cmd, const char *names)
{
    char *joined;

    if (!cmd->accels) {
        cmd->accels = g_strdup(names);
        return;
    }
    joined = g_strdup_printf("%s:%s", cmd->accels, names);
    g_free(cmd->accels);
    cmd->accels = joined;
}


static void
emuCmdlineOption(emuCmdline *cmd, emuArg *arg)
{
    const char *o = arg->opt;
    g_autoptr(emuOpts) opts = NULL;

    if (g_str_equal(o, "h") || g_str_equal(o, "help") || g_str_equal(o, "version")) {
        emuCmdlineSetMode(cmd, EMU_RUN_EXEC);
        return;
    }
    if (!arg->value)
        return;
    if (g_str_equal(o, "object")) {
        emuCmdlineObject(cmd, arg);
        return;
    }
    if (emuIsHelpValue(arg->value)) {
        emuCmdlineSetMode(cmd, EMU_RUN_EXEC);
        return;
    }
    if (g_str_equal(o, "machine") || g_str_equal(o, "M")) {
        const char *type;

        opts = emuOptsParse(arg->value, "type");
        type = emuOptsGet(opts, "type");
        if (type)
            cmd->machineNone = g_str_equal(type, "none");
        if (emuOptsGet(opts, "accel"))
            emuCmdlineAccel(cmd, emuOptsGet(opts, "accel"));
    } else if (g_str_equal(o, "accel")) {
        opts = emuOptsParse(arg->value, "accel");
        if (emuOptsGet(opts, "accel"))
            emuCmdlineAccel(cmd, emuOptsGet(opts, "accel"));
    } else if (g_str_equal(o, "uuid")) {
        /* a bad one is QEMU's error to report */
        if (!emuParseUuid(arg->value, cmd->uuid))
            memset(cmd->uuid, 0, sizeof(cmd->uuid));
    } else if (g_str_equal(o, "name")) {
        opts = emuOptsParse(arg->value, "guest");
        g_free(cmd->guestName);
        cmd->guestName = g_strdup(emuOptsGet(opts, "guest"));
    } else if (g_str_equal(o, "msg")) {
        opts = emuOptsParse(arg->value, NULL);
        cmd->msgTimestamp = emuOptsGetBool(opts, "timestamp", cmd->msgTimestamp);
        cmd->msgGuestName = emuOptsGetBool(opts, "guest-name", cmd->msgGuestName);
    } else if (g_str_equal(o, "incoming")) {
        cmd->incoming = TRUE;
    } else if (g_str_equal(o, "chardev")) {
        const char *id;

        opts = emuOptsParse(arg->value, "backend");
        id = emuOptsGet(opts, "id");
        if (id)
            g_hash_table_replace(cmd->chardevIds, g_strdup(id),
                                 g_strdup(emuOptsGet(opts, "backend") ?: ""));
    }
}


static gboolean
emuIsNoArgOption(const char *name)
{
    return g_strv_contains(noArgOptions, name);
}


static void
emuCmdlineSplit(emuCmdline *cmd, int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        emuArg *arg = g_new0(emuArg, 1);
        const char *a = argv[i];

        g_ptr_array_add(cmd->args, arg);
        if (a[0] != '-' || a[1] == '\0') {
            arg->value = g_strdup(a);
            continue;
        }
        arg->written = g_strdup(a);
        arg->opt = g_strdup(a[1] == '-' ? a + 2 : a + 1);
        if (g_str_equal(arg->opt, "enable-kvm"))
            emuCmdlineAccel(cmd, "kvm");
        else if (g_str_equal(arg->opt, "daemonize"))
            cmd->daemonize = TRUE;
        if (!emuIsNoArgOption(arg->opt) && i + 1 < argc)
            arg->value = g_strdup(argv[++i]);
    }
}


/* The accelerator QEMU will end up with: the first of the list that starts. */
static void
emuCmdlineResolveAccel(emuCmdline *cmd)
{
    g_auto(GStrv) names = g_strsplit(cmd->accels ? cmd->accels : "tcg", ":", -1);
    guint i;

    for (i = 0; names[i]; i++) {
        if (g_str_equal(names[i], "kvm")) {
            int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

            if (fd < 0)
                continue;
            close(fd);
            cmd->kvm = TRUE;
            cmd->accelUsable = TRUE;
            return;
        }
        if (g_str_equal(names[i], "tcg") || g_str_equal(names[i], "qtest")) {
            cmd->accelUsable = TRUE;
            return;
        }
    }
}


/* --- the chardevs the emulator runs ----------------------------------- */

/* Whether another option refers to chardev @id (a device, a monitor...). */
static gboolean
emuCmdlineChardevUsedElsewhere(emuCmdline *cmd, const char *id)
{
    g_autofree char *kv = g_strdup_printf("chardev=%s", id);
    g_autofree char *colon = g_strdup_printf("chardev:%s", id);
    g_autofree char *json = g_strdup_printf("\"chardev\":\"%s\"", id);
    guint i;

    for (i = 0; i < cmd->args->len; i++) {
        emuArg *arg = g_ptr_array_index(cmd->args, i);
        const char *needles[] = { kv, colon, json };
        guint n;

        if (!arg->value || !arg->opt || arg->drop || g_str_equal(arg->opt, "chardev"))
            continue;
        for (n = 0; n < G_N_ELEMENTS(needles); n++) {
            const char *hit = strstr(arg->value, needles[n]);
            gsize len = strlen(needles[n]);

            for (; hit; hit = strstr(hit + 1, needles[n])) {
                if (n == 2 || hit[len] == '\0' || hit[len] == ',')
                    return TRUE;
            }
        }
    }
    return FALSE;
}


static emuChardevSpec *
emuChardevSpecFromOpts(const emuOpts *opts)
{
    const char *path = emuOptsGet(opts, "path");
    const char *cid = emuOptsGet(opts, "cid");
    const char *port = emuOptsGet(opts, "port");
    const char *reconnect = emuOptsGet(opts, "reconnect");
    emuChardevSpec *spec;
    guint64 secs = 0;

    /* what the fork accepts: exactly one of path= and cid=/port= */
    if ((!!path + !!cid) != 1 || emuOptsHas(opts, "host") || emuOptsHas(opts, "fd"))
        return NULL;
    if (cid && !port)
        return NULL;
    if (reconnect && !g_ascii_string_to_unsigned(reconnect, 10, 0, G_MAXINT32, &secs, NULL))
        return NULL;

    spec = g_new0(emuChardevSpec, 1);
    spec->id = g_strdup(emuOptsGet(opts, "id"));
    spec->reconnect = secs;
    spec->server = emuOptsGetBool(opts, "server", FALSE);
    if (path) {
        spec->addr.type = EMU_ADDR_UNIX;
        spec->addr.path = g_strdup(path);
    } else {
        spec->addr.type = EMU_ADDR_VSOCK;
        spec->addr.cid = g_strdup(cid);
        spec->addr.port = g_strdup(port);
    }
    return spec;
}


static gboolean
emuCmdlineObjectsUse(emuCmdline *cmd, const char *id)
{
    guint i;

    for (i = 0; i < cmd->objectArgs->len; i++) {
        emuArg *arg = g_ptr_array_index(cmd->objectArgs, i);
        g_autoptr(emuOpts) opts = emuOptsParse(arg->value, "qom-type");
        const char *chardev = emuOptsGet(opts, "chardev");

        if (chardev && g_str_equal(chardev, id))
            return TRUE;
    }
    return FALSE;
}


/*
 * Takes a socket chardev away from QEMU when the introspection object
 * uses it, when it has cid= (QEMU 7.2 refuses it), or when it is a
 * reconnecting client nothing else uses (a QMP object-add may use it).
 */
static void
emuCmdlineTakeChardevs(emuCmdline *cmd)
{
    guint i;

    for (i = 0; i < cmd->args->len; i++) {
        emuArg *arg = g_ptr_array_index(cmd->args, i);
        g_autoptr(emuOpts) opts = NULL;
        emuChardevSpec *spec;
        const char *backend;
        gboolean take;

        if (!arg->opt || !g_str_equal(arg->opt, "chardev") || !arg->value)
            continue;
        opts = emuOptsParse(arg->value, "backend");
        backend = emuOptsGet(opts, "backend");
        if (!backend || !g_str_equal(backend, "socket") || !emuOptsGet(opts, "id"))
            continue;
        if (!(spec = emuChardevSpecFromOpts(opts)))
            continue;
        take = emuCmdlineObjectsUse(cmd, spec->id) ||
               spec->addr.type == EMU_ADDR_VSOCK ||
               (!spec->server && spec->reconnect > 0 &&
                !emuCmdlineChardevUsedElsewhere(cmd, spec->id));
        if (!take) {
            emuChardevSpecFree(spec);
            continue;
        }
        arg->drop = TRUE;
        g_ptr_array_add(cmd->chardevs, spec);
    }
}


emuChardevSpec *
emuCmdlineFindChardev(emuCmdline *cmd, const char *id)
{
    guint i;

    for (i = 0; i < cmd->chardevs->len; i++) {
        emuChardevSpec *spec = g_ptr_array_index(cmd->chardevs, i);

        if (g_str_equal(spec->id, id))
            return spec;
    }
    return NULL;
}


/* --- the QMP monitors ------------------------------------------------- */

static emuMonitorSpec *
emuMonitorSpecNew(const char *label, gboolean pretty)
{
    emuMonitorSpec *mon = g_new0(emuMonitorSpec, 1);

    mon->label = g_strdup(label);
    mon->pretty = pretty;
    mon->listenFd = -1;
    mon->qemuFd = -1;
    mon->proxyFd = -1;
    mon->firstClientFd = -1;
    return mon;
}


/* A server socket chardev (or stdio) the proxy can take over; NULL if not. */
static emuMonitorSpec *
emuMonitorSpecFromChardev(const emuOpts *opts, const char *label, gboolean pretty)
{
    const char *backend = emuOptsGet(opts, "backend");
    const char *fd = emuOptsGet(opts, "fd");
    const char *path = emuOptsGet(opts, "path");
    emuMonitorSpec *mon;
    guint64 num;

    if (!backend)
        return NULL;
    if (g_str_equal(backend, "stdio")) {
        mon = emuMonitorSpecNew(label, pretty);
        mon->stdio = TRUE;
        return mon;
    }
    if (!g_str_equal(backend, "socket") || !emuOptsGetBool(opts, "server", FALSE) ||
        emuOptsGetBool(opts, "abstract", FALSE) || emuOptsHas(opts, "host"))
        return NULL;
    if ((!!fd + !!path) != 1)
        return NULL;
    mon = emuMonitorSpecNew(label, pretty);
    /* QEMU's default is to wait for the first client; "nowait" is the legacy spelling */
    mon->wait = emuOptsGetBool(opts, "wait", !emuOptsHas(opts, "nowait"));
    if (fd) {
        if (!g_ascii_string_to_unsigned(fd, 10, 0, G_MAXINT, &num, NULL)) {
            emuMonitorSpecFree(mon);
            return NULL;
        }
        mon->listenFd = num;
    } else {
        mon->unixPath = g_strdup(path);
    }
    return mon;
}


static emuArg *
emuCmdlineFindChardevArg(emuCmdline *cmd, const char *id, emuOpts **optsOut)
{
    guint i;

    for (i = 0; i < cmd->args->len; i++) {
        emuArg *arg = g_ptr_array_index(cmd->args, i);
        emuOpts *opts;
        const char *cid;

        if (!arg->opt || !g_str_equal(arg->opt, "chardev") || !arg->value || arg->drop)
            continue;
        opts = emuOptsParse(arg->value, "backend");
        cid = emuOptsGet(opts, "id");
        if (cid && g_str_equal(cid, id)) {
            *optsOut = opts;
            return arg;
        }
        emuOptsFree(opts);
    }
    return NULL;
}


/* -mon chardev=ID,mode=control (libvirt's form) */
static void
emuCmdlineMon(emuCmdline *cmd, emuArg *arg)
{
    g_autoptr(emuOpts) opts = emuOptsParse(arg->value, "chardev");
    g_autoptr(emuOpts) chrOpts = NULL;
    const char *mode = emuOptsGet(opts, "mode");
    const char *id = emuOptsGet(opts, "chardev");
    emuMonitorSpec *mon;
    emuArg *chrArg;

    if (!id || !mode || !g_str_equal(mode, "control"))
        return;
    if (!(chrArg = emuCmdlineFindChardevArg(cmd, id, &chrOpts)))
        return;
    mon = emuMonitorSpecFromChardev(chrOpts, id, emuOptsGetBool(opts, "pretty", FALSE));
    if (!mon)
        return;
    /* the -chardev becomes QEMU's end of the pair: filled in later */
    chrArg->drop = TRUE;
    g_ptr_array_add(cmd->monitors, mon);
}


/* -qmp DEV and -qmp-pretty DEV, QEMU's legacy chardev syntax. The option
 * stays where it is, as "-qmp chardev:LABEL": QEMU numbers its
 * compat_monitorN labels by the position of these options. */
static void
emuCmdlineQmp(emuCmdline *cmd, emuArg *arg, guint index, gboolean pretty)
{
    g_autofree char *label = NULL;
    g_autoptr(emuOpts) opts = NULL;
    emuMonitorSpec *mon = NULL;
    const char *rest;

    if (g_str_has_prefix(arg->value, "chardev:")) {
        g_autoptr(emuOpts) chrOpts = NULL;
        emuArg *chrArg;

        rest = arg->value + strlen("chardev:");
        if (!(chrArg = emuCmdlineFindChardevArg(cmd, rest, &chrOpts)))
            return;
        if (!(mon = emuMonitorSpecFromChardev(chrOpts, rest, pretty)))
            return;
        chrArg->drop = TRUE;
    } else {
        label = g_strdup_printf("compat_monitor%u", index);
        if (g_str_equal(arg->value, "stdio")) {
            opts = emuOptsParse("stdio", "backend");
        } else if (g_str_has_prefix(arg->value, "unix:")) {
            g_autofree char *conv = g_strdup_printf("socket,path=%s",
                                                    arg->value + strlen("unix:"));

            opts = emuOptsParse(conv, "backend");
        } else {
            return;
        }
        if (!(mon = emuMonitorSpecFromChardev(opts, label, pretty)))
            return;
        arg->replace = g_strdup_printf("chardev:%s", label);
    }
    g_ptr_array_add(cmd->monitors, mon);
}


static void
emuCmdlineMonitors(emuCmdline *cmd)
{
    guint index = 0;
    guint i;

    for (i = 0; i < cmd->args->len; i++) {
        emuArg *arg = g_ptr_array_index(cmd->args, i);

        if (!arg->opt || !arg->value)
            continue;
        if (g_str_equal(arg->opt, "mon")) {
            emuCmdlineMon(cmd, arg);
        } else if (g_str_equal(arg->opt, "qmp") || g_str_equal(arg->opt, "qmp-pretty")) {
            emuCmdlineQmp(cmd, arg, index++, g_str_equal(arg->opt, "qmp-pretty"));
        } else if (g_str_equal(arg->opt, "monitor")) {
            if (!g_str_has_prefix(arg->value, "none"))
                index++;
        }
    }
}


emuCmdline *
emuCmdlineParse(int argc, char **argv)
{
    emuCmdline *cmd = g_new0(emuCmdline, 1);
    guint i;

    cmd->args = g_ptr_array_new_with_free_func(emuArgFree);
    cmd->objectArgs = g_ptr_array_new();
    cmd->chardevs = g_ptr_array_new_with_free_func((GDestroyNotify)emuChardevSpecFree);
    cmd->chardevIds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    cmd->objectTypes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    cmd->monitors = g_ptr_array_new_with_free_func((GDestroyNotify)emuMonitorSpecFree);
    cmd->mode = EMU_RUN_EMULATE;

    emuCmdlineSplit(cmd, argc, argv);
    for (i = 0; i < cmd->args->len; i++) {
        emuArg *arg = g_ptr_array_index(cmd->args, i);

        if (arg->opt)
            emuCmdlineOption(cmd, arg);
    }
    emuCmdlineResolveAccel(cmd);
    if (cmd->mode != EMU_RUN_EMULATE)
        return cmd;

    emuCmdlineTakeChardevs(cmd);
    emuCmdlineMonitors(cmd);
    /* Nothing of its own to do (libvirt's capability probes among others):
     * no object, and no machine or no monitor to add one through. */
    if (cmd->objectArgs->len == 0 && (cmd->machineNone || cmd->monitors->len == 0))
        cmd->mode = EMU_RUN_EXEC;
    return cmd;
}


/* --- preparing the monitors ------------------------------------------ */

static gboolean
emuSocketPair(int *qemuFd, int *proxyFd, GError **error)
{
    int fds[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "socketpair: %s", g_strerror(errno));
        return FALSE;
    }
    *qemuFd = fds[0];
    *proxyFd = fds[1];
    return TRUE;
}


/* QEMU's unix_listen_saddr(): an old socket file is replaced. */
static gboolean
emuListenUnix(emuMonitorSpec *mon, GError **error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(mon->unixPath) >= sizeof(addr.sun_path)) {
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "UNIX socket path '%s' is too long", mon->unixPath);
        return FALSE;
    }
    strcpy(addr.sun_path, mon->unixPath);
    if (unlink(mon->unixPath) < 0 && errno != ENOENT) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "Failed to unlink socket %s: %s", mon->unixPath, g_strerror(errno));
        return FALSE;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    "Failed to bind socket to %s: %s", mon->unixPath, g_strerror(errno));
        if (fd >= 0)
            close(fd);
        return FALSE;
    }
    mon->listenFd = fd;
    return TRUE;
}


/* What QEMU's query-chardev shows for a server socket with a client. */
static char *
emuListenFilename(int fd)
{
    struct sockaddr_un addr;
    socklen_t len = sizeof(addr);

    memset(&addr, 0, sizeof(addr));
    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0 || addr.sun_family != AF_UNIX)
        return g_strdup("unix:,server=on");
    return g_strdup_printf("unix:%s,server=on", addr.sun_path);
}


gboolean
emuCmdlinePrepareMonitors(emuCmdline *cmd, int *privateQemuFd,
                          int *privateProxyFd, GError **error)
{
    guint i;

    for (i = 0; i < cmd->monitors->len; i++) {
        emuMonitorSpec *mon = g_ptr_array_index(cmd->monitors, i);

        if (mon->unixPath && !emuListenUnix(mon, error))
            return FALSE;
        if (mon->stdio)
            mon->filename = g_strdup("stdio");
        else
            mon->filename = emuListenFilename(mon->listenFd);
        if (mon->listenFd >= 0 && fcntl(mon->listenFd, F_SETFD, FD_CLOEXEC) < 0) {
            g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                        "fd %d: %s", mon->listenFd, g_strerror(errno));
            return FALSE;
        }
        if (!emuSocketPair(&mon->qemuFd, &mon->proxyFd, error))
            return FALSE;
    }
    return emuSocketPair(privateQemuFd, privateProxyFd, error);
}


static void
emuArgvAddMonitor(GPtrArray *out, const char *label, int fd, gboolean pretty,
                  gboolean addMon)
{
    g_ptr_array_add(out, g_strdup("-chardev"));
    g_ptr_array_add(out, g_strdup_printf("socket,id=%s,fd=%d", label, fd));
    if (!addMon)
        return;
    g_ptr_array_add(out, g_strdup("-mon"));
    g_ptr_array_add(out, g_strdup_printf("chardev=%s,mode=control%s", label,
                                         pretty ? ",pretty=on" : ""));
}


GStrv
emuCmdlineBuildArgv(emuCmdline *cmd, const char *argv0, int privateQemuFd)
{
    GPtrArray *out = g_ptr_array_new();
    guint i;

    g_ptr_array_add(out, g_strdup(argv0));
    for (i = 0; i < cmd->args->len; i++) {
        emuArg *arg = g_ptr_array_index(cmd->args, i);

        if (arg->drop)
            continue;
        if (arg->written)
            g_ptr_array_add(out, g_strdup(arg->written));
        if (arg->value)
            g_ptr_array_add(out, g_strdup(arg->replace ? arg->replace : arg->value));
    }
    for (i = 0; i < cmd->monitors->len; i++) {
        emuMonitorSpec *mon = g_ptr_array_index(cmd->monitors, i);

        /* their -mon or -qmp stays where it was */
        emuArgvAddMonitor(out, mon->label, mon->qemuFd, mon->pretty, FALSE);
    }
    emuArgvAddMonitor(out, EMU_PRIVATE_MONITOR, privateQemuFd, FALSE, TRUE);
    g_ptr_array_add(out, NULL);
    return (GStrv)g_ptr_array_free(out, FALSE);
}
