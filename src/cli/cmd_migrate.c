/*
 * virt-vmi migrate DOMAIN DEST-URI [--live] [--p2p] [--persistent]
 *     [--undefinesource] [--copy-key] [--timeout SECONDS] [--json]
 *
 * A migration in phases: pre-flight checks on the destination, libvirt's
 * preparation, the wait for the tool's unhook (QEMU holds the migration),
 * the transfer, and the tool's re-hook on the destination. Each is shown
 * on a terminal (vmi_progress.c) or as JSON lines, and the exit status
 * says which one failed.
 */
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "vmi_cli.h"
#include "vmi_progress.h"
#include "libvirt/vmi_domain.h"
#include "libvirt/vmi_migrate.h"
#include "conf/vmi_error.h"

typedef struct {
    vmiMigration *mig;
    unsigned int flags;
    gboolean json;
    int timeout;                /* seconds; 0: none */
    gint64 migrating;           /* when QEMU began migrating (the unhook wait) */
    gboolean aborted;           /* by --timeout */
    int cancelled;              /* by this signal (SIGINT, SIGTERM), 0: not */
    vmiMigratePhase phase;      /* the latest seen */
    gint64 phaseStart;
    double durations[VMI_MIGRATE_PHASE_LAST];
    double limit;               /* the current phase's, 0: none */
} vmiMigrateRun;


/* One JSON line: "event", "phase", then @n more key/value pairs. */
typedef struct {
    const char *key;
    enum { VMI_JSON_STR, VMI_JSON_NUM, VMI_JSON_INT, VMI_JSON_BOOL, VMI_JSON_NULL } type;
    const char *str;
    double num;
} vmiJsonField;

static void
vmiMigrateJsonLine(const char *event, const char *phase, const vmiJsonField *fields, size_t n)
{
    yajl_gen gen = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len, i;

#define VMI_JSON_KEY(k) yajl_gen_string(gen, (const unsigned char *)(k), strlen(k))
    yajl_gen_map_open(gen);
    VMI_JSON_KEY("event");
    VMI_JSON_KEY(event);
    VMI_JSON_KEY("phase");
    if (phase)
        VMI_JSON_KEY(phase);
    else
        yajl_gen_null(gen);
    for (i = 0; i < n; i++) {
        VMI_JSON_KEY(fields[i].key);
        switch (fields[i].type) {
        case VMI_JSON_STR:
            if (fields[i].str)
                VMI_JSON_KEY(fields[i].str);
            else
                yajl_gen_null(gen);
            break;
        case VMI_JSON_NUM: {
            g_autofree char *num = g_strdup_printf("%.3f", fields[i].num);

            yajl_gen_number(gen, num, strlen(num));
            break;
        }
        case VMI_JSON_INT:
            yajl_gen_integer(gen, (long long)fields[i].num);
            break;
        case VMI_JSON_BOOL:
            yajl_gen_bool(gen, fields[i].num != 0);
            break;
        case VMI_JSON_NULL:
            yajl_gen_null(gen);
            break;
        }
    }
    yajl_gen_map_close(gen);
#undef VMI_JSON_KEY
    yajl_gen_get_buf(gen, &buf, &len);
    fwrite(buf, 1, len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    yajl_gen_free(gen);
}


static double
vmiMigratePhaseElapsed(const vmiMigrateRun *run)
{
    return (g_get_monotonic_time() - run->phaseStart) / 1e6;
}


/* The phase @phase begins (the previous one ends). */
static void
vmiMigrateEnterPhase(vmiMigrateRun *run, vmiProgress *progress, vmiMigratePhase phase,
                     double limit)
{
    const char *name = run->mig->dom->name;
    g_autofree char *what = NULL;

    run->durations[run->phase] = vmiMigratePhaseElapsed(run);
    run->phase = phase;
    run->phaseStart = g_get_monotonic_time();
    run->limit = limit;
    switch (phase) {
    case VMI_MIGRATE_PHASE_UNHOOK:
        what = g_strdup_printf("Migrating '%s': waiting for the introspection tool to unhook",
                               name);
        break;
    case VMI_MIGRATE_PHASE_TRANSFER:
        what = g_strdup_printf("Migrating '%s': transfer", name);
        break;
    case VMI_MIGRATE_PHASE_REHOOK:
        what = g_strdup_printf("Migrated '%s': waiting for the tool to hook it on the "
                               "destination", name);
        break;
    case VMI_MIGRATE_PHASE_PREPARE:
    case VMI_MIGRATE_PHASE_PREFLIGHT:
    case VMI_MIGRATE_PHASE_LAST:
    default:
        what = g_strdup_printf("Migrating '%s': preparing the destination", name);
        break;
    }
    if (progress)
        vmiProgressSetPhase(progress, what, limit);
    if (run->json) {
        vmiJsonField fields[] = {
            { "limit", limit > 0 ? VMI_JSON_NUM : VMI_JSON_NULL, NULL, limit },
        };
        vmiMigrateJsonLine("phase", vmiMigratePhaseToString(phase), fields,
                           G_N_ELEMENTS(fields));
    }
}


static gboolean
vmiMigrateJob(gpointer opaque, GError **error)
{
    vmiMigrateRun *run = opaque;

    return vmiMigratePerform(run->mig, run->flags, error);
}


/* On the progress's loop: where the migration stands, from the source. */
static void
vmiMigratePoll(vmiProgress *progress, gpointer opaque)
{
    vmiMigrateRun *run = opaque;
    vmiMigrateProgress now = { run->phase, -1, 0, 0, 0 };
    g_autofree char *detail = NULL;

    vmiMigrateGetProgress(run->mig, &now);
    /* phases only go forward */
    if (now.phase == VMI_MIGRATE_PHASE_UNHOOK && run->phase < VMI_MIGRATE_PHASE_UNHOOK)
        vmiMigrateEnterPhase(run, progress, VMI_MIGRATE_PHASE_UNHOOK,
                             run->mig->def ? vmiDefUnhookTimeout(run->mig->def) : 0);
    else if (now.phase == VMI_MIGRATE_PHASE_TRANSFER && run->phase < VMI_MIGRATE_PHASE_TRANSFER)
        vmiMigrateEnterPhase(run, progress, VMI_MIGRATE_PHASE_TRANSFER, 0);

    if (run->phase == VMI_MIGRATE_PHASE_TRANSFER && now.percent >= 0) {
        detail = g_strdup_printf("%.0f %%, %.1f MiB/s", now.percent,
                                 now.rate / (1024.0 * 1024.0));
        vmiProgressSetDetail(progress, detail);
    }
    if (run->json) {
        vmiJsonField fields[] = {
            { "elapsed", VMI_JSON_NUM, NULL, vmiMigratePhaseElapsed(run) },
            { "limit", run->limit > 0 ? VMI_JSON_NUM : VMI_JSON_NULL, NULL, run->limit },
            { "percent", now.percent >= 0 ? VMI_JSON_NUM : VMI_JSON_NULL, NULL, now.percent },
            { "rate", now.percent >= 0 ? VMI_JSON_INT : VMI_JSON_NULL, NULL, now.rate },
            { "processed", now.percent >= 0 ? VMI_JSON_INT : VMI_JSON_NULL, NULL,
              now.processed },
            { "total", now.percent >= 0 ? VMI_JSON_INT : VMI_JSON_NULL, NULL, now.total },
        };
        vmiMigrateJsonLine("progress", vmiMigratePhaseToString(run->phase), fields,
                           G_N_ELEMENTS(fields));
    }

    if (!run->migrating && run->phase >= VMI_MIGRATE_PHASE_UNHOOK)
        run->migrating = run->phaseStart;
    if (run->timeout && run->migrating && !run->aborted &&
        g_get_monotonic_time() - run->migrating >= run->timeout * G_USEC_PER_SEC) {
        g_autoptr(GError) err = NULL;

        run->aborted = TRUE;
        if (!vmiMigrateAbort(run->mig, &err))
            g_printerr("warning: --timeout: %s\n", err->message);
    }
}


/*
 * On the progress's loop: SIGINT (Ctrl-C) or SIGTERM cancels the
 * migration as --timeout does, rather than end this program and leave
 * libvirt's job running; the failure path then resumes the source and
 * waits for the re-hook there.
 */
static void
vmiMigrateCancel(int signum, gpointer opaque)
{
    vmiMigrateRun *run = opaque;
    g_autoptr(GError) err = NULL;

    if (run->cancelled || run->aborted)
        return;
    run->cancelled = signum;
    if (!vmiMigrateAbort(run->mig, &err))
        g_printerr("warning: %s: %s\n", vmiProgressSignalName(signum), err->message);
}


typedef struct {
    vmiMigrateRun *run;
    vmiConn *conn;
    const char *where;
    double limit;
} vmiRehookJob;

static gboolean
vmiMigrateRehookJob(gpointer opaque, GError **error)
{
    vmiRehookJob *job = opaque;

    return vmiMigrateWaitHooked(job->conn, job->run->mig->dom->uuid, job->run->mig->def,
                                job->limit, job->where, error);
}


static void
vmiMigrateRehookPoll(vmiProgress *progress G_GNUC_UNUSED, gpointer opaque)
{
    vmiRehookJob *job = opaque;
    vmiJsonField fields[] = {
        { "elapsed", VMI_JSON_NUM, NULL, vmiMigratePhaseElapsed(job->run) },
        { "limit", VMI_JSON_NUM, NULL, job->limit },
        { "where", VMI_JSON_STR, job->where, 0 },
    };

    if (job->run->json)
        vmiMigrateJsonLine("progress", "rehook", fields, G_N_ELEMENTS(fields));
}


/* The tool hooks the guest where it runs now: on the destination, or at the source again. */
static gboolean
vmiMigrateRehook(vmiMigrateRun *run, vmiConn *conn, const char *where, GError **error)
{
    vmiRehookJob job = { run, conn, where, vmiMigrateRehookLimit(run->mig->def) };
    g_autofree char *what = g_strdup_printf("'%s': waiting for the tool to hook it %s",
                                            run->mig->dom->name, where);
    vmiProgressOps ops = {
        .func = vmiMigrateRehookJob, .opaque = &job,
        .poll = vmiMigrateRehookPoll, .pollOpaque = &job,
        .quiet = run->json,
    };
    double elapsed;
    gboolean ok;

    vmiMigrateEnterPhase(run, NULL, VMI_MIGRATE_PHASE_REHOOK, job.limit);
    ok = vmiProgressRunPhases(&ops, what, job.limit, &elapsed, error);
    run->durations[VMI_MIGRATE_PHASE_REHOOK] = elapsed;
    return ok;
}


static int
vmiMigrateResult(vmiMigrateRun *run, int rc, vmiMigratePhase failed, const char *message)
{
    if (run->json) {
        vmiJsonField fields[] = {
            { "ok", VMI_JSON_BOOL, NULL, rc == VMI_EXIT_OK },
            { "exit", VMI_JSON_INT, NULL, rc },
            { "failed", rc == VMI_EXIT_OK ? VMI_JSON_NULL : VMI_JSON_STR,
              vmiMigratePhaseToString(failed), 0 },
            { "message", VMI_JSON_STR, message, 0 },
            { "unhook", VMI_JSON_NUM, NULL, run->durations[VMI_MIGRATE_PHASE_UNHOOK] },
            { "transfer", VMI_JSON_NUM, NULL, run->durations[VMI_MIGRATE_PHASE_TRANSFER] },
            { "rehook", VMI_JSON_NUM, NULL, run->durations[VMI_MIGRATE_PHASE_REHOOK] },
        };
        vmiMigrateJsonLine("result", NULL, fields, G_N_ELEMENTS(fields));
    }
    if (rc == VMI_EXIT_OK) {
        if (!run->json)
            g_print("%s\n", message);
    } else {
        g_printerr("error: %s\n", message);
    }
    return rc;
}


static gboolean
vmiMigratePreflightRun(vmiMigrateRun *run, gboolean copyKey)
{
    g_autoptr(GPtrArray) checks = vmiMigratePreflight(run->mig, copyKey);
    gboolean failed = FALSE;
    guint i;

    for (i = 0; i < checks->len; i++) {
        vmiCheck *check = checks->pdata[i];

        if (run->json) {
            vmiJsonField fields[] = {
                { "check", VMI_JSON_STR, check->what, 0 },
                { "result", VMI_JSON_STR, vmiCheckResultToString(check->result), 0 },
                { "detail", VMI_JSON_STR, check->detail, 0 },
            };
            vmiMigrateJsonLine("check", "preflight", fields, G_N_ELEMENTS(fields));
        } else {
            g_print("Pre-flight: checking %s: %s (%s)\n", check->what,
                    vmiCheckResultToString(check->result), check->detail);
        }
        failed |= check->result == VMI_CHECK_FAIL;
    }
    return !failed;
}


static int
vmiCmdMigrateRun(const vmiCliGlobal *global, int argc, char **argv)
{
    gboolean live = FALSE, p2p = FALSE, persistent = FALSE, undefineSource = FALSE;
    gboolean copyKey = FALSE, json = FALSE;
    int timeout = 0;
    const GOptionEntry entries[] = {
        { "live", 0, 0, G_OPTION_ARG_NONE, &live, "Live migration (the guest keeps running)",
          NULL },
        { "p2p", 0, 0, G_OPTION_ARG_NONE, &p2p,
          "Peer to peer: the source's libvirtd connects to DEST-URI itself", NULL },
        { "persistent", 0, 0, G_OPTION_ARG_NONE, &persistent,
          "Define the domain on the destination too", NULL },
        { "undefinesource", 0, 0, G_OPTION_ARG_NONE, &undefineSource,
          "Undefine the domain at the source once migrated", NULL },
        { "copy-key", 0, 0, G_OPTION_ARG_NONE, &copyKey,
          "Copy the key secret to the destination if it is missing there", NULL },
        { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout,
          "Cancel the migration if it has not completed SECONDS after QEMU began "
          "migrating (the unhook wait included)", "SECONDS" },
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Progress as JSON lines", NULL },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx = vmiCliOptionContext(&vmiCmdMigrate, entries);
    g_autoptr(vmiConn) conn = NULL;
    g_autoptr(vmiDomain) dom = NULL;
    g_autoptr(vmiMigration) mig = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *message = NULL;
    vmiMigrateRun run = { 0 };
    vmiProgressOps ops = { 0 };
    GError *perr = NULL;
    double elapsed;
    int rc;

    if (!vmiCliParseOptions(ctx, &argc, &argv, &rc))
        return rc;
    if (argc != 3)
        return vmiCliUsage(ctx, "migrate takes a DOMAIN and a DEST-URI");
    if (timeout < 0)
        return vmiCliUsage(ctx, "option '--timeout': invalid value '%d': it must be a number "
                           "of seconds, 0 for none", timeout);

    if (!(conn = vmiConnOpen(global->uri, &perr)) ||
        !(dom = vmiDomainLoad(conn, argv[1], VMI_DOMAIN_LOAD_ANY, &perr)))
        return vmiCliFail(perr);
    if (!dom->running)
        return vmiCliFail(g_error_new(VMI_ERROR, VMI_ERROR_INVALID_ARG,
                                      "domain '%s' is not running: migrate moves a running "
                                      "domain", dom->name));

    /* pre-flight compares the key secret's values */
    vmiCliHoldsKey();
    run.json = json;
    run.timeout = timeout;
    run.phase = VMI_MIGRATE_PHASE_PREFLIGHT;
    run.phaseStart = g_get_monotonic_time();
    run.flags = (live ? VMI_MIGRATE_LIVE : 0) | (p2p ? VMI_MIGRATE_P2P : 0) |
                (persistent ? VMI_MIGRATE_PERSISTENT : 0) |
                (undefineSource ? VMI_MIGRATE_UNDEFINE_SOURCE : 0);

    /* pre-flight: nothing changes anywhere unless every check passes */
    if (!(mig = vmiMigrationNew(conn, dom, argv[2], &err)))
        return vmiMigrateResult(&run, VMI_EXIT_PREFLIGHT, VMI_MIGRATE_PHASE_PREFLIGHT,
                                err->message);
    run.mig = mig;
    if (!vmiMigratePreflightRun(&run, copyKey))
        return vmiMigrateResult(&run, VMI_EXIT_PREFLIGHT, VMI_MIGRATE_PHASE_PREFLIGHT,
                                "pre-flight failed: nothing was changed; fix what the FAIL "
                                "lines say and migrate again");
    if (mig->copyKey) {
        if (!vmiMigrateCopyKey(mig, &err)) {
            g_autofree char *msg = g_strdup_printf("pre-flight: %s", err->message);

            return vmiMigrateResult(&run, VMI_EXIT_PREFLIGHT, VMI_MIGRATE_PHASE_PREFLIGHT, msg);
        }
        if (!json)
            g_print("Key secret %s copied to the destination\n", mig->def->keySecret);
    }

    vmiMigrateEnterPhase(&run, NULL, VMI_MIGRATE_PHASE_PREPARE, 0);
    ops.func = vmiMigrateJob;
    ops.opaque = &run;
    ops.poll = vmiMigratePoll;
    ops.pollOpaque = &run;
    ops.quiet = json;
    ops.cancel = vmiMigrateCancel;
    ops.cancelOpaque = &run;
    message = g_strdup_printf("Migrating '%s': preparing the destination", dom->name);
    if (!vmiProgressRunPhases(&ops, message, 0, &elapsed, &perr)) {
        vmiMigratePhase failed = run.phase;
        g_autoptr(GError) rehookErr = NULL;
        g_autofree char *msg = NULL;
        const char *after = "";

        g_clear_error(&err);
        err = perr;
        run.durations[failed] = vmiMigratePhaseElapsed(&run);
        if (run.cancelled)
            msg = g_strdup_printf("migration cancelled (%s) during the %s phase: %s",
                                  vmiProgressSignalName(run.cancelled),
                                  vmiMigratePhaseToString(failed), err->message);
        else if (run.aborted)
            msg = g_strdup_printf("migration cancelled after %d s (--timeout) during the %s "
                                  "phase: %s", timeout, vmiMigratePhaseToString(failed),
                                  err->message);
        else
            msg = g_strdup_printf("migration failed during the %s phase: %s",
                                  vmiMigratePhaseToString(failed), err->message);
        /* QEMU asked the tool to unhook: it hooks the source again */
        if (failed >= VMI_MIGRATE_PHASE_UNHOOK && mig->def) {
            if (vmiMigrateResumeSource(mig, &rehookErr) &&
                vmiMigrateRehook(&run, conn, "at the source", &rehookErr))
                after = "; the source runs on, and the tool hooked it again";
            else
                after = "; the source runs on, but the tool did not hook it again";
        } else {
            after = "; the source runs on, unchanged";
        }
        g_free(message);
        message = g_strconcat(msg, after, rehookErr ? " (" : "",
                              rehookErr ? rehookErr->message : "", rehookErr ? ")" : "", NULL);
        return vmiMigrateResult(&run, run.cancelled ? VMI_EXIT_CANCELLED :
                                      failed == VMI_MIGRATE_PHASE_UNHOOK ? VMI_EXIT_UNHOOK :
                                      failed == VMI_MIGRATE_PHASE_TRANSFER ? VMI_EXIT_TRANSFER :
                                      VMI_EXIT_FAILURE, failed, message);
    }
    run.durations[run.phase] = vmiMigratePhaseElapsed(&run);

    g_free(message);
    if (!mig->def) {
        message = g_strdup_printf("Domain '%s' migrated to %s in %.2f s (no introspection)",
                                  dom->name, mig->dst->uri, elapsed);
        return vmiMigrateResult(&run, VMI_EXIT_OK, VMI_MIGRATE_PHASE_LAST, message);
    }
    if (!vmiMigrateRehook(&run, mig->dst, "on the destination", &err)) {
        message = g_strdup_printf("domain '%s' migrated to %s, but the destination is "
                                  "unmonitored: %s", dom->name, mig->dst->uri, err->message);
        return vmiMigrateResult(&run, VMI_EXIT_UNMONITORED, VMI_MIGRATE_PHASE_REHOOK, message);
    }
    message = g_strdup_printf("Domain '%s' migrated to %s in %.2f s (unhook wait %.2f s, "
                              "transfer %.2f s); the tool hooked it on the destination "
                              "after %.2f s", dom->name, mig->dst->uri, elapsed,
                              run.durations[VMI_MIGRATE_PHASE_UNHOOK],
                              run.durations[VMI_MIGRATE_PHASE_TRANSFER],
                              run.durations[VMI_MIGRATE_PHASE_REHOOK]);
    return vmiMigrateResult(&run, VMI_EXIT_OK, VMI_MIGRATE_PHASE_LAST, message);
}


const vmiCliCommand vmiCmdMigrate = {
    "migrate", "DOMAIN DEST-URI",
    "Migrate a domain, checking the destination first and the re-hook after",
    "Migrate the running DOMAIN to the libvirtd at DEST-URI, as 'virsh\n"
    "migrate'. First, with nothing changed anywhere, the destination is\n"
    "checked: the key secret (--copy-key copies a missing one), the hook,\n"
    "the emulator, a listening tool. Then the phases are shown: libvirt\n"
    "prepares the destination, QEMU holds the migration until the tool has\n"
    "unhooked (at most the unhook timeout), the transfer (percent, rate),\n"
    "and the tool's hook on the destination, verified. Exit status: 1\n"
    "failure before the unhook wait (the source is unchanged), 3 migrated\n"
    "but the destination unmonitored, 4 pre-flight failed (nothing changed),\n"
    "5 failed or cancelled during the unhook wait, 6 failed during the\n"
    "transfer, 7 cancelled by SIGINT (Ctrl-C) or SIGTERM: the migration job\n"
    "is aborted, not left running (in 5, 6 and 7 the source runs on).",
    vmiCmdMigrateRun,
    VMI_DOMAIN_LOAD_ANY,
};
