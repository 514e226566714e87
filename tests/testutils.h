/*
 * testutils.h: helpers for the data-driven tests
 */
#pragma once

#include <glib.h>

gboolean vmiTestRegenerate(void);
void vmiTestAssertEqualText(const char *what, const char *expected, const char *actual);
void vmiTestCompareFile(const char *path, const char *actual);
char *vmiTestReadFile(const char *path);
GPtrArray *vmiTestListFiles(const char *dir, const char *suffix);
