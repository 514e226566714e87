/*
 * emu_handshake.h: QEMU's side of the introspection handshake (its
 * layouts are kvmi_wire.h's)
 */
#pragma once

#include <glib.h>

#include "kvmi_wire.h"

/* @e820: kvmiWireE820Entry, any order. Warns (as QEMU) when it has more
 * entries than fit, and sends none then. */
GBytes *emuHandshakeBuild(const guint8 *uuid, gint64 startTimeMs, const char *name,
                          const GArray *e820);

/* SHA-1 of the whole key, what the tool must send back. */
void emuHandshakeCookie(GBytes *key, guint8 *hash);
