/*
 * emu_cmdline.h: the QEMU command line, read and rewritten
 *
 * qemu-kvmi is invoked exactly like qemu-system-x86_64. It finds what it
 * must play itself (the introspection objects, the socket chardevs they
 * use, the QMP monitors it stands in front of) and what it must know
 * (uuid, name, accelerator, -msg), and builds the argument vector for the
 * real QEMU: its own parts removed, each proxied monitor's chardev turned
 * into one end of a socket pair, a private monitor added.
 */
#pragma once

#include <glib.h>

#include "emu_object.h"
#include "emu_opts.h"

typedef enum {
    EMU_ADDR_UNIX,
    EMU_ADDR_VSOCK,
} emuAddrType;

typedef struct {
    emuAddrType type;
    char *path;             /* unix */
    char *cid;              /* vsock, as written */
    char *port;
} emuSockAddr;

/* A client socket chardev (with reconnect=) that the emulator runs. */
typedef struct {
    char *id;
    emuSockAddr addr;
    guint reconnect;        /* seconds; 0: none given */
    gboolean server;        /* server=on: not usable by the object */
} emuChardevSpec;

void emuChardevSpecFree(emuChardevSpec *spec);

/* A QMP monitor the emulator proxies. */
typedef struct {
    char *label;            /* the chardev id QEMU sees */
    gboolean pretty;
    gboolean stdio;         /* the client is on stdin/stdout */
    int listenFd;           /* the client-facing listening socket, or -1 */
    char *unixPath;         /* a socket file the emulator created (removed at exit) */
    char *filename;         /* query-chardev's "filename" while a client is connected */
    gboolean wait;          /* server,wait=on: QEMU would wait for a client */
    int firstClientFd;      /* accepted before QEMU starts (wait=on), or -1 */
    int qemuFd;             /* QEMU's end of the socket pair */
    int proxyFd;            /* the emulator's end */
} emuMonitorSpec;

void emuMonitorSpecFree(emuMonitorSpec *spec);

typedef enum {
    EMU_RUN_EXEC,           /* nothing of ours: exec the real QEMU as is */
    EMU_RUN_OBJECT_HELP,    /* -object help: QEMU's list plus ours */
    EMU_RUN_INTROSPECTION_HELP,
    EMU_RUN_EMULATE,
} emuRunMode;

typedef struct {
    char *opt;              /* option name without dashes; NULL: positional */
    char *written;          /* the option as written ("-object", "--object") */
    char *value;            /* its argument, or NULL */
    gboolean drop;          /* not for the real QEMU */
    char *replace;          /* a new argument for the real QEMU */
} emuArg;

typedef struct {
    GPtrArray *args;                /* emuArg * */
    GPtrArray *objectArgs;          /* emuArg * of -object introspection, in order */
    GPtrArray *chardevs;            /* emuChardevSpec *, the ones the emulator runs */
    GHashTable *chardevIds;         /* every -chardev id -> backend */
    GHashTable *objectTypes;        /* every -object id -> qom-type */
    GPtrArray *monitors;            /* emuMonitorSpec * */
    emuRunMode mode;

    gboolean machineNone;
    char *accels;                   /* "kvm:tcg" */
    gboolean kvm;                   /* the accelerator QEMU will use is KVM */
    gboolean accelUsable;           /* one of the accelerators can start */
    guint8 uuid[16];
    char *guestName;
    gboolean msgTimestamp;
    gboolean msgGuestName;
    gboolean incoming;
    gboolean daemonize;
} emuCmdline;

emuCmdline *emuCmdlineParse(int argc, char **argv);
void emuCmdlineFree(emuCmdline *cmd);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(emuCmdline, emuCmdlineFree);

emuChardevSpec *emuCmdlineFindChardev(emuCmdline *cmd, const char *id);

/* Creates the client-facing sockets and the socket pairs of the proxied
 * monitors and of the private one, and fills in the rewritten arguments. */
gboolean emuCmdlinePrepareMonitors(emuCmdline *cmd, int *privateQemuFd,
                                   int *privateProxyFd, GError **error);

/* The argument vector for the real QEMU (argv[0] as given). */
GStrv emuCmdlineBuildArgv(emuCmdline *cmd, const char *argv0, int privateQemuFd);

gboolean emuParseUuid(const char *str, guint8 *uuid);

#define EMU_PRIVATE_MONITOR "qemu-kvmi-private"
