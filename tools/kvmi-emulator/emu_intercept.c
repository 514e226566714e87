/*
 * emu_intercept.c: the QMP commands a KVMI QEMU treats differently
 *
 * Here: the dispatch, and the actions the object intercepts (stop, cont,
 * system_reset, system_powerdown, their HMP spellings); migration is in
 * emu_migrate.c, the objects and chardevs in emu_qom.c.
 */
#include <string.h>

#include "emu_context.h"
#include "emu_handlers.h"
#include "emu_intercept.h"
#include "emu_log.h"

typedef void (*emuStatusFunc)(emuRequest *req, const char *status);

typedef struct {
    emuRequest *req;
    emuStatusFunc func;
} emuStatusQuery;

static void (*quitFunc)(void);


void
emuInterceptSetQuitFunc(void (*func)(void))
{
    quitFunc = func;
}


void
emuInterceptQemuGone(void)
{
    if (quitFunc)
        quitFunc();
}


/* --- helpers ------------------------------------------------------------- */

static gboolean
emuIsHmp(emuRequest *req)
{
    return g_str_equal(req->execute, "human-monitor-command");
}


/* What a VMI interception logs inside a QMP command goes to stderr without
 * prefix; inside an HMP command it goes to that command's output. */
emuInterceptResult
emuInterceptCall(emuRequest *req, emuAction action, emuVmiContinueFunc cont, gpointer opaque)
{
    emuInterceptResult ret;

    if (emuIsHmp(req)) {
        emuLogCaptureBegin();
        ret = emuVmiIntercept(action, cont, opaque);
        g_free(req->data);
        req->data = emuLogCaptureEnd();
        req->dataFree = g_free;
        return ret;
    }
    emuLogEnterMonitor();
    ret = emuVmiIntercept(action, cont, opaque);
    emuLogLeaveMonitor();
    return ret;
}


/* {"return": TEXT, "id": ...}, HMP's reply */
static GString *
emuHmpReply(emuRequest *req, const char *text)
{
    yajl_gen gen = emuQmpReturnBegin(req->pretty);

    emuJsonGenString(gen, text);
    return emuQmpReturnEnd(gen, req->id);
}


/* HMP: the captured messages come before QEMU's own output. */
static GString *
emuHmpFilter(emuRequest *req, const char *msg, gsize len)
{
    yajl_val tree;
    yajl_val ret;
    g_autofree char *text = NULL;

    if (!req->data || !*(const char *)req->data)
        return NULL;
    tree = emuJsonParse(msg, len);
    ret = emuJsonGet(tree, "return");
    if (YAJL_IS_STRING(ret))
        text = g_strconcat(req->data, YAJL_GET_STRING(ret), NULL);
    yajl_tree_free(tree);
    return text ? emuHmpReply(req, text) : NULL;
}


static emuReplyFilter
emuReplyFilterFor(emuRequest *req)
{
    return emuIsHmp(req) ? emuHmpFilter : NULL;
}


static void
emuStatusDone(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    g_autofree emuStatusQuery *query = opaque;

    query->func(query->req, ret ? emuJsonGetString(ret, "status") : NULL);
}


static void
emuQueryStatus(emuRequest *req, emuStatusFunc func)
{
    emuStatusQuery *query = g_new0(emuStatusQuery, 1);

    query->req = req;
    query->func = func;
    emuSessionCall(emuCtx.priv, "query-status", NULL, emuStatusDone, query);
}


gboolean
emuIsSuccess(const char *msg, gsize len)
{
    g_autofree char *key = emuJsonFirstKey(msg, len);

    return key && g_str_equal(key, "return");
}


/* --- stop, cont, system_reset, system_powerdown -------------------------- */

void
emuReleaseRequest(gpointer opaque)
{
    emuRequest *req = opaque;

    emuProxyForward(req, emuReplyFilterFor(req));
}


static void
emuStopWithStatus(emuRequest *req, const char *status)
{
    /* qmp_stop(): during an incoming migration it only clears autostart */
    if (status && g_str_equal(status, "inmigrate")) {
        emuProxyForward(req, NULL);
        return;
    }
    /* delayed or waiting: the reply, and what the monitor does next, wait */
    if (emuInterceptCall(req, EMU_ACTION_SUSPEND, emuReleaseRequest, req) ==
        EMU_INTERCEPT_CONTINUE)
        emuProxyForward(req, emuReplyFilterFor(req));
}


static gboolean
emuHmpSucceeded(const char *msg, gsize len)
{
    yajl_val tree = emuJsonParse(msg, len);
    yajl_val ret = emuJsonGet(tree, "return");
    gboolean ok = YAJL_IS_STRING(ret) && YAJL_GET_STRING(ret)[0] == '\0';

    yajl_tree_free(tree);
    return ok;
}


/* qmp_cont() intercepts after vm_start(), when it got that far */
static GString *
emuContFilter(emuRequest *req, const char *msg, gsize len)
{
    const char *prior = req->data;
    gboolean ok = emuIsHmp(req) ? emuHmpSucceeded(msg, len) : emuIsSuccess(msg, len);

    if (!ok || !prior || g_str_equal(prior, "inmigrate") || g_str_equal(prior, "suspended"))
        return NULL;
    req->data = NULL;
    req->dataFree = NULL;
    emuInterceptCall(req, EMU_ACTION_RESUME, NULL, NULL);
    g_free((char *)prior);
    return emuIsHmp(req) ? emuHmpFilter(req, msg, len) : NULL;
}


static void
emuContWithStatus(emuRequest *req, const char *status)
{
    req->data = g_strdup(status);
    req->dataFree = g_free;
    emuProxyForward(req, emuContFilter);
}


static void
emuSystemReset(emuRequest *req)
{
    emuInterceptCall(req, EMU_ACTION_FORCE_RESET, NULL, NULL);
    emuProxyForward(req, emuReplyFilterFor(req));
}


static void
emuPowerdownDone(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
}


static void
emuPowerdownRelease(gpointer opaque)
{
    g_autofree emuDeferred *deferred = opaque;

    /* qemu_system_powerdown_request() */
    if (deferred->req)
        emuReleaseRequest(deferred->req);
    else
        emuSessionCall(emuCtx.priv, "system_powerdown", NULL, emuPowerdownDone, NULL);
}


static void
emuSystemPowerdown(emuRequest *req)
{
    emuDeferred *deferred = g_new0(emuDeferred, 1);

    deferred->req = req;
    switch (emuInterceptCall(req, EMU_ACTION_SHUTDOWN, emuPowerdownRelease, deferred)) {
    case EMU_INTERCEPT_CONTINUE:
        g_free(deferred);
        emuProxyForward(req, emuReplyFilterFor(req));
        break;
    case EMU_INTERCEPT_DELAYED:
        /* qmp_system_powerdown() returns: only the request is delayed */
        deferred->req = NULL;
        if (emuIsHmp(req))
            emuProxyReply(req, emuHmpReply(req, req->data ? req->data : ""));
        else
            emuProxyReplyEmpty(req);
        break;
    case EMU_INTERCEPT_WAIT:
        break;
    }
}


/* HMP: "stop", "c", "system_reset"... with or without arguments */
static void
emuHmp(emuRequest *req)
{
    const char *line = req->args ? emuJsonGetString(req->args, "command-line") : NULL;
    g_auto(GStrv) words = NULL;
    const char *cmd;

    if (!line) {
        emuProxyForward(req, NULL);
        return;
    }
    words = g_strsplit_set(line, " \t", 2);
    cmd = words[0] ? words[0] : "";
    if (g_str_equal(cmd, "stop") || g_str_equal(cmd, "s"))
        emuQueryStatus(req, emuStopWithStatus);
    else if (g_str_equal(cmd, "cont") || g_str_equal(cmd, "c"))
        emuQueryStatus(req, emuContWithStatus);
    else if (g_str_equal(cmd, "system_reset"))
        emuSystemReset(req);
    else if (g_str_equal(cmd, "system_powerdown"))
        emuSystemPowerdown(req);
    else
        emuProxyForward(req, NULL);
}


/* --- dispatch ------------------------------------------------------------ */

static void
emuStop(emuRequest *req)
{
    emuQueryStatus(req, emuStopWithStatus);
}


static void
emuCont(emuRequest *req)
{
    emuQueryStatus(req, emuContWithStatus);
}


static const struct {
    const char *name;
    void (*handler)(emuRequest *req);
} handlers[] = {
    { "stop", emuStop },
    { "cont", emuCont },
    { "system_reset", emuSystemReset },
    { "system_powerdown", emuSystemPowerdown },
    { "migrate", emuMigrate },
    { "migrate_cancel", emuMigrateCancel },
    { "query-migrate", emuQueryMigrate },
    { "object-add", emuObjectAdd },
    { "object-del", emuObjectDel },
    { "chardev-add", emuChardevAdd },
    { "chardev-remove", emuChardevRemove },
    { "query-chardev", emuQueryChardev },
    { "qom-list", emuQomList },
    { "qom-get", emuQomGet },
    { "human-monitor-command", emuHmp },
};


void
emuInterceptDispatch(emuRequest *req)
{
    guint i;

    if (req->execute) {
        for (i = 0; i < G_N_ELEMENTS(handlers); i++) {
            if (g_str_equal(handlers[i].name, req->execute)) {
                handlers[i].handler(req);
                return;
            }
        }
    }
    emuProxyForward(req, NULL);
}


gboolean
emuInterceptEvent(emuMonitor *mon, const char *name, const char *msg, gsize len)
{
    yajl_val tree;
    const char *status;
    gboolean drop;

    if (!name || !g_str_equal(name, "MIGRATION") || !mon->dropMigrationSetup)
        return TRUE;
    tree = emuJsonParse(msg, len);
    status = emuJsonGetString(emuJsonGet(tree, "data"), "status");
    drop = status && g_str_equal(status, "setup");
    yajl_tree_free(tree);
    if (drop)
        mon->dropMigrationSetup = FALSE;
    return !drop;
}


void
emuInterceptPrivateEvent(emuSession *session, const char *msg, gsize len,
                         const char *name, gpointer opaque)
{
    /* qemu_register_reset(): every reset, the guest's and system_reset */
    if (name && g_str_equal(name, "RESET"))
        emuVmiReset();
}
