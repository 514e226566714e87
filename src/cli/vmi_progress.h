/*
 * vmi_progress.h: show a long operation's progress on a terminal
 */
#pragma once

#include <glib.h>

typedef gboolean (*vmiProgressFunc)(gpointer opaque, GError **error);

typedef struct _vmiProgress vmiProgress;

/*
 * Called on the progress's main loop every poll interval while the
 * operation runs, on a terminal or not: it may look at the operation from
 * outside and set the phase and detail shown.
 */
typedef void (*vmiProgressPollFunc)(vmiProgress *progress, gpointer opaque);

/*
 * Called on the progress's main loop when SIGINT or SIGTERM arrives while
 * the operation runs (@signum says which): it asks the operation to stop;
 * the run still ends only when the operation returns.
 */
typedef void (*vmiProgressCancelFunc)(int signum, gpointer opaque);

typedef struct {
    vmiProgressFunc func;           /* the blocking operation, run in a thread */
    gpointer opaque;
    vmiProgressPollFunc poll;       /* NULL: none */
    gpointer pollOpaque;
    guint pollInterval;             /* ms; 0: 200 */
    gboolean quiet;                 /* draw nothing even on a terminal */
    vmiProgressCancelFunc cancel;   /* NULL: a signal ends the program as usual */
    gpointer cancelOpaque;
} vmiProgressOps;

gboolean vmiProgressRun(const char *what, double limit, vmiProgressFunc func,
                        gpointer opaque, double *elapsed, GError **error);
gboolean vmiProgressRunPhases(const vmiProgressOps *ops, const char *what, double limit,
                              double *elapsed, GError **error);

void vmiProgressSetPhase(vmiProgress *progress, const char *what, double limit);
void vmiProgressSetDetail(vmiProgress *progress, const char *detail);
double vmiProgressPhaseElapsed(const vmiProgress *progress);
double vmiProgressElapsed(const vmiProgress *progress);
const char *vmiProgressSignalName(int signum);
