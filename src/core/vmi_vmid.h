/*
 * vmi_vmid.h: a client of virt-vmid's socket (docs/virt-vmid.rst)
 */
#pragma once

#include <gio/gio.h>

#include "core/vmi_key.h"

/* The hook's request "attach-at-start DOMAIN-UUID URI": the domain starts
 * without our arguments, virt-vmid attaches it live once it runs; the
 * answer is "ok" or "error MESSAGE" (docs/virt-vmid.rst). */
#define VMI_VMID_ATTACH_AT_START "attach-at-start"

/* NULL, with VMI_ERROR_NOT_FOUND, when no daemon answers at @path. */
GSocketConnection *vmiVmidConnect(const char *path, GError **error);

/* Sends the request line @request ("status", "watch"). */
gboolean vmiVmidSend(GSocketConnection *conn, const char *request, GError **error);

/* The daemon's next line, without its newline; NULL at its end (@error
 * unset) or on an error. */
char *vmiVmidReadLine(GSocketConnection *conn, GDataInputStream **in, GError **error);

/* Connects to the daemon at @path, sends @request and returns its first
 * line; @conn and @in stay open for what follows (a watch). @timeout: in
 * seconds for each read and write, 0 for none. */
char *vmiVmidRequest(const char *path, const char *request, guint timeout,
                     GSocketConnection **conn, GDataInputStream **in, GError **error);

/* The value of libvirt secret @secretUUID on @uri, from the daemon. */
vmiKey *vmiVmidFetchKey(const char *path, const char *uri, const char *secretUUID,
                        guint timeout, GError **error);
