/*
 * fuzz_common.h: what every libFuzzer harness of tests/fuzz shares
 *
 * A harness checks the invariants of what it drives (round trips stable,
 * a sync idempotent, errors bounded), not only that nothing crashes: a
 * broken invariant aborts, and libFuzzer keeps the input as a crash.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

/* No error message quotes more than this of what it was given. */
#define FUZZ_ERROR_MAX 4096

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* GLib warnings and criticals abort (a finding); the harness's own code
 * paths print nothing. Called once, from LLVMFuzzerInitialize. */
void fuzzInit(void);

/* @err is set and says something, within FUZZ_ERROR_MAX bytes. */
void fuzzCheckError(const GError *err, const char *what);

/* @data as a NUL-terminated string, up to its first NUL. */
char *fuzzString(const uint8_t *data, size_t size);

/* A file descriptor of a memory file holding @data, rewound; its path
 * (/proc/self/fd/N) in @path. */
int fuzzMemFile(const uint8_t *data, size_t size, char **path);

/* The harness's private temporary directory: made at the first call,
 * removed with what is in it when the process exits. */
const char *fuzzTempDir(void);

/* Removes @path and what is in it. */
void fuzzRemoveTree(const char *path);
