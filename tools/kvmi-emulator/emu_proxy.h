/*
 * emu_proxy.h: the QMP proxy in front of QEMU's monitors
 *
 * Each proxied monitor has its client side (libvirt's inherited listening
 * socket, a -qmp unix socket the emulator made, or stdio) and its QEMU
 * side (a session on one end of a socket pair, negotiated once). A client
 * gets QEMU's greeting and negotiates with the proxy, as it would with
 * QEMU. Its commands run one at a time, in order, as on QEMU's monitor:
 * a command the emulator holds back (stop) holds those behind it.
 * Everything not intercepted passes through byte for byte, file
 * descriptors (SCM_RIGHTS) included; events go to every negotiated client.
 */
#pragma once

#include <glib.h>
#include <yajl/yajl_tree.h>

#include "emu_cmdline.h"
#include "emu_json.h"
#include "emu_session.h"

typedef struct _emuMonitor emuMonitor;
typedef struct _emuClient emuClient;
typedef struct _emuRequest emuRequest;

/* A reply from QEMU to a forwarded request: return a new message to send
 * instead, or NULL to send QEMU's as is. */
typedef GString *(*emuReplyFilter)(emuRequest *req, const char *msg, gsize len);

struct _emuRequest {
    emuMonitor *mon;
    emuClient *client;          /* NULL: internal, or the client has gone */
    char *raw;
    gsize len;
    GArray *fds;
    yajl_val tree;
    const char *execute;        /* "execute" (or "exec-oob") */
    yajl_val id;
    yajl_val args;
    gboolean pretty;
    const char *refusal;        /* answered with this error, not run */
    gpointer data;              /* the interception's own */
    GDestroyNotify dataFree;
    emuReplyFilter filter;
    emuSessionReplyFunc internalDone;   /* internal requests */
    gpointer internalOpaque;
};

struct _emuMonitor {
    emuMonitorSpec *spec;
    emuSession *session;
    emuClient *client;
    GQueue queue;               /* emuRequest *, waiting */
    emuRequest *active;         /* running: forwarded, held or being decided */
    gboolean pumping;
    guint acceptWatch;
    gboolean dropMigrationSetup;
};

/* Starts a monitor from its spec (the proxy end is taken over). */
emuMonitor *emuMonitorNew(emuMonitorSpec *spec);
void emuMonitorFree(emuMonitor *mon);
/* Writes what clients still have queued (at exit). */
void emuMonitorFlush(emuMonitor *mon);
gboolean emuMonitorHasClient(emuMonitor *mon);
GPtrArray *emuProxyMonitors(void);
void emuProxyCleanup(void);
/* The machine is ready: clients get their greeting, commands run. */
void emuProxyMachineReady(void);

/* Completing a request (exactly one of these, once). */
void emuProxyForward(emuRequest *req, emuReplyFilter filter);
void emuProxyReply(emuRequest *req, GString *msg);
void emuProxyReplyEmpty(emuRequest *req);
void emuProxyReplyError(emuRequest *req, const char *desc);

/* A command of the emulator's own, run on @mon in turn with the clients'. */
void emuProxyInject(emuMonitor *mon, const char *msg, emuSessionReplyFunc done,
                    gpointer opaque);
/* An event to every negotiated client. */
void emuProxyBroadcastEvent(const char *name, emuJsonFillFunc fill, gpointer opaque);
