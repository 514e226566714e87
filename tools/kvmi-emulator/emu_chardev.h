/*
 * emu_chardev.h: the introspection object's socket chardev, client side
 *
 * What QEMU's char-socket does for `-chardev socket,...,reconnect=N` as a
 * client, as the introspection object sees it: connect (unix path or vsock
 * cid/port), report the first failure once, retry every N seconds after a
 * failure or a disconnect, and let the object change N (the fork's
 * qemu_chr_fe_reconnect_time(), which does not touch a timer already set).
 * The object gets OPENED/CLOSED events and does its own reading.
 */
#pragma once

#include <glib.h>

#include "emu_cmdline.h"

typedef struct _emuChardev emuChardev;

typedef enum {
    EMU_CHR_OPENED,
    EMU_CHR_CLOSED,
} emuChrEvent;

typedef void (*emuChardevEventFunc)(emuChardev *chr, emuChrEvent event, gpointer opaque);

emuChardev *emuChardevNew(const emuChardevSpec *spec);
void emuChardevFree(emuChardev *chr);

const char *emuChardevId(emuChardev *chr);
/* Whether the chardev is a reconnecting client (what the object needs). */
gboolean emuChardevReconnecting(emuChardev *chr);

/* The object attaches (frontend open) and connects now, or (@later: an
 * object added through QMP, whose "artificial disconnect" restarts the
 * reconnect timer) after the reconnect time. Detaching leaves it idle. */
void emuChardevAttach(emuChardev *chr, emuChardevEventFunc func, gpointer opaque,
                      gboolean later);
void emuChardevDetach(emuChardev *chr);
gboolean emuChardevAttached(emuChardev *chr);

/* qemu_chr_fe_disconnect(): closes a connection (CLOSED), then, with a
 * reconnect time, schedules the next attempt. */
void emuChardevDisconnect(emuChardev *chr);
/* Sets the reconnect time (secs >= 0) and returns the previous one. */
int emuChardevReconnectTime(emuChardev *chr, int secs);

gboolean emuChardevConnected(emuChardev *chr);
int emuChardevFd(emuChardev *chr);
/* query-chardev's "filename" */
char *emuChardevFilename(emuChardev *chr);
