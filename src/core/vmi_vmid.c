/*
 * vmi_vmid.c: a client of virt-vmid's socket
 */
#include <gio/gunixsocketaddress.h>
#include <string.h>

#include "core/vmi_vmid.h"
#include "conf/vmi_error.h"

/* "key " and the base64 of the largest key, with its newline */
#define VMI_VMID_KEY_REPLY_MAX (4 + (VMI_KEY_MAX_BYTES + 2) / 3 * 4 + 1)


GSocketConnection *
vmiVmidConnect(const char *path, GError **error)
{
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketAddress) addr = g_unix_socket_address_new(path);
    g_autoptr(GError) err = NULL;
    GSocketConnection *conn;

    if ((conn = g_socket_client_connect(client, G_SOCKET_CONNECTABLE(addr), NULL, &err)))
        return conn;
    /* no socket, or a dead daemon's */
    if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
        g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
        g_set_error(error, VMI_ERROR, VMI_ERROR_NOT_FOUND, "virt-vmid is not running (%s)",
                    path);
    else
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "cannot reach virt-vmid at %s: %s",
                    path, err->message);
    return NULL;
}


gboolean
vmiVmidSend(GSocketConnection *conn, const char *request, GError **error)
{
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
    g_autofree char *line = g_strdup_printf("%s\n", request);

    return g_output_stream_write_all(out, line, strlen(line), NULL, NULL, error);
}


char *
vmiVmidReadLine(GSocketConnection *conn, GDataInputStream **in, GError **error)
{
    if (!*in)
        *in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
    return g_data_input_stream_read_line_utf8(*in, NULL, NULL, error);
}


char *
vmiVmidRequest(const char *path, const char *request, guint timeout,
               GSocketConnection **conn, GDataInputStream **in, GError **error)
{
    char *line;

    if (!(*conn = vmiVmidConnect(path, error)))
        return NULL;
    g_socket_set_timeout(g_socket_connection_get_socket(*conn), timeout);
    if (!vmiVmidSend(*conn, request, error))
        return NULL;
    if (!(line = vmiVmidReadLine(*conn, in, error)) && error && !*error)
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION,
                    "virt-vmid closed the connection without an answer");
    return line;
}


/*
 * The hook's request for the value of libvirt secret @secretUUID on @uri
 * (docs/virt-vmid.rst). The answer is read whole, unbuffered (the daemon
 * closes after it), into one buffer wiped here: no stream buffer keeps a
 * copy of the key's base64. NULL, with @error set, when the daemon cannot
 * give it.
 */
vmiKey *
vmiVmidFetchKey(const char *path, const char *uri, const char *secretUUID, guint timeout,
                GError **error)
{
    g_autoptr(GSocketConnection) conn = NULL;
    g_autofree char *request = g_strdup_printf("key %s %s", secretUUID, uri);
    g_autoptr(vmiKey) key = NULL;
    char *buf = NULL;
    gsize len = 0;
    gboolean ok;

    if (!(conn = vmiVmidConnect(path, error)))
        return NULL;
    g_socket_set_timeout(g_socket_connection_get_socket(conn), timeout);
    if (!vmiVmidSend(conn, request, error))
        return NULL;
    buf = g_malloc0(VMI_VMID_KEY_REPLY_MAX + 1);
    ok = g_input_stream_read_all(g_io_stream_get_input_stream(G_IO_STREAM(conn)), buf,
                                 VMI_VMID_KEY_REPLY_MAX, &len, NULL, error);
    if (ok && g_str_has_prefix(buf, "key ") && len > 5 && buf[len - 1] == '\n') {
        buf[len - 1] = '\0';
        key = g_new0(vmiKey, 1);
        key->data = g_base64_decode(buf + strlen("key "), &key->len);
    } else if (ok) {
        buf[strcspn(buf, "\n")] = '\0';
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "virt-vmid: %s",
                    g_str_has_prefix(buf, "error ") ? buf + strlen("error ") :
                    "an answer that is not a key");
    }
    explicit_bzero(buf, VMI_VMID_KEY_REPLY_MAX);
    g_free(buf);
    if (key && !key->len) {
        g_set_error(error, VMI_ERROR, VMI_ERROR_OPERATION, "virt-vmid: an empty key");
        return NULL;
    }
    return g_steal_pointer(&key);
}
