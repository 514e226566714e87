/*
 * vmi_progress.h: show a long operation's progress on a terminal
 */
#pragma once

#include <glib.h>

typedef gboolean (*vmiProgressFunc)(gpointer opaque, GError **error);

gboolean vmiProgressRun(const char *what, double limit, vmiProgressFunc func,
                        gpointer opaque, double *elapsed, GError **error);
