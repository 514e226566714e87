/*
 * vmid_watcher.h: the clients of virt-vmid's `watch` request, each sent the
 * status, then a line per change, without the daemon ever waiting for one
 */
#pragma once

#include <gio/gio.h>

typedef struct _vmidWatchers vmidWatchers;

/* @cancel: cancelled at exit, it ends every watcher's reads and writes. */
vmidWatchers *vmidWatchersNew(GCancellable *cancel);
void vmidWatchersFree(vmidWatchers *ws);

/* @client watches from now on; @status is its first line. */
void vmidWatchersAdd(vmidWatchers *ws, GSocketConnection *client, const char *status);

/* @line (one JSON line, with its newline) to every watcher. */
void vmidWatchersSend(vmidWatchers *ws, const char *line);

gboolean vmidWatchersAny(vmidWatchers *ws);

/* Reads or writes still under way (they end soon after @cancel). */
gboolean vmidWatchersBusy(vmidWatchers *ws);
