/*
 * vmi-test-reaper: run one integration test as a child subreaper
 *
 * libvirt daemonizes QEMU, so QEMU is reparented to the nearest subreaper
 * when it detaches; on these machines PID 1 reaps late and every destroy
 * would wait seconds for the zombie (docs/testing.rst). This process
 * adopts and reaps every orphan of the test at once, and when the test
 * ends, however it ends, it terminates whatever the test left running.
 *
 * Usage: vmi-test-reaper COMMAND [ARG...]; exits with COMMAND's status.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t forwardSignal;


static void
onSignal(int sig)
{
    forwardSignal = sig;
}


static pid_t
parentOf(pid_t pid)
{
    char path[64], buf[512];
    FILE *fp;
    char *end;
    pid_t ppid = -1;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!(fp = fopen(path, "r")))
        return -1;
    /* "pid (comm) state ppid ...": comm may hold spaces and parens */
    if (fgets(buf, sizeof(buf), fp) && (end = strrchr(buf, ')')))
        sscanf(end + 1, " %*c %d", &ppid);
    fclose(fp);
    return ppid;
}


/* Whether @pid descends from this process. */
static int
isDescendant(pid_t pid, pid_t self)
{
    int depth;

    for (depth = 0; depth < 64 && pid > 1; depth++) {
        pid = parentOf(pid);
        if (pid == self)
            return 1;
    }
    return 0;
}


/* Signals every descendant; returns how many there were. */
static int
signalDescendants(int sig, int report)
{
    pid_t self = getpid();
    struct dirent *ent;
    DIR *proc;
    int count = 0;

    if (!(proc = opendir("/proc")))
        return 0;
    while ((ent = readdir(proc))) {
        char *end;
        long pid = strtol(ent->d_name, &end, 10);

        if (*end || pid <= 1 || pid == self || !isDescendant(pid, self))
            continue;
        if (report) {
            char path[64], comm[64] = "?";
            FILE *fp;
            snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
            if ((fp = fopen(path, "r"))) {
                if (fgets(comm, sizeof(comm), fp))
                    comm[strcspn(comm, "\n")] = '\0';
                fclose(fp);
            }
            fprintf(stderr, "vmi-test-reaper: the test left pid %ld (%s) running: terminating it\n",
                    pid, comm);
        }
        kill(pid, sig);
        count++;
    }
    closedir(proc);
    return count;
}


static void
reapAvailable(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}


static void
cleanUp(void)
{
    struct timespec pause = { 0, 50 * 1000 * 1000 };
    int i;

    if (!signalDescendants(SIGTERM, 1))
        return;
    for (i = 0; i < 100; i++) {     /* 5 s for a clean exit */
        reapAvailable();
        if (!signalDescendants(0, 0))
            return;
        nanosleep(&pause, NULL);
    }
    signalDescendants(SIGKILL, 0);
    for (i = 0; i < 100 && signalDescendants(0, 0); i++) {
        reapAvailable();
        nanosleep(&pause, NULL);
    }
    reapAvailable();
}


int
main(int argc, char **argv)
{
    struct sigaction sa;
    pid_t child;
    int status = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s COMMAND [ARG...]\n", argv[0]);
        return 2;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
        perror("vmi-test-reaper: PR_SET_CHILD_SUBREAPER");
        return 2;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = onSignal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    if ((child = fork()) < 0) {
        perror("vmi-test-reaper: fork");
        return 2;
    }
    if (child == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        execvp(argv[1], argv + 1);
        fprintf(stderr, "vmi-test-reaper: cannot run %s: %s\n", argv[1], strerror(errno));
        _exit(127);
    }

    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, 0);

        if (pid == child) {
            status = st;
            break;
        }
        if (pid < 0 && errno == EINTR && forwardSignal) {
            kill(child, forwardSignal);
            forwardSignal = 0;
        } else if (pid < 0 && errno == ECHILD) {
            break;
        }
    }

    cleanUp();
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
