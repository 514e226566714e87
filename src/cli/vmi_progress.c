/*
 * vmi_progress.c: run a blocking operation in a thread and, on a
 * terminal, show how long it has been waiting against its limit
 */
#include <stdio.h>
#include <unistd.h>

#include "vmi_progress.h"

typedef struct {
    vmiProgressFunc func;
    gpointer opaque;
    GError *error;
    gboolean ok;
    gint done;
} vmiProgressJob;


static gpointer
vmiProgressThread(gpointer data)
{
    vmiProgressJob *job = data;

    job->ok = job->func(job->opaque, &job->error);
    g_atomic_int_set(&job->done, 1);
    return NULL;
}


/*
 * @what: "Suspending 'guest1': waiting for the introspection tool to
 * unhook"; @limit: seconds after which QEMU gives up waiting (0: none).
 */
gboolean
vmiProgressRun(const char *what, double limit, vmiProgressFunc func,
               gpointer opaque, double *elapsed, GError **error)
{
    vmiProgressJob job = { func, opaque, NULL, FALSE, 0 };
    gboolean tty = isatty(STDOUT_FILENO);
    gint64 start = g_get_monotonic_time();
    GThread *thread = g_thread_new("operation", vmiProgressThread, &job);
    gboolean shown = FALSE;

    while (tty && !g_atomic_int_get(&job.done)) {
        double secs = (g_get_monotonic_time() - start) / 1e6;

        g_usleep(100 * 1000);
        if (secs < 0.3)     /* quick operations show nothing */
            continue;
        if (limit > 0)
            g_print("\r%s: %.1f s (at most %.0f s)   ", what, secs, limit);
        else
            g_print("\r%s: %.1f s   ", what, secs);
        fflush(stdout);
        shown = TRUE;
    }
    g_thread_join(thread);
    if (shown)
        g_print("\r\033[K");
    *elapsed = (g_get_monotonic_time() - start) / 1e6;
    if (!job.ok)
        g_propagate_error(error, job.error);
    return job.ok;
}
