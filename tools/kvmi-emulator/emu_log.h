/*
 * emu_log.h: messages in QEMU's error_report() format
 *
 * libvirt puts QEMU's stderr in the domain log, so the emulator's own
 * "VMI: ..." lines must look like the ones a KVMI-patched QEMU prints:
 * "[TIMESTAMP ][GUEST ]PROG: [LOCATION: ][warning: |info: ]MESSAGE".
 */
#pragma once

#include <glib.h>

void emuLogInit(const char *argv0);
void emuLogSetTimestamp(gboolean on);
void emuLogSetGuestName(const char *name);

/* The option being processed ("-object", "introspection,..."), as QEMU's
 * location; NULL clears it. */
void emuLogSetLocation(const char *option, const char *value);

/* While set, messages are printed as QEMU prints them from inside a QMP
 * command: no timestamp, no guest name, no program name. */
void emuLogEnterMonitor(void);
void emuLogLeaveMonitor(void);

/* Messages printed from inside an HMP command go to that monitor: they
 * are collected for the command's output instead of going to stderr. */
void emuLogCaptureBegin(void);
char *emuLogCaptureEnd(void);

const char *emuLogProgName(void);

void emuError(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void emuWarn(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void emuInfo(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* warn_report_err() of an error with a hint: the hint follows the line as is. */
void emuWarnHint(const char *msg, const char *hint);
void emuErrorHint(const char *msg, const char *hint);
