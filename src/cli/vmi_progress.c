/*
 * vmi_progress.c: run a blocking operation in a thread and, on a
 * terminal, show how long it has been waiting against its limit
 *
 * The display runs a main loop of its own context (libvirt's event loop
 * has the default one): a 100 ms timeout redraws the line, and the
 * operation's thread ends the loop when it returns.
 *
 * An operation in several phases (a migration: the unhook wait, the
 * transfer) gives a poll function, called on the same loop, that looks
 * at the operation from outside and sets the phase and a detail text
 * (percent, rate). Each phase gets its own line: when the next begins,
 * the one drawn last is finished with its duration. Everything happens
 * on the loop's thread; the operation's thread only returns.
 *
 * An operation that can be cancelled gives a cancel function: SIGINT and
 * SIGTERM then reach it on the same loop (GLib's unix signal sources, on
 * this loop's context: the default one belongs to libvirt's event thread,
 * where a call into libvirt could deadlock the embedded driver), and the
 * run goes on until the operation returns, as it does once cancelled.
 */
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "vmi_progress.h"

#define VMI_PROGRESS_DRAW_MS 100
#define VMI_PROGRESS_POLL_MS 200
#define VMI_PROGRESS_QUIET_SECS 0.3     /* quick operations show nothing */

typedef struct {
    vmiProgressFunc func;
    gpointer opaque;
    GError *error;
    gboolean ok;
    GMainContext *context;
    GMainLoop *loop;
} vmiProgressJob;

struct _vmiProgress {
    char *what;
    double limit;
    char *detail;
    gint64 start;           /* of the run */
    gint64 phaseStart;
    gboolean display;       /* draw on the terminal */
    gboolean shown;         /* something is drawn on the current line */
    gboolean phases;        /* a phased run: the line is cleared at each draw */
    vmiProgressPollFunc poll;
    gpointer pollOpaque;
};

typedef struct {
    int signum;
    const vmiProgressOps *ops;
} vmiProgressSignal;


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


double
vmiProgressElapsed(const vmiProgress *progress)
{
    return (g_get_monotonic_time() - progress->start) / 1e6;
}


double
vmiProgressPhaseElapsed(const vmiProgress *progress)
{
    return (g_get_monotonic_time() - progress->phaseStart) / 1e6;
}


static void
vmiProgressDraw(vmiProgress *progress)
{
    double secs = vmiProgressPhaseElapsed(progress);
    g_autoptr(GString) line = g_string_new("\r");

    if (vmiProgressElapsed(progress) < VMI_PROGRESS_QUIET_SECS)
        return;
    g_string_append_printf(line, "%s: %.1f s", progress->what, secs);
    if (progress->limit > 0)
        g_string_append_printf(line, " (at most %.0f s)", progress->limit);
    if (progress->detail)
        g_string_append_printf(line, ", %s", progress->detail);
    /* a phased line may get shorter: clear its end */
    g_string_append(line, progress->phases ? "\033[K" : "   ");
    fputs(line->str, stdout);
    fflush(stdout);
    progress->shown = TRUE;
}


static gboolean
vmiProgressTick(gpointer data)
{
    vmiProgressDraw(data);
    return G_SOURCE_CONTINUE;
}


static gboolean
vmiProgressPollTick(gpointer data)
{
    vmiProgress *progress = data;

    progress->poll(progress, progress->pollOpaque);
    return G_SOURCE_CONTINUE;
}


static gboolean
vmiProgressOnSignal(gpointer data)
{
    vmiProgressSignal *sig = data;

    sig->ops->cancel(sig->signum, sig->ops->cancelOpaque);
    return G_SOURCE_CONTINUE;
}


static GSource *
vmiProgressAddSignal(GMainContext *context, vmiProgressSignal *sig)
{
    GSource *source = g_unix_signal_source_new(sig->signum);

    g_source_set_callback(source, vmiProgressOnSignal, sig, NULL);
    g_source_attach(source, context);
    return source;
}


/*
 * A new phase: @what and @limit as for vmiProgressRun. On a terminal,
 * the line of the phase drawn last stays, with the time that phase took.
 */
void
vmiProgressSetPhase(vmiProgress *progress, const char *what, double limit)
{
    if (progress->display && progress->shown) {
        g_print("\r\033[K%s: %.1f s\n", progress->what, vmiProgressPhaseElapsed(progress));
        progress->shown = FALSE;
    }
    g_free(progress->what);
    progress->what = g_strdup(what);
    progress->limit = limit;
    g_clear_pointer(&progress->detail, g_free);
    progress->phaseStart = g_get_monotonic_time();
    progress->phases = TRUE;
}


/* Text shown after the elapsed time (NULL: none), e.g. "42 %, 80 MiB/s". */
void
vmiProgressSetDetail(vmiProgress *progress, const char *detail)
{
    g_free(progress->detail);
    progress->detail = g_strdup(detail);
    progress->phases = TRUE;
}


/*
 * Runs @ops->func in a thread; meanwhile, on a terminal (unless
 * @ops->quiet), redraws "@what: N s (at most @limit s)" and calls
 * @ops->poll every @ops->pollInterval ms (on a terminal or not), and
 * @ops->cancel on SIGINT or SIGTERM. @elapsed: the whole run's seconds.
 */
gboolean
vmiProgressRunPhases(const vmiProgressOps *ops, const char *what, double limit,
                     double *elapsed, GError **error)
{
    vmiProgressJob job = { ops->func, ops->opaque, NULL, FALSE, NULL, NULL };
    vmiProgress progress = { 0 };
    g_autoptr(GMainContext) context = NULL;
    g_autoptr(GMainLoop) loop = NULL;
    g_autoptr(GSource) tick = NULL;
    g_autoptr(GSource) pollTick = NULL;
    vmiProgressSignal signals[] = { { SIGINT, ops }, { SIGTERM, ops } };
    GSource *signalSources[G_N_ELEMENTS(signals)] = { NULL };
    GThread *thread;
    size_t i;

    progress.what = g_strdup(what);
    progress.limit = limit;
    progress.start = progress.phaseStart = g_get_monotonic_time();
    progress.display = !ops->quiet && isatty(STDOUT_FILENO);
    progress.poll = ops->poll;
    progress.pollOpaque = ops->pollOpaque;

    if (progress.display || ops->poll || ops->cancel) {
        context = g_main_context_new();
        loop = g_main_loop_new(context, FALSE);
        job.context = context;
        job.loop = loop;
    }
    if (progress.display) {
        tick = g_timeout_source_new(VMI_PROGRESS_DRAW_MS);
        g_source_set_callback(tick, vmiProgressTick, &progress, NULL);
        g_source_attach(tick, context);
    }
    if (ops->poll) {
        pollTick = g_timeout_source_new(ops->pollInterval ? ops->pollInterval
                                                          : VMI_PROGRESS_POLL_MS);
        g_source_set_callback(pollTick, vmiProgressPollTick, &progress, NULL);
        g_source_attach(pollTick, context);
    }
    for (i = 0; ops->cancel && i < G_N_ELEMENTS(signals); i++)
        signalSources[i] = vmiProgressAddSignal(context, &signals[i]);
    thread = g_thread_new("operation", vmiProgressThread, &job);
    if (loop) {
        g_main_loop_run(loop);
        if (tick)
            g_source_destroy(tick);
        if (pollTick)
            g_source_destroy(pollTick);
    }
    /* the last source of a signal gone, GLib gives it its default action again */
    for (i = 0; i < G_N_ELEMENTS(signalSources); i++) {
        if (signalSources[i]) {
            g_source_destroy(signalSources[i]);
            g_source_unref(signalSources[i]);
        }
    }
    g_thread_join(thread);
    /* the last phase of a phased run stays, as each before it (whether or
     * not a poll saw the operation pass into another phase first); a single
     * wait leaves the line to the caller's result */
    if (progress.shown && progress.phases)
        vmiProgressSetPhase(&progress, NULL, 0);
    else if (progress.shown)
        g_print("\r\033[K");
    *elapsed = vmiProgressElapsed(&progress);
    g_free(progress.what);
    g_free(progress.detail);
    if (!job.ok)
        g_propagate_error(error, job.error);
    return job.ok;
}


/*
 * @what: "Suspending 'guest1': waiting for the introspection tool to
 * unhook"; @limit: seconds after which QEMU gives up waiting (0: none).
 */
gboolean
vmiProgressRun(const char *what, double limit, vmiProgressFunc func,
               gpointer opaque, double *elapsed, GError **error)
{
    vmiProgressOps ops = { .func = func, .opaque = opaque };

    return vmiProgressRunPhases(&ops, what, limit, elapsed, error);
}


/* The name of a signal vmiProgressCancelFunc is called for, for messages. */
const char *
vmiProgressSignalName(int signum)
{
    return signum == SIGINT ? "SIGINT" : signum == SIGTERM ? "SIGTERM" : "a signal";
}
