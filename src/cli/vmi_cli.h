/*
 * vmi_cli.h: what virt-vmi's commands share
 *
 * Each command lives in its own cmd_*.c: it parses its options and calls
 * the library; it holds no domain logic.
 */
#pragma once

#include <glib.h>

/* Exit codes, documented in docs/virt-vmi.rst. */
typedef enum {
    VMI_EXIT_OK = 0,
    VMI_EXIT_FAILURE = 1,   /* invalid input, or the operation failed */
    VMI_EXIT_USAGE = 2,     /* bad command line */
    VMI_EXIT_UNMONITORED = 3, /* done, but the tool did not hook the running guest again */
    VMI_EXIT_PREFLIGHT = 4, /* migrate: a pre-flight check failed, nothing changed */
    VMI_EXIT_UNHOOK = 5,    /* migrate: failed or cancelled during the unhook wait */
    VMI_EXIT_TRANSFER = 6,  /* migrate: failed during the transfer */
    VMI_EXIT_CANCELLED = 7, /* migrate, save, snapshot-create: cancelled by SIGINT or
                             * SIGTERM, the domain runs on */
    VMI_EXIT_PAUSED = 8,    /* start: required, the tool did not hook: left paused */
} vmiExitCode;

typedef struct {
    const char *uri;        /* -c URI, NULL for libvirt's default */
} vmiCliGlobal;

typedef struct {
    const char *name;
    const char *params;     /* parameter summary for --help */
    const char *brief;      /* one line for the command list */
    const char *summary;
    int (*run)(const vmiCliGlobal *global, int argc, char **argv);
    unsigned int loadFlags; /* vmiDomainLoadFlags for its DOMAIN */
} vmiCliCommand;

extern const vmiCliCommand vmiCmdValidate;
extern const vmiCliCommand vmiCmdDomxmlToNative;
extern const vmiCliCommand vmiCmdSet;
extern const vmiCliCommand vmiCmdGet;
extern const vmiCliCommand vmiCmdRemove;
extern const vmiCliCommand vmiCmdEdit;
extern const vmiCliCommand vmiCmdDefine;
extern const vmiCliCommand vmiCmdSync;
extern const vmiCliCommand vmiCmdKeyCreate;
extern const vmiCliCommand vmiCmdKeyImport;
extern const vmiCliCommand vmiCmdKeyHash;
extern const vmiCliCommand vmiCmdStart;
extern const vmiCliCommand vmiCmdDestroy;
extern const vmiCliCommand vmiCmdSuspend;
extern const vmiCliCommand vmiCmdResume;
extern const vmiCliCommand vmiCmdAttach;
extern const vmiCliCommand vmiCmdDetach;
extern const vmiCliCommand vmiCmdSave;
extern const vmiCliCommand vmiCmdRestore;
extern const vmiCliCommand vmiCmdSnapshotCreate;
extern const vmiCliCommand vmiCmdHookInstall;
extern const vmiCliCommand vmiCmdStatus;
extern const vmiCliCommand vmiCmdHostValidate;
extern const vmiCliCommand vmiCmdMigrate;

int vmiCliFail(GError *error);
void vmiCliHoldsKey(void);
int vmiCliUsage(GOptionContext *ctx, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
GOptionContext *vmiCliOptionContext(const vmiCliCommand *cmd, const GOptionEntry *entries);
gboolean vmiCliParseOptions(GOptionContext *ctx, int *argc, char ***argv, int *exitCode);

typedef struct _vmiDomain vmiDomain;
void vmiCliReportChanges(const vmiDomain *dom, const char *name, GPtrArray *changes);

typedef struct _vmiConn vmiConn;
gboolean vmiCliOpenDomain(const vmiCliCommand *cmd, GOptionContext *ctx,
                          const vmiCliGlobal *global, int argc, char **argv,
                          vmiConn **conn, vmiDomain **dom, int *exitCode);
