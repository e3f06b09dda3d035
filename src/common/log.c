/* log.c: leveled logging (see log.h). Thread-safe: one fprintf per line, and
 * stdio locks the stream for the duration of each call. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static enum log_level g_level = LOG_LEVEL_INFO;
static const char *const g_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_set_level(enum log_level lvl)
{
    g_level = lvl;
}

int log_level_parse(const char *s)
{
    static const char *const lower[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, lower[i]) == 0)
            return i;
    return -1;
}

int log_enabled(enum log_level lvl)
{
    return lvl <= g_level;
}

void log_write(enum log_level lvl, const char *fmt, ...)
{
    if (lvl > g_level)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s\n", tm.tm_year + 1900, tm.tm_mon + 1,
            tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000), g_names[lvl], msg);
}

void log_flush(void)
{
    fflush(stderr);
}
