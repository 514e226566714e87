/*
 * vmi_tool.h: what the parts of vmi-tool share
 *
 * vmi-tool is the reference KVMI introspection tool: it listens, QEMU's
 * introspection object connects, and per connection the tool reads the
 * handshake, authenticates itself, and talks KVMI v8 with the kernel
 * (docs/kvmi.rst). Every connection is an independent state machine on
 * one GLib main loop; every happening is one JSON line on stdout.
 */
#pragma once

#include <gio/gio.h>

#include "vmi_tool_wire.h"

/* Exit codes, documented in docs/vmi-tool.rst. */
typedef enum {
    VMI_TOOL_EXIT_OK = 0,
    VMI_TOOL_EXIT_FAILURE = 1,  /* could not set up or run */
    VMI_TOOL_EXIT_USAGE = 2,    /* bad command line */
} vmiToolExitCode;

typedef enum {
    VMI_TOOL_LISTEN_UNIX,
    VMI_TOOL_LISTEN_VSOCK,
} vmiToolListenType;

typedef struct {
    vmiToolListenType type;
    char *path;                 /* unix */
    guint32 port;               /* vsock */
    char *text;                 /* "unix:PATH" or "vsock:PORT", for output */
} vmiToolListenAddr;

/* A --try-command or --try-event id. */
typedef struct {
    guint16 id;
    const char *name;           /* the v8 name, NULL for ids v8 does not name */
} vmiToolTry;

#define VMI_TOOL_DELAY_NEVER (-1)

typedef struct {
    GPtrArray *listen;          /* vmiToolListenAddr */
    gint socketMode;            /* -1: as the umask leaves it */
    gint64 socketGroup;         /* -1: the tool's own group */
    char *keyFile;
    char *keyHashFile;          /* holds the cookie in hex: never on argv */
    guint8 cookie[KVMI_WIRE_COOKIE_LEN];  /* all zero without a key */
    gint64 unhookDelayMs;       /* or VMI_TOOL_DELAY_NEVER */
    gboolean unhookEvent;       /* enable KVMI_EVENT_UNHOOK */
    GArray *tryCommands;        /* vmiToolTry */
    GArray *tryEvents;          /* vmiToolTry */
    guint exitAfter;            /* 0: until a signal */
    guint timeoutSec;           /* 0: wait forever */
} vmiToolConfig;

typedef struct _vmiToolServer vmiToolServer;
typedef struct _vmiToolListener vmiToolListener;
typedef struct _vmiToolConn vmiToolConn;

struct _vmiToolServer {
    const vmiToolConfig *cfg;
    GMainLoop *loop;
    GPtrArray *listeners;       /* vmiToolListener */
    GHashTable *conns;          /* the live connections (a set) */
    GPtrArray *dead;            /* closed, freed once their callbacks are done */
    guint reapId;
    guint64 lastConnId;
    guint closed;
    const char *exitReason;
};

/* vmi_tool_options.c */
void vmiToolConfigInit(vmiToolConfig *cfg);
void vmiToolConfigClear(vmiToolConfig *cfg);
gboolean vmiToolConfigParse(vmiToolConfig *cfg, int *argc, char ***argv, int *exitCode);
gboolean vmiToolConfigLoadKey(vmiToolConfig *cfg, GError **error);

/* vmi_tool_listen.c */
vmiToolListener *vmiToolListenerNew(vmiToolServer *server, const vmiToolListenAddr *addr,
                                    GError **error);
void vmiToolListenerFree(vmiToolListener *listener);

/* vmi_tool_conn.c */
void vmiToolConnAccepted(vmiToolServer *server, const char *address, GSocket *sock);
void vmiToolConnShutdown(vmiToolConn *conn);
void vmiToolConnFree(vmiToolConn *conn);

/* vmi_tool.c */
void vmiToolServerConnClosed(vmiToolServer *server, vmiToolConn *conn);
