/*
 * qemulogtest: what a domain log says of QEMU's current run
 * (core/vmi_qemu_log.c): the last run only, -incoming, the tool hooked or
 * not by QEMU's last word, and the wait for "VMI: machine hooked".
 */
#include <glib/gstdio.h>

#include "core/vmi_qemu_log.h"

#define RUN_START "2026-12-04 19:00:00.000+0000: starting up libvirt version: 9.0.0\n"
#define CMDLINE_START "LC_ALL=C \\\n/usr/bin/qemu-system-x86_64 \\\n-name guest=g \\\n-S \\\n"
#define HOOKED "VMI: introspection tool connected\nVMI: machine hooked\n"


static char *
writeLog(const char *text)
{
    g_autoptr(GError) err = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("qemulogtest-XXXXXX.log", &path, &err);

    g_assert_no_error(err);
    close(fd);
    g_assert_true(g_file_set_contents(path, text, -1, &err));
    return path;
}


static void
testRuns(void)
{
    static const struct {
        const char *text;
        gboolean found, incoming, hooked;
        const char *reason;
    } cases[] = {
        { "", FALSE, FALSE, FALSE, NULL },
        { RUN_START CMDLINE_START HOOKED, TRUE, FALSE, TRUE, NULL },
        /* an earlier run's words are another QEMU's */
        { RUN_START CMDLINE_START "-incoming defer \\\n" HOOKED RUN_START CMDLINE_START,
          TRUE, FALSE, FALSE, NULL },
        { RUN_START CMDLINE_START "-incoming defer \\\n-msg timestamp=on\n" HOOKED,
          TRUE, TRUE, TRUE, NULL },
        { RUN_START CMDLINE_START HOOKED "VMI: Reset detected. Closing the socket...\n",
          TRUE, FALSE, FALSE, NULL },
        { RUN_START CMDLINE_START HOOKED "VMI: introspection tool disconnected\n",
          TRUE, FALSE, FALSE, NULL },
        /* QMP's system_reset: the only word QEMU says of the dropped tool */
        { RUN_START CMDLINE_START HOOKED "VMI: intercept command: force-reset\n",
          TRUE, FALSE, FALSE, NULL },
        { RUN_START CMDLINE_START "VMI: received cookie doesn't match\n",
          TRUE, FALSE, FALSE, "VMI: received cookie doesn't match" },
        { RUN_START CMDLINE_START "VMI: the handshake takes too long\n" HOOKED,
          TRUE, FALSE, TRUE, NULL },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = writeLog(cases[i].text);
        g_autoptr(GError) err = NULL;
        vmiQemuLogRun run = { 0 };

        g_test_message("case %u", i);
        g_assert_true(vmiQemuLogRead(path, &run, &err));
        g_assert_no_error(err);
        g_assert_cmpint(run.found, ==, cases[i].found);
        g_assert_cmpint(run.incoming, ==, cases[i].incoming);
        g_assert_cmpint(run.hooked, ==, cases[i].hooked);
        g_assert_cmpstr(run.reason, ==, cases[i].reason);
        vmiQemuLogRunClear(&run);
        g_unlink(path);
    }
}


static void
testMissing(void)
{
    g_autoptr(GError) err = NULL;
    vmiQemuLogRun run = { 0 };

    g_assert_false(vmiQemuLogRead("/nonexistent/qemulogtest.log", &run, &err));
    g_assert_nonnull(err);
    g_assert_true(g_str_has_prefix(err->message,
                                   "cannot read the domain log /nonexistent/qemulogtest.log: "));
}


static gpointer
appendHooked(gpointer path)
{
    FILE *f;

    g_usleep(100 * 1000);
    f = fopen(path, "a");
    fputs(HOOKED, f);
    fclose(f);
    return NULL;
}


static void
testWait(void)
{
    g_autofree char *path = writeLog(RUN_START CMDLINE_START "-incoming defer \\\n");
    g_autoptr(GError) err = NULL;
    vmiQemuLogRun run = { 0 };
    GThread *writer;

    /* nothing comes: FALSE without an error */
    g_assert_false(vmiQemuLogWaitHooked(path, 50, &run, &err));
    g_assert_no_error(err);
    g_assert_true(run.incoming);
    g_assert_false(run.connected);
    vmiQemuLogRunClear(&run);

    /* the line comes while it waits (the bound is generous: a loaded host) */
    writer = g_thread_new("writer", appendHooked, path);
    g_assert_true(vmiQemuLogWaitHooked(path, 60 * 1000, &run, &err));
    g_assert_no_error(err);
    g_assert_true(run.hooked && run.connected);
    g_thread_join(writer);
    vmiQemuLogRunClear(&run);
    g_unlink(path);
}


int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qemulog/runs", testRuns);
    g_test_add_func("/qemulog/missing", testMissing);
    g_test_add_func("/qemulog/wait", testWait);
    return g_test_run();
}
