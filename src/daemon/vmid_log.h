/*
 * vmid_log.h: follow a domain's log, line by line, as QEMU writes it
 */
#pragma once

#include <glib.h>

typedef void (*vmidLogLineFunc)(const char *line, gpointer opaque);

typedef struct _vmidLogTail vmidLogTail;

/* Calls @func for each line of @path's current run (from libvirt's last
 * "starting up" line on), then for each line added later. */
vmidLogTail *vmidLogTailNew(const char *path, vmidLogLineFunc func, gpointer opaque);
void vmidLogTailFree(vmidLogTail *tail);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmidLogTail, vmidLogTailFree)
