/* log.h: leveled logging to stderr, one line per event.
 *
 * Lines look like "2026-11-23T10:00:00.123Z WARN store: ...". Errors that an
 * operator must act on (the disk is full, the store became read-only) are
 * logged at ERROR with a "STORE NOT WRITABLE" style prefix so they stand out. */
#ifndef BP_LOG_H
#define BP_LOG_H

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Sets the most verbose level that is printed (default INFO). */
void log_set_level(enum log_level lvl);
/* Parses "error", "warn", "info" or "debug"; returns -1 for anything else. */
int log_level_parse(const char *s);
int log_enabled(enum log_level lvl);
void log_write(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_flush(void);

#define LOG_ERROR(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)
#define LOG_WARN(...) log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define LOG_INFO(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) \
    do { if (log_enabled(LOG_LEVEL_DEBUG)) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)

#endif
