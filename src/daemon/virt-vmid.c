/*
 * virt-vmid: the resident libvirt-vmi daemon (docs/virt-vmid.rst)
 *
 * Keeps the QEMU arguments of every domain in step with its
 * <vmi:introspection> element whoever edits it (virsh edit, virsh
 * metadata, an API client), and answers status requests on a root-only
 * socket. One per host: a second one refuses, naming the first.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmi_config.h"
#include "core/vmi_paths.h"
#include "core/vmi_settings.h"
#include "core/vmi_vmid.h"
#include "daemon/vmid_conn.h"
#include "daemon/vmid_watcher.h"
#include "libvirt/vmi_libvirt.h"

#define VMID_RUN_DIR VMI_KEY_DIR_DEFAULT
#define VMID_PID_FILE VMI_VMID_PID_FILE
#define VMID_SOCKET VMI_VMID_SOCKET
#define VMID_REQUEST_TIMEOUT_SECONDS 5

/* Exit codes, documented in docs/virt-vmid.rst. */
enum {
    VMID_EXIT_OK = 0,
    VMID_EXIT_FAILURE = 1,
    VMID_EXIT_USAGE = 2,
    VMID_EXIT_RUNNING = 3,      /* another virt-vmid runs */
};

typedef struct {
    GMainLoop *loop;
    GPtrArray *conns;           /* vmidConn * */
    GSocketService *service;
    vmidWatchers *watchers;     /* the clients of `watch` */
    GCancellable *cancel;       /* the watchers' and replies' I/O, at exit */
    guint replies;              /* status replies being written */
    GPtrArray *requests;        /* vmidRequest *, requests being read */
} vmidDaemon;


/* Holds a write lock on the pid file for the life of the process, as
 * libvirt's daemons do; returns -1 (after saying why) when it cannot. */
static int
vmidAcquirePidFile(const char *path, int *exitCode)
{
    struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    g_autofree char *pid = NULL;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

    *exitCode = VMID_EXIT_FAILURE;
    if (fd < 0) {
        g_printerr("virt-vmid: cannot open %s: %s\n", path, g_strerror(errno));
        return -1;
    }
    if (fcntl(fd, F_SETLK, &lock) < 0) {
        char buf[32] = "";
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

        buf[MAX(n, 0)] = '\0';
        g_printerr("virt-vmid: another virt-vmid is running (pid %s, %s)\n",
                   *g_strstrip(buf) ? buf : "unknown", path);
        *exitCode = VMID_EXIT_RUNNING;
        close(fd);
        return -1;
    }
    pid = g_strdup_printf("%d\n", getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) != (ssize_t)strlen(pid)) {
        g_printerr("virt-vmid: cannot write %s: %s\n", path, g_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}


/* @gen's document as one line, newline included; frees @gen. */
static char *
vmidGenLine(yajl_gen gen)
{
    const unsigned char *buf;
    size_t len;
    char *out;

    yajl_gen_get_buf(gen, &buf, &len);
    out = g_strdup_printf("%.*s\n", (int)len, (const char *)buf);
    yajl_gen_free(gen);
    return out;
}


static char *
vmidStatusJSON(vmidDaemon *d)
{
    yajl_gen gen = yajl_gen_alloc(NULL);

    yajl_gen_map_open(gen);
    yajl_gen_string(gen, (const unsigned char *)"daemon", 6);
    yajl_gen_bool(gen, 1);
    yajl_gen_string(gen, (const unsigned char *)"pid", 3);
    yajl_gen_integer(gen, getpid());
    yajl_gen_string(gen, (const unsigned char *)"connections", 11);
    yajl_gen_array_open(gen);
    for (guint i = 0; i < d->conns->len; i++)
        vmidConnDescribeSelf(g_ptr_array_index(d->conns, i), gen);
    yajl_gen_array_close(gen);
    yajl_gen_string(gen, (const unsigned char *)"domains", 7);
    yajl_gen_array_open(gen);
    for (guint i = 0; i < d->conns->len; i++)
        vmidConnDescribe(g_ptr_array_index(d->conns, i), gen);
    yajl_gen_array_close(gen);
    yajl_gen_map_close(gen);
    return vmidGenLine(gen);
}


static gboolean
vmidSend(GSocketConnection *client, const char *line)
{
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(client));

    return g_output_stream_write_all(out, line, strlen(line), NULL, NULL, NULL);
}


/* A domain changed: one line to each watcher, {"event": "domain", "domain": {...}}. */
static void
vmidOnDomainChanged(vmidConn *vc, const char *uuid, gpointer opaque)
{
    vmidDaemon *d = opaque;
    yajl_gen gen;
    g_autofree char *line = NULL;

    if (!vmidWatchersAny(d->watchers))
        return;
    gen = yajl_gen_alloc(NULL);
    yajl_gen_map_open(gen);
    yajl_gen_string(gen, (const unsigned char *)"event", 5);
    yajl_gen_string(gen, (const unsigned char *)"domain", 6);
    yajl_gen_string(gen, (const unsigned char *)"domain", 6);
    if (!vmidConnDescribeDomain(vc, uuid, gen)) {
        yajl_gen_free(gen);
        return;
    }
    yajl_gen_map_close(gen);
    line = vmidGenLine(gen);
    vmidWatchersSend(d->watchers, line);
}


typedef struct {
    vmidDaemon *d;
    GSocketConnection *client;
    char *reply;
} vmidReply;


static void
vmidOnReplyWritten(GObject *source, GAsyncResult *res, gpointer opaque)
{
    vmidReply *r = opaque;

    g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, NULL);
    r->d->replies--;
    g_object_unref(r->client);
    g_free(r->reply);
    g_free(r);
}


/* A status reply, written without waiting for the client; @reply: taken. */
static void
vmidReplyAsync(vmidDaemon *d, GSocketConnection *client, char *reply)
{
    vmidReply *r = g_new0(vmidReply, 1);

    r->d = d;
    r->client = g_object_ref(client);
    r->reply = reply;
    d->replies++;
    g_output_stream_write_all_async(g_io_stream_get_output_stream(G_IO_STREAM(client)),
                                    reply, strlen(reply), G_PRIORITY_DEFAULT, d->cancel,
                                    vmidOnReplyWritten, r);
}


static vmidConn *
vmidFindConn(vmidDaemon *d, const char *uri)
{
    for (guint i = 0; i < d->conns->len; i++) {
        if (g_str_equal(vmidConnGetURI(g_ptr_array_index(d->conns, i)), uri))
            return g_ptr_array_index(d->conns, i);
    }
    return NULL;
}


/*
 * "key SECRET-UUID URI": the hook's request for a domain's key, which spares
 * it loading libvirt. The answer is "key BASE64" or "error MESSAGE"; the
 * socket is root's only, as is the hook.
 */
static char *
vmidKeyReply(vmidDaemon *d, const char *request)
{
    g_auto(GStrv) words = g_strsplit(request, " ", -1);
    g_autoptr(GError) err = NULL;
    g_autoptr(vmiKey) key = NULL;
    vmidConn *vc;
    g_autofree char *b64 = NULL;
    char *reply;

    if (g_strv_length(words) != 3 || !g_uuid_string_is_valid(words[1]))
        return g_strdup("error expected: key SECRET-UUID URI\n");
    if (!(vc = vmidFindConn(d, words[2])))
        return g_strdup_printf("error virt-vmid does not watch %s\n", words[2]);
    if (!(key = vmidConnGetKey(vc, words[1], &err)))
        return g_strdup_printf("error %s\n", err->message);
    b64 = g_base64_encode(key->data, key->len);
    reply = g_strdup_printf("key %s\n", b64);
    explicit_bzero(b64, strlen(b64));
    g_debug("handed the value of secret %s to the hook", words[1]);
    return reply;
}


/*
 * "attach-at-start DOMAIN-UUID URI": the hook lets a domain whose definition
 * has the element but none of our arguments yet start as it is (a
 * management layer defined and started it at once); the daemon attaches it
 * live at its start. "ok", or "error MESSAGE" and the hook refuses.
 */
static char *
vmidAttachReply(vmidDaemon *d, const char *request)
{
    g_auto(GStrv) words = g_strsplit(request, " ", -1);
    g_autoptr(GError) err = NULL;
    vmidConn *vc;

    if (g_strv_length(words) != 3 || !g_uuid_string_is_valid(words[1]))
        return g_strdup("error expected: " VMI_VMID_ATTACH_AT_START " DOMAIN-UUID URI\n");
    if (!(vc = vmidFindConn(d, words[2])))
        return g_strdup_printf("error virt-vmid does not watch %s\n", words[2]);
    if (!vmidConnExpectAttach(vc, words[1], &err))
        return g_strdup_printf("error %s\n", err->message);
    return g_strdup("ok\n");
}


typedef struct {
    vmidDaemon *d;
    GSocketConnection *client;
    GDataInputStream *in;
    GCancellable *cancel;
    guint deadline;
} vmidRequest;


static void
vmidRequestFree(vmidRequest *req)
{
    g_ptr_array_remove(req->d->requests, req);
    if (req->deadline)
        g_source_remove(req->deadline);
    g_object_unref(req->in);
    g_object_unref(req->cancel);
    g_object_unref(req->client);
    g_free(req);
}


/* A client that connects and says nothing is given up on: it must not hold
 * anything, the main loop least of all. */
static gboolean
vmidRequestExpired(gpointer opaque)
{
    vmidRequest *req = opaque;

    req->deadline = 0;
    g_cancellable_cancel(req->cancel);
    return G_SOURCE_REMOVE;
}


static void
vmidAnswer(vmidDaemon *d, GSocketConnection *client, char *line)
{
    g_autofree char *reply = NULL;

    if (!line)      /* the client hung up */
        return;
    /* bounds the (synchronous) writes of the answer */
    g_socket_set_timeout(g_socket_connection_get_socket(client), VMID_REQUEST_TIMEOUT_SECONDS);
    if (g_str_has_prefix(g_strstrip(line), "key ")) {
        reply = vmidKeyReply(d, line);
        vmidSend(client, reply);
        explicit_bzero(reply, strlen(reply));
        return;
    }
    if (g_str_has_prefix(line, VMI_VMID_ATTACH_AT_START " ")) {
        reply = vmidAttachReply(d, line);
        vmidSend(client, reply);
        return;
    }
    g_socket_set_timeout(g_socket_connection_get_socket(client), 0);
    if (g_str_equal(line, "watch")) {
        /* the status, then a line per change until the client hangs up */
        reply = vmidStatusJSON(d);
        vmidWatchersAdd(d->watchers, client, reply);
    } else if (g_str_equal(line, "status")) {
        vmidReplyAsync(d, client, vmidStatusJSON(d));
    } else {
        vmidReplyAsync(d, client,
                       g_strdup("{\"error\":\"unknown request (expected: status or watch)\"}\n"));
    }
}


static void
vmidOnRequestLine(GObject *source, GAsyncResult *res, gpointer opaque)
{
    vmidRequest *req = opaque;
    g_autofree char *line = g_data_input_stream_read_line_finish_utf8(G_DATA_INPUT_STREAM(source),
                                                                      res, NULL, NULL);

    if (!g_cancellable_is_cancelled(req->cancel))
        vmidAnswer(req->d, req->client, line);
    vmidRequestFree(req);
}


/* One request a connection, a line: "status" or "watch" (the answer one
 * JSON line; then, for watch, one per change), or "key ..." and
 * "attach-at-start ..." (the hook's).
 * Read without blocking the main loop. */
static gboolean
vmidOnClient(GSocketService *service, GSocketConnection *client, GObject *source,
             gpointer opaque)
{
    vmidDaemon *d = opaque;
    GSocket *sock = g_socket_connection_get_socket(client);
    g_autoptr(GCredentials) creds = g_socket_get_credentials(sock, NULL);
    vmidRequest *req;

    /* the socket is 0600 already; the peer's uid is checked all the same */
    if (!creds || g_credentials_get_unix_user(creds, NULL) != 0) {
        g_warning("refused a client that is not root");
        return TRUE;
    }
    req = g_new0(vmidRequest, 1);
    req->d = d;
    req->client = g_object_ref(client);
    req->cancel = g_cancellable_new();
    req->in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(client)));
    /* a watcher's connection outlives this reader */
    g_filter_input_stream_set_close_base_stream(G_FILTER_INPUT_STREAM(req->in), FALSE);
    req->deadline = g_timeout_add_seconds(VMID_REQUEST_TIMEOUT_SECONDS, vmidRequestExpired, req);
    g_ptr_array_add(d->requests, req);
    g_data_input_stream_read_line_async(req->in, G_PRIORITY_DEFAULT, req->cancel,
                                        vmidOnRequestLine, req);
    return TRUE;
}


static gboolean
vmidListen(vmidDaemon *d, GError **error)
{
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(VMID_SOCKET);
    mode_t old;
    gboolean ok;

    /* the pid file's lock is ours: a socket left here is a dead daemon's */
    unlink(VMID_SOCKET);
    d->service = g_socket_service_new();
    old = umask(0177);
    ok = g_socket_listener_add_address(G_SOCKET_LISTENER(d->service), addr,
                                       G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                                       NULL, NULL, error);
    umask(old);
    if (!ok || chmod(VMID_SOCKET, 0600) < 0) {
        if (ok)
            g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                        "cannot set the mode of %s: %s", VMID_SOCKET, g_strerror(errno));
        return FALSE;
    }
    g_signal_connect(d->service, "incoming", G_CALLBACK(vmidOnClient), d);
    g_socket_service_start(d->service);
    return TRUE;
}


static gboolean
vmidDaemonBusy(vmidDaemon *d)
{
    for (guint i = 0; i < d->conns->len; i++) {
        if (vmidConnBusy(g_ptr_array_index(d->conns, i)))
            return TRUE;
    }
    return FALSE;
}


static gboolean
vmidOnSignal(gpointer opaque)
{
    vmidDaemon *d = opaque;

    g_message("stopping");
    g_main_loop_quit(d->loop);
    return G_SOURCE_CONTINUE;
}


static char *
vmidDefaultURI(void)
{
    g_autoptr(vmiSettings) settings = NULL;
    g_autoptr(GError) err = NULL;

    if (!(settings = vmiSettingsLoad(VMI_SETTINGS_FILE, &err))) {
        g_printerr("virt-vmid: %s\n", err->message);
        return NULL;
    }
    return g_strdup(settings->hookURI);
}


static gboolean
vmidCheckURIs(char **uris)
{
    for (; *uris; uris++) {
        if (g_str_has_prefix(*uris, "qemu:///embed")) {
            g_printerr("virt-vmid: -c %s: an embedded root belongs to the one process that "
                       "opens it; use virt-vmi there instead of the daemon\n", *uris);
            return FALSE;
        }
    }
    return TRUE;
}


int
main(int argc, char **argv)
{
    g_auto(GStrv) uris = NULL;
    gboolean foreground = FALSE;
    gboolean verbose = FALSE;
    gboolean version = FALSE;
    const GOptionEntry entries[] = {
        { "connect", 'c', 0, G_OPTION_ARG_STRING_ARRAY, &uris,
          "libvirt URI to watch (repeatable; default: the URI of "
          VMI_SETTINGS_FILE ", qemu:///system)", "URI" },
        { "foreground", 'f', 0, G_OPTION_ARG_NONE, &foreground,
          "Stay in the foreground, logging to standard error", NULL },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log each sync and event", NULL },
        { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- the libvirt-vmi daemon");
    g_autoptr(GError) err = NULL;
    vmidDaemon d = { 0 };
    int pidFd, exitCode;

    g_option_context_set_summary(ctx,
        "Keeps every domain's QEMU arguments in step with its <vmi:introspection>\n"
        "element, whoever edits it, and reports the domains' state on\n" VMID_SOCKET ".");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        g_printerr("virt-vmid: %s (see virt-vmid --help)\n", err->message);
        return VMID_EXIT_USAGE;
    }
    if (version) {
        g_print("virt-vmid %s\n", VMI_VERSION);
        return VMID_EXIT_OK;
    }
    if (argc > 1) {
        g_printerr("virt-vmid: unexpected argument '%s' (see virt-vmid --help)\n", argv[1]);
        return VMID_EXIT_USAGE;
    }
    if (!uris) {
        uris = g_new0(char *, 2);
        if (!(uris[0] = vmidDefaultURI()))
            return VMID_EXIT_FAILURE;
    }
    if (!vmidCheckURIs(uris))
        return VMID_EXIT_USAGE;
    if (verbose)
        g_setenv("G_MESSAGES_DEBUG", G_LOG_DOMAIN, FALSE);

    if (g_mkdir_with_parents(VMID_RUN_DIR, 0711) < 0) {
        g_printerr("virt-vmid: cannot create %s: %s\n", VMID_RUN_DIR, g_strerror(errno));
        return VMID_EXIT_FAILURE;
    }
    if (!foreground && daemon(0, 0) < 0) {
        g_printerr("virt-vmid: cannot daemonize: %s\n", g_strerror(errno));
        return VMID_EXIT_FAILURE;
    }
    if ((pidFd = vmidAcquirePidFile(VMID_PID_FILE, &exitCode)) < 0)
        return exitCode;
    /* it hands keys to the hook: no core dump, no ptrace */
    prctl(PR_SET_DUMPABLE, 0);

    vmiLibvirtUseMainLoop();
    d.loop = g_main_loop_new(NULL, FALSE);
    d.requests = g_ptr_array_new();
    if (!vmidListen(&d, &err)) {
        g_printerr("virt-vmid: cannot listen on %s: %s\n", VMID_SOCKET, err->message);
        return VMID_EXIT_FAILURE;
    }
    d.cancel = g_cancellable_new();
    d.watchers = vmidWatchersNew(d.cancel);
    d.conns = g_ptr_array_new_with_free_func((GDestroyNotify)vmidConnFree);
    for (guint i = 0; uris[i]; i++) {
        vmidConn *vc = vmidConnNew(uris[i]);

        vmidConnSetChangeFunc(vc, vmidOnDomainChanged, &d);
        g_ptr_array_add(d.conns, vc);
    }
    g_unix_signal_add(SIGTERM, vmidOnSignal, &d);
    g_unix_signal_add(SIGINT, vmidOnSignal, &d);
    g_message("running (pid %d)", getpid());
    g_main_loop_run(d.loop);

    /* the watchers' and replies' I/O ends, each freeing what it holds */
    g_cancellable_cancel(d.cancel);
    for (guint i = 0; i < d.requests->len; i++)
        g_cancellable_cancel(((vmidRequest *)g_ptr_array_index(d.requests, i))->cancel);
    while (vmidWatchersBusy(d.watchers) || d.replies || d.requests->len || vmidDaemonBusy(&d))
        g_main_context_iteration(NULL, TRUE);
    g_ptr_array_unref(d.requests);
    g_object_unref(d.cancel);
    g_socket_service_stop(d.service);
    g_socket_listener_close(G_SOCKET_LISTENER(d.service));
    g_object_unref(d.service);
    unlink(VMID_SOCKET);
    g_ptr_array_unref(d.conns);
    vmidWatchersFree(d.watchers);
    g_main_loop_unref(d.loop);
    unlink(VMID_PID_FILE);
    close(pidFd);
    return VMID_EXIT_OK;
}
