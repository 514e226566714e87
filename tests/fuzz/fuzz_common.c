/*
 * fuzz_common.c: see fuzz_common.h
 */
#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"


static GLogWriterOutput
fuzzLogWriter(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
        g_log_writer_standard_streams(level, fields, n, data);
        fprintf(stderr, "fuzz: GLib %s: a finding\n",
                level & G_LOG_LEVEL_WARNING ? "warning" : "critical or error");
        abort();
    }
    return G_LOG_WRITER_HANDLED;
}


/* What a program reports on stderr is dropped, but for its own
 * internal errors (not libxml2's, which a malformed XML quotes): those
 * are findings. */
static void
fuzzDiscard(const char *msg)
{
    if (g_str_has_prefix(msg, "vmi-tool: internal error")) {
        fprintf(stderr, "fuzz: %s", msg);
        abort();
    }
    if (strlen(msg) > 2 * FUZZ_ERROR_MAX) {
        fprintf(stderr, "fuzz: a report of %zu bytes on stderr: %.300s...\n",
                strlen(msg), msg);
        abort();
    }
}


void
fuzzInit(void)
{
    g_log_set_writer_func(fuzzLogWriter, NULL, NULL);
    /* the hook and the tools report bad input on stderr: expected here */
    g_set_printerr_handler(fuzzDiscard);
    g_set_print_handler(fuzzDiscard);
}


void
fuzzCheckError(const GError *err, const char *what)
{
    if (!err || !err->message || !err->message[0]) {
        fprintf(stderr, "fuzz: %s failed without an error message\n", what);
        abort();
    }
    if (strlen(err->message) > FUZZ_ERROR_MAX) {
        fprintf(stderr, "fuzz: %s: error message of %zu bytes (at most %d): %.300s...\n",
                what, strlen(err->message), FUZZ_ERROR_MAX, err->message);
        abort();
    }
}


char *
fuzzString(const uint8_t *data, size_t size)
{
    return g_strndup((const char *)data, size);
}


int
fuzzMemFile(const uint8_t *data, size_t size, char **path)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    size_t done = 0;

    if (fd < 0) {
        perror("fuzz: memfd_create");
        abort();
    }
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);

        if (n < 0) {
            perror("fuzz: write");
            abort();
        }
        done += n;
    }
    lseek(fd, 0, SEEK_SET);
    *path = g_strdup_printf("/proc/self/fd/%d", fd);
    return fd;
}


static char *fuzzTmpDir;


static void
fuzzRemoveTempDir(void)
{
    fuzzRemoveTree(fuzzTmpDir);
}


const char *
fuzzTempDir(void)
{
    g_autoptr(GError) err = NULL;

    if (fuzzTmpDir)
        return fuzzTmpDir;
    if (!(fuzzTmpDir = g_dir_make_tmp("vmi-fuzz-XXXXXX", &err))) {
        fprintf(stderr, "fuzz: %s\n", err->message);
        abort();
    }
    atexit(fuzzRemoveTempDir);
    return fuzzTmpDir;
}


void
fuzzRemoveTree(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    const char *name;

    if (dir) {
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);

            if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
                !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
                fuzzRemoveTree(child);
            else
                g_unlink(child);
        }
        g_dir_close(dir);
    }
    g_rmdir(path);
}
