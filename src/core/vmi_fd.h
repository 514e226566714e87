/*
 * vmi_fd.h: file descriptors closed on every path, and written in full
 * (libvirt's VIR_AUTOCLOSE and safewrite, which it does not export)
 */
#pragma once

#include <glib.h>

void vmiForceClose(int *fd);

/* An int file descriptor closed (if >= 0) when it goes out of scope. */
#define VMI_AUTOCLOSE __attribute__((cleanup(vmiForceClose))) int

gboolean vmiWriteAll(int fd, const void *buf, size_t len);
