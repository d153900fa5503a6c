/* log: one line per event on stderr, prefixed with the process id, pid and a ms timestamp. */
#ifndef CHAINLAB_LOG_H
#define CHAINLAB_LOG_H

#include <stddef.h>

enum log_level {
    LOG_ERROR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
};

extern enum log_level log_threshold; /* lines above this level are dropped; default LOG_INFO */

/* Set the prefix (e.g. the node id; copied, at most 31 bytes) and the threshold. Not thread-safe:
 * call before starting threads. */
void log_setup(const char *id, enum log_level level);
/* Parse "error", "warn", "info" or "debug". Returns 0, or -1 when the name is unknown. */
int log_level_parse(const char *name, enum log_level *out);
/* Write one line (thread-safe, a single write(2)). Use the macros below instead. */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Escape untrusted bytes for a log line: printable ASCII kept, the rest as \xNN, cut at max bytes
 * of input with "..." appended. Writes into out (size outsz, always NUL-terminated), returns out.
 */
char *log_escape(const char *s, size_t len, size_t max, char *out, size_t outsz);

#define LOG_AT(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) <= log_threshold)                                                              \
            log_write((level), __VA_ARGS__);                                                       \
    } while (0)
#define log_error(...) LOG_AT(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  LOG_AT(LOG_WARN, __VA_ARGS__)
#define log_info(...)  LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)

#endif
