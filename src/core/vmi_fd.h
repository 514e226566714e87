/*
 * vmi_fd.h: file descriptors closed on every path (libvirt's
 * VIR_AUTOCLOSE, which it does not export), and written in full
 */
#pragma once

#include <glib.h>

void vmiForceClose(int *fd);

/* An int file descriptor closed (if >= 0) when it goes out of scope. */
#define VMI_AUTOCLOSE __attribute__((cleanup(vmiForceClose))) int

gboolean vmiFdWriteAll(int fd, const void *buf, gsize len, GError **error);
