/*
 * emu_log.c: messages in QEMU's error_report() format
 */
#include <unistd.h>

#include "emu_log.h"

typedef enum {
    EMU_LOG_ERROR,
    EMU_LOG_WARNING,
    EMU_LOG_INFO,
} emuLogType;

static char *progName;
static gboolean withTimestamp;
static char *guestName;
static char *location;
static int monitorDepth;
static GString *capture;


void
emuLogInit(const char *argv0)
{
    g_free(progName);
    progName = g_path_get_basename(argv0);
}


void
emuLogSetTimestamp(gboolean on)
{
    withTimestamp = on;
}


void
emuLogSetGuestName(const char *name)
{
    g_free(guestName);
    guestName = g_strdup(name);
}


void
emuLogSetLocation(const char *option, const char *value)
{
    g_clear_pointer(&location, g_free);
    if (option)
        location = value ? g_strdup_printf("%s %s", option, value) : g_strdup(option);
}


void
emuLogEnterMonitor(void)
{
    monitorDepth++;
}


void
emuLogLeaveMonitor(void)
{
    monitorDepth--;
}


void
emuLogCaptureBegin(void)
{
    if (!capture)
        capture = g_string_new(NULL);
    monitorDepth++;
}


char *
emuLogCaptureEnd(void)
{
    monitorDepth--;
    return capture ? g_string_free(g_steal_pointer(&capture), FALSE) : g_strdup("");
}


const char *
emuLogProgName(void)
{
    return progName ? progName : "qemu-kvmi";
}


/* One write(2) per message: QEMU writes to the same stderr. */
static void
emuLogWrite(GString *buf)
{
    const char *p = buf->str;
    gsize left = buf->len;

    while (left > 0) {
        ssize_t n = write(STDERR_FILENO, p, left);

        if (n < 0)
            return;
        p += n;
        left -= n;
    }
}


static void
emuLogPrefix(GString *buf, emuLogType type)
{
    if (monitorDepth == 0) {
        if (withTimestamp) {
            g_autoptr(GDateTime) now = g_date_time_new_now_utc();
            g_autofree char *stamp = g_date_time_format_iso8601(now);

            g_string_append_printf(buf, "%s ", stamp);
        }
        if (guestName)
            g_string_append_printf(buf, "%s ", guestName);
        g_string_append_printf(buf, "%s:", emuLogProgName());
        if (location)
            g_string_append_printf(buf, " %s:", location);
        g_string_append_c(buf, ' ');
    }
    if (type == EMU_LOG_WARNING)
        g_string_append(buf, "warning: ");
    else if (type == EMU_LOG_INFO)
        g_string_append(buf, "info: ");
}


static void
emuLogV(emuLogType type, const char *hint, const char *fmt, va_list ap)
{
    g_autoptr(GString) buf = g_string_new(NULL);

    emuLogPrefix(buf, type);
    g_string_append_vprintf(buf, fmt, ap);
    g_string_append_c(buf, '\n');
    if (hint)
        g_string_append(buf, hint);
    if (capture)
        g_string_append_len(capture, buf->str, buf->len);
    else
        emuLogWrite(buf);
}


void
emuError(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emuLogV(EMU_LOG_ERROR, NULL, fmt, ap);
    va_end(ap);
}


void
emuWarn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emuLogV(EMU_LOG_WARNING, NULL, fmt, ap);
    va_end(ap);
}


void
emuInfo(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emuLogV(EMU_LOG_INFO, NULL, fmt, ap);
    va_end(ap);
}


static void
emuHintV(emuLogType type, const char *hint, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    emuLogV(type, hint, fmt, ap);
    va_end(ap);
}


void
emuWarnHint(const char *msg, const char *hint)
{
    emuHintV(EMU_LOG_WARNING, hint, "%s", msg);
}


void
emuErrorHint(const char *msg, const char *hint)
{
    emuHintV(EMU_LOG_ERROR, hint, "%s", msg);
}
