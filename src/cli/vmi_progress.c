/*
 * vmi_progress.c: run a blocking operation in a thread and, on a
 * terminal, show how long it has been waiting against its limit
 *
 * The display runs a main loop of its own context (libvirt's event loop
 * has the default one): a 100 ms timeout redraws the line, and the
 * operation's thread ends the loop when it returns.
 */
#include <stdio.h>
#include <unistd.h>

#include "vmi_progress.h"

typedef struct {
    vmiProgressFunc func;
    gpointer opaque;
    GError *error;
    gboolean ok;
    GMainContext *context;
    GMainLoop *loop;
} vmiProgressJob;

typedef struct {
    const char *what;
    double limit;
    gint64 start;
    gboolean shown;
} vmiProgressDisplay;


static gboolean
vmiProgressQuit(gpointer data)
{
    g_main_loop_quit(data);
    return G_SOURCE_REMOVE;
}


static gpointer
vmiProgressThread(gpointer data)
{
    vmiProgressJob *job = data;
    g_autoptr(GSource) done = NULL;

    job->ok = job->func(job->opaque, &job->error);
    if (job->loop) {
        /* a source, not g_main_loop_quit: the loop may not run yet */
        done = g_idle_source_new();
        g_source_set_callback(done, vmiProgressQuit, job->loop, NULL);
        g_source_attach(done, job->context);
    }
    return NULL;
}


static gboolean
vmiProgressTick(gpointer data)
{
    vmiProgressDisplay *display = data;
    double secs = (g_get_monotonic_time() - display->start) / 1e6;

    if (secs < 0.3)     /* quick operations show nothing */
        return G_SOURCE_CONTINUE;
    if (display->limit > 0)
        g_print("\r%s: %.1f s (at most %.0f s)   ", display->what, secs, display->limit);
    else
        g_print("\r%s: %.1f s   ", display->what, secs);
    fflush(stdout);
    display->shown = TRUE;
    return G_SOURCE_CONTINUE;
}


/*
 * @what: "Suspending 'guest1': waiting for the introspection tool to
 * unhook"; @limit: seconds after which QEMU gives up waiting (0: none).
 */
gboolean
vmiProgressRun(const char *what, double limit, vmiProgressFunc func,
               gpointer opaque, double *elapsed, GError **error)
{
    vmiProgressJob job = { func, opaque, NULL, FALSE, NULL, NULL };
    vmiProgressDisplay display = { what, limit, g_get_monotonic_time(), FALSE };
    g_autoptr(GMainContext) context = NULL;
    g_autoptr(GMainLoop) loop = NULL;
    g_autoptr(GSource) tick = NULL;
    GThread *thread;

    if (isatty(STDOUT_FILENO)) {
        context = g_main_context_new();
        loop = g_main_loop_new(context, FALSE);
        tick = g_timeout_source_new(100);
        g_source_set_callback(tick, vmiProgressTick, &display, NULL);
        g_source_attach(tick, context);
        job.context = context;
        job.loop = loop;
    }
    thread = g_thread_new("operation", vmiProgressThread, &job);
    if (loop) {
        g_main_loop_run(loop);
        g_source_destroy(tick);
    }
    g_thread_join(thread);
    if (display.shown)
        g_print("\r\033[K");
    *elapsed = (g_get_monotonic_time() - display.start) / 1e6;
    if (!job.ok)
        g_propagate_error(error, job.error);
    return job.ok;
}
