/*
 * virt-vmi status [DOMAIN...] [--json] [--watch]
 *
 * The live state comes from virt-vmid where it runs (docs/virt-vmid.rst);
 * without it, from what libvirt and QEMU can be asked directly.
 */
#include <pwd.h>
#include <grp.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "vmi_cli.h"
#include "libvirt/vmi_domain.h"
#include "libvirt/vmi_status.h"
#include "core/vmi_keyfile.h"
#include "core/vmi_paths.h"
#include "core/vmi_vmid.h"
#include "conf/vmi_error.h"

#define ROW "%-17s "


static void
vmiStatusPrintSource(const vmiDef *def)
{
    if (def->source.type == VMI_SOURCE_UNIX)
        g_print(ROW "configured: the tool listens on unix socket %s\n", "Introspection:",
                def->source.path);
    else
        g_print(ROW "configured: the tool listens on vsock CID %u port %u\n", "Introspection:",
                def->source.cid, def->source.port);
}


static void
vmiStatusPrintConnection(const vmiStatus *st)
{
    if (!st->running) {
        g_print(ROW "none (the domain is not running)\n", "Tool connection:");
    } else if (st->chardevError) {
        g_print(ROW "unknown: %s\n", "Tool connection:", st->chardevError);
    } else if (!st->chardev.found) {
        g_print(ROW "QEMU has no introspection chardev: it runs without introspection "
                "(started before it was configured?)\n", "Tool connection:");
    } else if (st->chardev.connected) {
        g_print(ROW "connected (%s)\n", "Tool connection:", st->chardev.filename);
    } else {
        g_print(ROW "not connected (%s); %s\n", "Tool connection:", st->chardev.filename,
                st->listening == VMI_LISTEN_YES ?
                "a tool listens at the socket: it refused the handshake or QEMU waits to reconnect" :
                st->listening == VMI_LISTEN_NO ?
                "nothing listens at the socket: start the introspection tool" :
                "cannot tell whether a tool listens");
    }
}


static void
vmiStatusPrintKey(const vmiStatus *st, const char *keyDir, const char *uuid)
{
    g_autofree char *path = vmiKeyFilePath(keyDir, uuid);

    if (!st->def->keySecret) {
        g_print(ROW "none: the tool is not authenticated (virt-vmi key-create adds a key)\n", "Key:");
        return;
    }
    g_print(ROW "secret %s: %s\n", "Key:", st->def->keySecret,
            st->secretError ? st->secretError : "readable");

    if (st->keyFileError) {
        g_print(ROW "%s\n", "Key file:", st->keyFileError);
    } else if (st->keyFile.exists) {
        struct passwd *pw = getpwuid(st->keyFile.uid);
        struct group *gr = getgrgid(st->keyFile.gid);
        g_print(ROW "%s: present, mode %04o in a %04o directory, owner %s:%s%s\n",
                "Key file:", path, st->keyFile.mode, st->keyFile.dirMode,
                pw ? pw->pw_name : "?", gr ? gr->gr_name : "?",
                st->running ? " (QEMU has read it: the hook removes it once the domain started)" :
                              " (left by a crash: the next start replaces it)");
    } else {
        g_print(ROW "%s: absent%s\n", "Key file:", path,
                st->running ? " (QEMU read it at start and keeps the key in memory)" :
                              " (written at the next start)");
    }
}


/* "@key": @value, or null */
static void
vmiStatusGenString(yajl_gen gen, const char *key, const char *value)
{
    yajl_gen_string(gen, (const unsigned char *)key, strlen(key));
    if (value)
        yajl_gen_string(gen, (const unsigned char *)value, strlen(value));
    else
        yajl_gen_null(gen);
}


/* The detailed view of one domain, asked of libvirt and QEMU directly. */
static void vmiStatusPrintLive(const char *uri, const char *uuid);

static int
vmiStatusPrintDirect(vmiConn *conn, const char *uri, vmiDomain *dom)
{
    g_autoptr(vmiStatus) st = vmiStatusGet(conn, dom);

    g_print(ROW "%s (%s)\n", "Domain:", dom->name, dom->uuid);
    g_print(ROW "%s\n", "State:", st->running ? "running" : "not running");
    if (st->defError)
        g_print(ROW "invalid element: %s\n", "Introspection:", st->defError);
    else if (st->def)
        vmiStatusPrintSource(st->def);
    else
        g_print(ROW "not configured\n", "Introspection:");
    if (st->def)
        g_print(ROW "%s\n", "Required:",
                st->def->required ? "yes: the guest runs only while its tool is hooked" :
                                    "no: the guest runs with or without its tool");
    if (st->unmonitored)
        g_print(ROW "resumed without its tool on purpose at %s (virt-vmi resume --unmonitored)\n",
                "Unmonitored:", st->unmonitored);
    if (st->pausedReason)
        g_print(ROW "by virt-vmid at %s: %s; it resumes the guest once a tool listens again\n",
                "Paused:", st->pausedSince ? st->pausedSince : "?", st->pausedReason);
    if (st->argsError)
        g_print(ROW "%s\n", "QEMU arguments:", st->argsError);
    else if (st->def)
        g_print(ROW "in step with the element\n", "QEMU arguments:");
    if (!st->def)
        return VMI_EXIT_OK;

    vmiStatusPrintConnection(st);
    vmiStatusPrintKey(st, conn->keyDir, dom->uuid);
    vmiStatusPrintLive(uri, dom->uuid);
    return VMI_EXIT_OK;
}


/* --- from the daemon ----------------------------------------------------- */

typedef struct {
    const char *uri;            /* the connection virt-vmi would use */
    char **names;               /* DOMAIN arguments (names or UUIDs), NULL: all */
    gboolean json;
} vmiStatusQuery;


/* @v as it came, into @gen. */
static void
vmiJsonGenValue(yajl_gen gen, yajl_val v)
{
    if (YAJL_IS_OBJECT(v)) {
        yajl_gen_map_open(gen);
        for (size_t i = 0; i < v->u.object.len; i++) {
            yajl_gen_string(gen, (const unsigned char *)v->u.object.keys[i],
                            strlen(v->u.object.keys[i]));
            vmiJsonGenValue(gen, v->u.object.values[i]);
        }
        yajl_gen_map_close(gen);
    } else if (YAJL_IS_ARRAY(v)) {
        yajl_gen_array_open(gen);
        for (size_t i = 0; i < v->u.array.len; i++)
            vmiJsonGenValue(gen, v->u.array.values[i]);
        yajl_gen_array_close(gen);
    } else if (YAJL_IS_STRING(v)) {
        yajl_gen_string(gen, (const unsigned char *)v->u.string, strlen(v->u.string));
    } else if (YAJL_IS_NUMBER(v)) {
        yajl_gen_number(gen, v->u.number.r, strlen(v->u.number.r));
    } else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        yajl_gen_bool(gen, YAJL_IS_TRUE(v));
    } else {
        yajl_gen_null(gen);
    }
}


static const char *
vmiJsonString(yajl_val obj, const char *key)
{
    const char *path[] = { key, NULL };

    return YAJL_GET_STRING(yajl_tree_get(obj, path, yajl_t_string));
}


static gboolean
vmiStatusWanted(const vmiStatusQuery *q, yajl_val dom)
{
    const char *uri = vmiJsonString(dom, "uri");

    if (g_strcmp0(uri, q->uri) != 0)
        return FALSE;
    if (!q->names)
        return TRUE;
    for (char **n = q->names; *n; n++) {
        if (g_strcmp0(*n, vmiJsonString(dom, "name")) == 0 ||
            g_ascii_strcasecmp(*n, vmiJsonString(dom, "uuid") ?: "") == 0)
            return TRUE;
    }
    return FALSE;
}


/* One line of the table: the state, and what goes with it. */
static void
vmiStatusPrintRow(yajl_val dom)
{
    const char *state = vmiJsonString(dom, "state");
    const char *detail = NULL;
    g_autofree char *owned = NULL;

    if (g_strcmp0(state, "unhooking") == 0)
        detail = owned = g_strdup_printf("%s, QEMU waits until %s", vmiJsonString(dom, "trigger"),
                                         vmiJsonString(dom, "deadline"));
    else if (g_strcmp0(state, "unhooked") == 0)
        detail = vmiJsonString(dom, "trigger");
    else if (vmiJsonString(dom, "error"))
        detail = vmiJsonString(dom, "error");
    else if (vmiJsonString(dom, "unmonitored"))
        detail = owned = g_strdup_printf("resumed unmonitored at %s",
                                         vmiJsonString(dom, "unmonitored"));
    else if (vmiJsonString(dom, "paused_by_daemon"))
        detail = owned = g_strdup_printf("paused by virt-vmid: %s",
                                         vmiJsonString(dom, "paused_by_daemon"));
    else
        detail = vmiJsonString(dom, "reason");
    g_print("%-20s %-17s %-25s %s\n", vmiJsonString(dom, "name"), state,
            vmiJsonString(dom, "since") ?: "-", detail ?: "");
}


static void
vmiStatusPrintDomain(const vmiStatusQuery *q, yajl_val dom, const char *line)
{
    if (q->json)
        g_print("%s\n", line);
    else
        vmiStatusPrintRow(dom);
}


/* The daemon's status reply, as asked: the domains of @q, in JSON or a table. */
static gboolean
vmiStatusPrintReply(const vmiStatusQuery *q, yajl_val reply, GError **error)
{
    const char *path[] = { "domains", NULL };
    yajl_val domains = yajl_tree_get(reply, path, yajl_t_array);
    yajl_gen gen;
    const unsigned char *buf;
    size_t len;

    if (!domains) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "unexpected reply from virt-vmid");
        return FALSE;
    }
    if (!q->json)
        g_print("%-20s %-17s %-25s %s\n", "NAME", "STATE", "SINCE", "DETAIL");
    gen = yajl_gen_alloc(NULL);
    yajl_gen_map_open(gen);
    yajl_gen_string(gen, (const unsigned char *)"daemon", 6);
    yajl_gen_bool(gen, 1);
    yajl_gen_string(gen, (const unsigned char *)"domains", 7);
    yajl_gen_array_open(gen);
    for (size_t i = 0; i < YAJL_GET_ARRAY(domains)->len; i++) {
        yajl_val dom = YAJL_GET_ARRAY(domains)->values[i];

        if (!vmiStatusWanted(q, dom))
            continue;
        if (q->json)
            vmiJsonGenValue(gen, dom);
        else
            vmiStatusPrintRow(dom);
    }
    yajl_gen_array_close(gen);
    yajl_gen_map_close(gen);
    yajl_gen_get_buf(gen, &buf, &len);
    if (q->json)
        g_print("%.*s\n", (int)len, (const char *)buf);
    yajl_gen_free(gen);
    return TRUE;
}


static yajl_val
vmiStatusParse(const char *line, GError **error)
{
    char errbuf[256] = "";
    yajl_val v = line ? yajl_tree_parse(line, errbuf, sizeof(errbuf)) : NULL;

    if (!v)
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "unexpected reply from virt-vmid: %s", line ? errbuf : "nothing");
    return v;
}


/* The daemon's parsed answer to @request; @conn and @in stay open. */
static yajl_val
vmiStatusAsk(const char *request, GSocketConnection **conn, GDataInputStream **in,
             GError **error)
{
    g_autofree char *line = vmiVmidRequest(VMI_VMID_SOCKET, request, 0, conn, in, error);

    return line ? vmiStatusParse(line, error) : NULL;
}


/* The daemon's entry for domain @name (name or UUID) of @q's connection. */
static yajl_val
vmiStatusFind(yajl_val reply, const vmiStatusQuery *q, const char *name)
{
    const char *path[] = { "domains", NULL };
    yajl_val domains = yajl_tree_get(reply, path, yajl_t_array);
    vmiStatusQuery one = { q->uri, (char *[]){ (char *)name, NULL }, FALSE };

    for (size_t i = 0; domains && i < YAJL_GET_ARRAY(domains)->len; i++) {
        if (vmiStatusWanted(&one, YAJL_GET_ARRAY(domains)->values[i]))
            return YAJL_GET_ARRAY(domains)->values[i];
    }
    return NULL;
}


/* Whether the daemon watches @uri at all. */
static gboolean
vmiStatusDaemonWatches(yajl_val reply, const char *uri)
{
    const char *path[] = { "connections", NULL };
    yajl_val conns = yajl_tree_get(reply, path, yajl_t_array);

    for (size_t i = 0; conns && i < YAJL_GET_ARRAY(conns)->len; i++) {
        if (g_strcmp0(vmiJsonString(YAJL_GET_ARRAY(conns)->values[i], "uri"), uri) == 0)
            return TRUE;
    }
    return FALSE;
}


/* --watch: each change of a wanted domain as it comes, until the daemon goes. */
static int
vmiStatusWatch(const vmiStatusQuery *q, GSocketConnection *conn, GDataInputStream **in)
{
    g_autoptr(GError) err = NULL;

    for (;;) {
        g_autofree char *line = vmiVmidReadLine(conn, in, &err);
        yajl_val event;
        const char *path[] = { "domain", NULL };
        yajl_val dom;

        if (!line) {
            g_printerr("error: virt-vmid closed the connection%s%s\n",
                       err ? ": " : "", err ? err->message : "");
            return VMI_EXIT_FAILURE;
        }
        if (!(event = vmiStatusParse(line, &err)))
            return vmiCliFail(g_steal_pointer(&err));
        if ((dom = yajl_tree_get(event, path, yajl_t_object)) && vmiStatusWanted(q, dom))
            vmiStatusPrintDomain(q, dom, line);
        yajl_tree_free(event);
    }
}


/* Returns -1 when the daemon cannot answer for @q (then the caller asks
 * directly), else the exit status. */
static int
vmiStatusFromDaemon(const vmiStatusQuery *q, gboolean watch, char **why)
{
    g_autoptr(GSocketConnection) conn = NULL;
    g_autoptr(GDataInputStream) in = NULL;
    g_autoptr(GError) err = NULL;
    yajl_val reply;
    gboolean ok;

    if (!(reply = vmiStatusAsk(watch ? "watch" : "status", &conn, &in, &err))) {
        *why = g_strdup(err->message);
        return -1;
    }
    if (!vmiStatusDaemonWatches(reply, q->uri)) {
        *why = g_strdup_printf("virt-vmid does not watch %s", q->uri);
        yajl_tree_free(reply);
        return -1;
    }
    /* every named domain must be one the daemon knows */
    for (char **n = q->names; n && *n; n++) {
        if (!vmiStatusFind(reply, q, *n)) {
            g_autofree char *quoted = vmiErrorQuote(*n);

            g_printerr("error: domain '%s': virt-vmid knows no persistent domain of that "
                       "name or UUID with a <vmi:introspection> element\n", quoted);
            yajl_tree_free(reply);
            return VMI_EXIT_FAILURE;
        }
    }
    ok = vmiStatusPrintReply(q, reply, &err);
    yajl_tree_free(reply);
    if (!ok)
        return vmiCliFail(g_steal_pointer(&err));
    return watch ? vmiStatusWatch(q, conn, &in) : VMI_EXIT_OK;
}


/* --- without the daemon ------------------------------------------------------ */

/* What libvirt and QMP tell without the daemon: no handshake is seen. */
static const char *
vmiStatusDirectState(const vmiStatus *st)
{
    if (st->defError)
        return "invalid";
    if (!st->running)
        return st->argsError ? "out-of-sync" : "not-running";
    if (st->chardev.found && st->chardev.connected)
        return "connected";
    return "waiting-for-tool";
}


/* @names (all persistent domains if NULL) with the element, their state as
 * libvirt and QMP tell it, in JSON or a table. */
static int
vmiStatusDirect(vmiConn *conn, char **names, gboolean json)
{
    g_auto(GStrv) all = NULL;
    yajl_gen gen = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;
    int rc = VMI_EXIT_OK;
    GError *err = NULL;

    if (!names && !(names = all = vmiConnListPersistentDomains(conn, &err))) {
        yajl_gen_free(gen);
        return vmiCliFail(err);
    }
    if (!json)
        g_print("%-20s %-17s %-25s %s\n", "NAME", "STATE", "SINCE", "DETAIL");
    yajl_gen_map_open(gen);
    yajl_gen_string(gen, (const unsigned char *)"daemon", 6);
    yajl_gen_bool(gen, 0);
    yajl_gen_string(gen, (const unsigned char *)"domains", 7);
    yajl_gen_array_open(gen);
    for (char **n = names; *n; n++) {
        g_autoptr(vmiDomain) dom = vmiDomainLoad(conn, *n, VMI_DOMAIN_LOAD_ANY, &err);
        g_autoptr(vmiStatus) st = NULL;
        const char *fields[][2] = { { "name", NULL }, { "uuid", NULL }, { "state", NULL } };

        if (!dom) {
            /* named: an error; listed: undefined meanwhile */
            if (!all)
                rc = vmiCliFail(err);
            else
                g_clear_error(&err);
            err = NULL;
            continue;
        }
        st = vmiStatusGet(conn, dom);
        if (!st->def && !st->defError)
            continue;
        fields[0][1] = dom->name;
        fields[1][1] = dom->uuid;
        fields[2][1] = vmiStatusDirectState(st);
        if (!json)
            g_print("%-20s %-17s %-25s %s\n", dom->name, fields[2][1], "-",
                    st->defError ? st->defError : st->argsError ? st->argsError : "");
        yajl_gen_map_open(gen);
        for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
            yajl_gen_string(gen, (const unsigned char *)fields[i][0], strlen(fields[i][0]));
            yajl_gen_string(gen, (const unsigned char *)fields[i][1], strlen(fields[i][1]));
        }
        yajl_gen_string(gen, (const unsigned char *)"required", strlen("required"));
        yajl_gen_bool(gen, st->def && st->def->required);
        vmiStatusGenString(gen, "unmonitored", st->unmonitored);
        vmiStatusGenString(gen, "paused_by_daemon", st->pausedReason);
        vmiStatusGenString(gen, "paused_since", st->pausedSince);
        yajl_gen_map_close(gen);
    }
    yajl_gen_array_close(gen);
    yajl_gen_map_close(gen);
    yajl_gen_get_buf(gen, &buf, &len);
    if (json && rc == VMI_EXIT_OK)
        g_print("%.*s\n", (int)len, (const char *)buf);
    yajl_gen_free(gen);
    return rc;
}


/* The daemon's word on one domain, for the detailed view. */
static void
vmiStatusPrintLive(const char *uri, const char *uuid)
{
    g_autoptr(GSocketConnection) conn = NULL;
    g_autoptr(GDataInputStream) in = NULL;
    g_autoptr(GError) err = NULL;
    vmiStatusQuery q = { uri, NULL, FALSE };
    yajl_val reply = vmiStatusAsk("status", &conn, &in, &err);
    yajl_val dom;

    if (!reply)
        g_print(ROW "unknown: %s\n", "Live state:", err->message);
    else if ((dom = vmiStatusFind(reply, &q, uuid)))
        g_print(ROW "%s since %s (virt-vmid)\n", "Live state:",
                vmiJsonString(dom, "state"), vmiJsonString(dom, "since") ?: "-");
    else
        g_print(ROW "unknown: %s\n", "Live state:",
                vmiStatusDaemonWatches(reply, uri) ? "virt-vmid does not know the domain"
                                                   : "virt-vmid does not watch this connection");
    yajl_tree_free(reply);
}


static int
vmiCmdStatusRun(const vmiCliGlobal *global, int argc, char **argv)
{
    gboolean json = FALSE;
    gboolean watch = FALSE;
    const GOptionEntry entries[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &json,
          "One JSON object: {\"daemon\": true|false, \"domains\": [...]}", NULL },
        { "watch", 0, 0, G_OPTION_ARG_NONE, &watch,
          "Then print each change as it happens (needs virt-vmid)", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdStatus, entries);
    vmiStatusQuery q = { 0 };
    g_autofree char *why = NULL;
    g_autoptr(vmiConn) conn = NULL;
    GError *err = NULL;
    int rc;

    if (!vmiCliParseOptions(ctx, &argc, &argv, &rc))
        return rc;
    q.uri = global->uri ? global->uri : VMI_DEFAULT_URI;
    q.names = argc > 1 ? argv + 1 : NULL;
    /* the detailed view of one domain is libvirt's and QEMU's own answer */
    q.json = json || watch || argc != 2;
    if (q.json || watch) {
        vmiStatusQuery daemonQuery = q;

        daemonQuery.json = json;
        if ((rc = vmiStatusFromDaemon(&daemonQuery, watch, &why)) >= 0)
            return rc;
        if (watch) {
            g_printerr("error: --watch needs virt-vmid: %s\n", why);
            return VMI_EXIT_FAILURE;
        }
        if (!json)
            g_print("virt-vmid: not asked (%s): the states are what libvirt and QEMU tell "
                    "directly\n", why);
    }
    if (!(conn = vmiConnOpen(global->uri, &err)))
        return vmiCliFail(err);
    if (json || argc != 2)
        return vmiStatusDirect(conn, q.names, json);
    {
        g_autoptr(vmiDomain) dom = vmiDomainLoad(conn, argv[1], VMI_DOMAIN_LOAD_ANY, &err);

        if (!dom)
            return vmiCliFail(err);
        return vmiStatusPrintDirect(conn, q.uri, dom);
    }
}


const vmiCliCommand vmiCmdStatus = {
    "status", "[DOMAIN...] [--json] [--watch]",
    "Show the introspection state of domains",
    "Show whether DOMAIN has introspection configured, whether its QEMU\n"
    "arguments are in step with the element, whether QEMU's introspection\n"
    "chardev is connected to the tool (asked through QMP query-chardev) and,\n"
    "when not, whether anything listens at the configured socket, and the\n"
    "state of the key secret and of the per-run key file.",
    vmiCmdStatusRun,
    VMI_DOMAIN_LOAD_ANY,
};
