/* err: the project's one way to say why a call failed: functions that can fail take a
 * `char *err, size_t errsz` buffer and fill it with one sentence a person can act on. */
#ifndef CHAINLAB_ERR_H
#define CHAINLAB_ERR_H

#include <stddef.h>

#define ERR_SZ 256 /* a buffer size that holds any of the project's messages */

/* Write the message (printf format) into err, cut to errsz - 1 bytes and NUL-terminated.
 * err NULL or errsz 0: nothing is written. */
void err_set(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
