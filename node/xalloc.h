/* xalloc: allocation that aborts on out-of-memory, so callers handle real errors only. */
#ifndef CHAINLAB_XALLOC_H
#define CHAINLAB_XALLOC_H

#include <stddef.h>

/* Each returns valid memory or aborts the process with a message; caller frees with free(). */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Copy of n bytes plus a terminating NUL (for byte strings that may hold NULs). */
char *xmemdup(const void *p, size_t n);
/* A new string formatted as printf would. Caller frees with free(). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
