/* err: filling a caller's error buffer. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

void err_set(char *err, size_t errsz, const char *fmt, ...)
{
    if (err == NULL || errsz == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
}
