/*
 * vmi_sockdiag.h: whether a socket listens at a unix socket file
 */
#pragma once

#include <glib.h>

gboolean vmiUnixFileListening(const char *path, gboolean *listening, GError **error);
