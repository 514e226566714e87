/*
 * emu_vmi.c: the introspection object at run time (what accel/kvm/vmi.c does)
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "emu_handshake.h"
#include "emu_kernel.h"
#include "emu_log.h"
#include "emu_secret.h"
#include "emu_stream.h"
#include "emu_vmi.h"

VMI_ENUM_IMPL(emuAction, EMU_ACTION_LAST,
              "none",
              "suspend",
              "resume",
              "force-reset",
              "migrate",
              "shutdown");

/* QEMU's globals: they outlive the object, and exist without one */
static gboolean suspendPending;
static gboolean migratePending;
static gboolean shutdownPending;

struct _emuVmi {
    emuObject *obj;
    emuChardev *chr;
    gboolean fromCmdline;
    gboolean keyWithCookie;
    guint8 cookie[KVMI_WIRE_COOKIE_LEN];
    gint64 startTime;               /* ms since the epoch */

    emuStream *sock;                /* the connection, while the chardev has one */
    gboolean sockActive;            /* the RFC's sock_fd != -1 */
    emuKernel *kernel;              /* kvmi_hooked */

    guint hskTimer;
    kvmiWireToolHandshake hskIn;
    gsize hskReadPos;               /* bytes kept in hskIn */
    guint64 hskReadSize;            /* bytes read */

    emuAction intercepted;
    emuVmiContinueFunc cont;
    gpointer contOpaque;
    guint unhookTimer;
    int reconnectTime;              /* saved while reconnects are disabled */

    gboolean waiting;               /* async_unhook=off: a command waits */
    emuVmiContinueFunc waitCont;
    gpointer waitOpaque;
    guint waitIdle;
};

static void emuVmiChrEvent(emuChardev *chr, emuChrEvent event, gpointer opaque);
static void emuVmiCheckWait(emuVmi *vmi);


/* --- creation ---------------------------------------------------------- */

static gboolean
emuVmiLoadKey(emuVmi *vmi, GHashTable *objects, GError **error)
{
    const char *keyId = vmi->obj->key;
    const emuSecret *secret = emuSecretsLookup(keyId);
    g_autoptr(GBytes) key = NULL;
    const char *type = objects ? g_hash_table_lookup(objects, keyId) : NULL;

    if (!secret || (type && !g_str_equal(type, "secret"))) {
        if (type && !g_str_equal(type, "secret"))
            g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED,
                        "Object with id '%s' is not a secret", keyId);
        else
            g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED, "No secret with id '%s'", keyId);
        return FALSE;
    }
    if (!(key = emuSecretLoad(secret, error)))
        return FALSE;
    emuHandshakeCookie(key, vmi->cookie);
    vmi->keyWithCookie = TRUE;
    return TRUE;
}


emuVmi *
emuVmiNew(emuObject *obj, gboolean fromCmdline, GHashTable *qemuChardevs,
          GHashTable *objects, GError **error)
{
    g_autofree emuVmi *vmi = g_new0(emuVmi, 1);
    emuChardev *chr;

    vmi->obj = obj;
    vmi->fromCmdline = fromCmdline;
    vmi->startTime = g_get_real_time() / 1000;

    if (!emuCtx.kvm) {
        g_set_error_literal(error, EMU_ERROR, EMU_ERROR_FAILED, "VMI: missing KVM support");
        return NULL;
    }
    /* "VMI: missing kernel built with CONFIG_KVM_INTROSPECTION": never,
     * the emulator is that kernel */
    chr = emuContextFindChardev(obj->chardev);
    if (!chr && !(qemuChardevs && g_hash_table_contains(qemuChardevs, obj->chardev))) {
        g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED, "VMI: device '%s' not found",
                    obj->chardev);
        return NULL;
    }
    /* QEMU's own chardevs are never reconnecting clients: those are ours */
    if (!chr || !emuChardevReconnecting(chr)) {
        g_set_error(error, EMU_ERROR, EMU_ERROR_FAILED, "VMI: missing reconnect=N for '%s'",
                    obj->chardev);
        return NULL;
    }
    if (obj->key) {
        if (!emuVmiLoadKey(vmi, objects, error))
            return NULL;
    } else {
        emuWarn("VMI: the introspection tool won't be 'authenticated'");
    }
    vmi->chr = chr;
    return g_steal_pointer(&vmi);
}


void
emuVmiStart(emuVmi *vmi)
{
    /* a QMP-created object "disconnects" the chardev to restart its timer */
    emuChardevAttach(vmi->chr, emuVmiChrEvent, vmi, !vmi->fromCmdline);
}


const emuObject *
emuVmiObject(emuVmi *vmi)
{
    return vmi->obj;
}


emuChardev *
emuVmiChardev(emuVmi *vmi)
{
    return vmi->chr;
}


/* --- the connection ----------------------------------------------------- */

static void
emuVmiClearSource(guint *id)
{
    if (*id) {
        g_source_remove(*id);
        *id = 0;
    }
}


static void
emuVmiDropStream(emuVmi *vmi)
{
    g_clear_pointer(&vmi->sock, emuStreamFree);
}


static void
emuVmiDisconnectChardev(emuVmi *vmi)
{
    if (emuChardevConnected(vmi->chr)) {
        emuVmiDropStream(vmi);
        emuChardevDisconnect(vmi->chr);
    }
}


static void
emuVmiUnhookKvmi(emuVmi *vmi)
{
    g_clear_pointer(&vmi->kernel, emuKernelUnhook);
}


/* "signal both ends (kernel, introspector)" */
static void
emuVmiShutdownSocket(emuVmi *vmi)
{
    if (vmi->sockActive) {
        /* after a hang-up the chardev has already closed it */
        if (vmi->sock)
            shutdown(emuStreamFd(vmi->sock), SHUT_RDWR);
        vmi->sockActive = FALSE;
        emuVmiCheckWait(vmi);
    }
}


static void
emuVmiDisconnectAndUnhook(emuVmi *vmi)
{
    emuVmiShutdownSocket(vmi);
    emuVmiDisconnectChardev(vmi);
    emuVmiUnhookKvmi(vmi);
}


static void
emuVmiMaybeDisableReconnect(emuVmi *vmi)
{
    if (shutdownPending) {
        /* the guest may not stop after all: let the tool come back */
        shutdownPending = FALSE;
        return;
    }
    if (vmi->reconnectTime == 0) {
        emuInfo("VMI: disable socket reconnect");
        vmi->reconnectTime = emuChardevReconnectTime(vmi->chr, 0);
    }
}


static void
emuVmiEnableReconnect(emuVmi *vmi)
{
    if (!vmi->sockActive && vmi->reconnectTime) {
        emuChardevReconnectTime(vmi->chr, vmi->reconnectTime);
        emuChardevDisconnect(vmi->chr);
        vmi->reconnectTime = 0;
    }
}


static void
emuVmiContinueAction(emuVmi *vmi)
{
    emuAction action = vmi->intercepted;
    emuVmiContinueFunc cont = vmi->cont;
    gpointer opaque = vmi->contOpaque;

    vmi->cont = NULL;
    vmi->contOpaque = NULL;
    if (cont)
        cont(opaque);
    emuInfo("VMI: continue with '%s'", emuActionToString(action));
}


static void
emuVmiHookFailed(emuVmi *vmi, const char *msg)
{
    emuWarnHint(msg, "reconnecting\n");
    emuVmiDisconnectChardev(vmi);
}


static void
emuVmiKernelClosed(emuKernel *kernel, gpointer opaque)
{
    emuVmi *vmi = opaque;

    /* QEMU's chardev sees the hang-up */
    emuVmiDropStream(vmi);
    emuChardevDisconnect(vmi->chr);
}


static void
emuVmiQueryVcpusDone(emuSession *session, yajl_val ret, const char *desc, gpointer opaque)
{
    emuVmi *vmi = emuCtx.vmi;

    /* the kernel may have gone meanwhile: only answer the current one */
    if (!vmi || vmi->kernel != opaque)
        return;
    emuKernelVcpuCount(vmi->kernel, YAJL_IS_ARRAY(ret) ? ret->u.array.len : 0);
}


static void
emuVmiKernelQueryVcpus(emuKernel *kernel, gpointer opaque)
{
    emuSessionCall(emuCtx.priv, "query-cpus-fast", NULL, emuVmiQueryVcpusDone, kernel);
}


/* set_allowed_features(): each id of the list, or all (-1) */
static gboolean
emuVmiSetAllowed(emuVmi *vmi, gboolean commands, char **msg)
{
    GArray *list = commands ? vmi->obj->commands : vmi->obj->events;
    guint32 ioctl = commands ? EMU_KVM_INTROSPECTION_COMMAND : EMU_KVM_INTROSPECTION_EVENT;
    guint i;

    for (i = 0; i == 0 || i < list->len; i++) {
        gint32 id = list->len ? (gint32)g_array_index(list, guint32, i) : -1;
        gboolean ok = commands ? emuKernelAllowCommand(vmi->kernel, id) :
                                 emuKernelAllowEvent(vmi->kernel, id);

        if (!ok) {
            /* error_setg_errno(errp, -errno, ...) with errno EINVAL */
            *msg = g_strdup_printf("VMI: feature %d with id %d failed: %s",
                                   (int)ioctl, id, g_strerror(-EINVAL));
            return FALSE;
        }
    }
    return TRUE;
}


/* connect_kernel(): KVM_INTROSPECTION_HOOK, then the allow-lists */
static gboolean
emuVmiConnectKernel(emuVmi *vmi, const char *pending, gsize len, char **msg)
{
    static const emuKernelCallbacks cb = { emuVmiKernelClosed, emuVmiKernelQueryVcpus };

    vmi->kernel = emuKernelHook(vmi->sock, &cb, vmi);
    if (!emuVmiSetAllowed(vmi, TRUE, msg) || !emuVmiSetAllowed(vmi, FALSE, msg)) {
        emuVmiUnhookKvmi(vmi);
        return FALSE;
    }
    emuKernelStart(vmi->kernel, pending, len);
    emuInfo("VMI: machine hooked");
    return TRUE;
}


static void
emuVmiValidateAndConnect(emuVmi *vmi, const char *rest, gsize len)
{
    g_autofree char *msg = NULL;

    if (vmi->hskIn.structSize < sizeof(kvmiWireToolHandshake)) {
        emuVmiHookFailed(vmi, "VMI: not enough or invalid handshake data");
        return;
    }
    if (vmi->keyWithCookie &&
        memcmp(vmi->cookie, vmi->hskIn.cookieHash, sizeof(vmi->cookie)) != 0) {
        emuVmiHookFailed(vmi, "VMI: received cookie doesn't match");
        return;
    }
    if (!emuVmiConnectKernel(vmi, rest, len, &msg))
        emuVmiHookFailed(vmi, msg);
}


/* How many handshake bytes QEMU would read next (chr_can_read()). */
static gsize
emuVmiHandshakeWants(emuVmi *vmi)
{
    if (!vmi->hskTimer || !vmi->sockActive)
        return 0;
    if (vmi->hskReadSize < sizeof(vmi->hskIn.structSize))
        return sizeof(vmi->hskIn.structSize) - vmi->hskReadSize;
    /* a size smaller than its own field: nothing more is read */
    if (vmi->hskIn.structSize < sizeof(vmi->hskIn.structSize))
        return 0;
    return vmi->hskIn.structSize - vmi->hskReadSize;
}


static void
emuVmiOnHandshakeRead(emuStream *stream, const char *data, gsize len, GArray *fds,
                      gpointer opaque)
{
    emuVmi *vmi = opaque;

    emuCloseFds(fds);
    while (len > 0) {
        gsize take = MIN(emuVmiHandshakeWants(vmi), len);
        gsize keep;

        if (take == 0)
            return;     /* QEMU leaves the rest in the socket */
        keep = MIN(take, sizeof(vmi->hskIn) - MIN(vmi->hskReadPos, sizeof(vmi->hskIn)));
        memcpy((guint8 *)&vmi->hskIn + vmi->hskReadPos, data, keep);
        vmi->hskReadPos += keep;
        vmi->hskReadSize += take;
        data += take;
        len -= take;
        if (vmi->hskReadSize >= sizeof(vmi->hskIn.structSize) &&
            vmi->hskReadSize == vmi->hskIn.structSize) {
            emuVmiClearSource(&vmi->hskTimer);
            /* the bytes after the handshake are the kernel's */
            emuVmiValidateAndConnect(vmi, data, len);
            return;
        }
    }
}


static void
emuVmiOnSockEof(emuStream *stream, gpointer opaque)
{
    emuVmi *vmi = opaque;

    emuVmiDropStream(vmi);
    emuChardevDisconnect(vmi->chr);
}


static gboolean
emuVmiOnHandshakeTimeout(gpointer opaque)
{
    emuVmi *vmi = opaque;

    vmi->hskTimer = 0;
    emuWarn("VMI: the handshake takes too long");
    emuVmiDisconnectAndUnhook(vmi);
    return G_SOURCE_REMOVE;
}


static gboolean
emuVmiTooSoon(void)
{
    return suspendPending || migratePending || shutdownPending;
}


static void
emuVmiChrEventOpen(emuVmi *vmi)
{
    g_autoptr(GBytes) hs = NULL;
    const guint8 *data;
    gsize len;

    if (emuVmiTooSoon()) {
        emuInfo("VMI: chr_event_open: too soon (suspend=%d, migrate=%d, shutdown=%d)",
                suspendPending, migratePending, shutdownPending);
        emuVmiMaybeDisableReconnect(vmi);
        emuChardevDisconnect(vmi->chr);
        return;
    }

    vmi->sock = emuStreamNew(emuChardevFd(vmi->chr), emuChardevFd(vmi->chr), FALSE);
    hs = emuHandshakeBuild(emuCtx.uuid, vmi->startTime, emuCtx.guestName, emuCtx.e820);
    data = g_bytes_get_data(hs, &len);
    emuStreamWrite(vmi->sock, data, len);

    emuInfo("VMI: introspection tool connected");
    vmi->sockActive = TRUE;
    memset(&vmi->hskIn, 0, sizeof(vmi->hskIn));
    vmi->hskReadPos = 0;
    vmi->hskReadSize = 0;
    vmi->hskTimer = g_timeout_add(vmi->obj->handshakeTimeout * 1000,
                                  emuVmiOnHandshakeTimeout, vmi);
    emuStreamSetHandlers(vmi->sock, emuVmiOnHandshakeRead, emuVmiOnSockEof, vmi);
}


static void
emuVmiChrEventClose(emuVmi *vmi)
{
    emuVmiDropStream(vmi);
    if (vmi->sockActive) {
        emuWarn("VMI: introspection tool disconnected");
        emuVmiDisconnectAndUnhook(vmi);
    }
    emuVmiUnhookKvmi(vmi);
    emuVmiClearSource(&vmi->unhookTimer);
    emuVmiClearSource(&vmi->hskTimer);

    if (emuVmiTooSoon())
        emuVmiMaybeDisableReconnect(vmi);
    /* The RFC continues only while a flag is set: a `cont` from another
     * monitor during a held `stop` clears it, and that stop would never be
     * answered. The emulator answers it. */
    if (vmi->intercepted != EMU_ACTION_NONE) {
        emuVmiContinueAction(vmi);
        vmi->intercepted = EMU_ACTION_NONE;
    }
}


static void
emuVmiChrEvent(emuChardev *chr, emuChrEvent event, gpointer opaque)
{
    emuVmi *vmi = opaque;

    if (event == EMU_CHR_OPENED)
        emuVmiChrEventOpen(vmi);
    else
        emuVmiChrEventClose(vmi);
}


void
emuVmiFree(emuVmi *vmi)
{
    if (!vmi)
        return;
    emuVmiClearSource(&vmi->unhookTimer);
    emuVmiClearSource(&vmi->hskTimer);
    emuVmiClearSource(&vmi->waitIdle);
    if (vmi->sockActive && vmi->sock)
        shutdown(emuStreamFd(vmi->sock), SHUT_RDWR);
    emuVmiDropStream(vmi);
    emuVmiUnhookKvmi(vmi);
    if (vmi->chr) {
        /* qemu_chr_fe_deinit(..., true): the chardev goes with the object */
        emuChardevDetach(vmi->chr);
        emuContextRemoveChardev(vmi->chr);
    }
    emuObjectFree(vmi->obj);
    g_free(vmi);
}


/* --- interceptions ----------------------------------------------------- */

static gboolean
emuVmiOnUnhookTimeout(gpointer opaque)
{
    emuVmi *vmi = opaque;

    vmi->unhookTimer = 0;
    emuWarn("VMI: the introspection tool is too slow");
    emuVmiDisconnectAndUnhook(vmi);
    return G_SOURCE_REMOVE;
}


static gboolean
emuVmiOnWaitDone(gpointer opaque)
{
    emuVmi *vmi = opaque;
    emuVmiContinueFunc cont = vmi->waitCont;
    gpointer contOpaque = vmi->waitOpaque;

    vmi->waitIdle = 0;
    vmi->waiting = FALSE;
    vmi->waitCont = NULL;
    /* still inside the waiting QMP command */
    emuLogEnterMonitor();
    emuInfo("VMI: continue with the intercepted action fd=%d", -1);
    emuVmiMaybeDisableReconnect(vmi);
    emuInfo("VMI: intercept action: continue");
    emuLogLeaveMonitor();
    cont(contOpaque);
    return G_SOURCE_REMOVE;
}


/* wait_until_the_socket_is_closed() returns once sock_fd is -1 */
static void
emuVmiCheckWait(emuVmi *vmi)
{
    if (vmi->waiting && !vmi->sockActive && !vmi->waitIdle)
        vmi->waitIdle = g_idle_add(emuVmiOnWaitDone, vmi);
}


static gboolean
emuVmiRecordAction(emuAction action)
{
    switch (action) {
    case EMU_ACTION_SUSPEND:
        suspendPending = TRUE;
        return TRUE;
    case EMU_ACTION_RESUME:
        suspendPending = FALSE;
        return TRUE;
    case EMU_ACTION_FORCE_RESET:
        return TRUE;
    case EMU_ACTION_MIGRATE:
        migratePending = TRUE;
        return TRUE;
    case EMU_ACTION_SHUTDOWN:
        shutdownPending = TRUE;
        return TRUE;
    case EMU_ACTION_NONE:
    case EMU_ACTION_LAST:
        break;
    }
    return FALSE;
}


/* KVM_INTROSPECTION_PREUNHOOK: succeeds only if the tool gets the event */
static gboolean
emuVmiSignalUnhook(emuVmi *vmi)
{
    return vmi->kernel && vmi->sockActive && emuKernelPreunhook(vmi->kernel);
}


static emuInterceptResult
emuVmiInterceptAction(emuVmi *vmi, emuAction action, emuVmiContinueFunc cont,
                      gpointer opaque)
{
    if (vmi->intercepted != EMU_ACTION_NONE) {
        emuError("VMI: unhook in progress");
        return EMU_INTERCEPT_CONTINUE;
    }
    switch (action) {
    case EMU_ACTION_SHUTDOWN:
        if (!vmi->obj->unhookOnShutdown)
            return EMU_INTERCEPT_CONTINUE;
        break;
    case EMU_ACTION_FORCE_RESET:
        emuVmiDisconnectAndUnhook(vmi);
        return EMU_INTERCEPT_CONTINUE;
    case EMU_ACTION_RESUME:
        emuVmiEnableReconnect(vmi);
        return EMU_INTERCEPT_CONTINUE;
    default:
        break;
    }

    if (!emuVmiSignalUnhook(vmi)) {
        emuVmiDisconnectAndUnhook(vmi);
        return EMU_INTERCEPT_CONTINUE;
    }
    emuVmiClearSource(&vmi->unhookTimer);
    vmi->unhookTimer = g_timeout_add(vmi->obj->unhookTimeout * 1000,
                                     emuVmiOnUnhookTimeout, vmi);
    if (!vmi->obj->asyncUnhook) {
        emuInfo("VMI: start waiting until fd=%d is closed", emuStreamFd(vmi->sock));
        vmi->waiting = TRUE;
        vmi->waitCont = cont;
        vmi->waitOpaque = opaque;
        return EMU_INTERCEPT_WAIT;
    }
    vmi->intercepted = action;
    vmi->cont = cont;
    vmi->contOpaque = opaque;
    return EMU_INTERCEPT_DELAYED;
}


emuInterceptResult
emuVmiIntercept(emuAction action, emuVmiContinueFunc cont, gpointer opaque)
{
    emuInterceptResult ret = EMU_INTERCEPT_CONTINUE;

    emuInfo("VMI: intercept command: %s", emuActionToString(action));
    if (emuVmiRecordAction(action) && emuCtx.vmi)
        ret = emuVmiInterceptAction(emuCtx.vmi, action, cont, opaque);
    /* a waiting command says so when the wait is over */
    if (ret != EMU_INTERCEPT_WAIT)
        emuInfo("VMI: intercept action: %s",
                ret == EMU_INTERCEPT_DELAYED ? "delayed" : "continue");
    return ret;
}


void
emuVmiReset(void)
{
    emuVmi *vmi = emuCtx.vmi;

    if (!vmi)
        return;
    if (vmi->sockActive) {
        emuInfo("VMI: Reset detected. Closing the socket...");
        emuVmiDisconnectAndUnhook(vmi);
    }
    vmi->startTime = g_get_real_time() / 1000;
    /* a warm reset triggered by the user */
    shutdownPending = FALSE;
}


void
emuVmiMigrationFailed(void)
{
    migratePending = FALSE;
}
