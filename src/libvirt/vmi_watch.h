/*
 * vmi_watch.h: a libvirt connection kept open, and what happens to its
 * domains, for a resident program (virt-vmid)
 */
#pragma once

#include <glib.h>

#include "libvirt/vmi_libvirt.h"

typedef enum {
    VMI_WATCH_DEFINED,          /* defined, or redefined */
    VMI_WATCH_UNDEFINED,
    VMI_WATCH_STARTED,
    VMI_WATCH_STOPPED,
    VMI_WATCH_RESUMED,          /* libvirt reports a start's `cont` before the start */
    VMI_WATCH_ELEMENT_CHANGED,  /* <vmi:introspection> set or removed in <metadata> */
} vmiWatchEvent;

typedef struct {
    /* (Re)connected: what happened while away is not known. */
    void (*connected)(gpointer opaque);
    void (*domainEvent)(const char *uuid, vmiWatchEvent event, gpointer opaque);
} vmiWatchCallbacks;

typedef struct _vmiWatch vmiWatch;

/* Connects once the main loop runs, and again with backoff (1 s doubling
 * to 30 s) whenever libvirt closes the connection. Needs libvirt's event loop registered
 * (gvir_event_register) and a GLib main loop running. */
vmiWatch *vmiWatchNew(const char *uri, const vmiWatchCallbacks *cb, gpointer opaque);
void vmiWatchFree(vmiWatch *watch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vmiWatch, vmiWatchFree)

const char *vmiWatchGetURI(vmiWatch *watch);
/* NULL while disconnected. */
vmiConn *vmiWatchGetConn(vmiWatch *watch);
