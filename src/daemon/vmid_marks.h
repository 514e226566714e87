/*
 * vmid_marks.h: the domains the hook let start without our arguments,
 * kept on disk until the daemon has attached them live
 *
 * The hook's `attach-at-start` request and the domain's STARTED event are
 * apart by a QEMU start: a daemon killed or restarted in between would
 * otherwise forget the promise, and that run of the domain would have no
 * introspection. A mark is a file named by the domain's UUID that holds
 * the URI of the connection it belongs to.
 */
#pragma once

#include <glib.h>

gboolean vmidMarkAdd(const char *dir, const char *uri, const char *uuid, GError **error);
void vmidMarkRemove(const char *dir, const char *uuid);

/* The UUIDs marked for @uri. */
GPtrArray *vmidMarksLoad(const char *dir, const char *uri);
