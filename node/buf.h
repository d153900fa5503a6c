/* buf: a growable byte buffer, always NUL-terminated after its length. */
#ifndef CHAINLAB_BUF_H
#define CHAINLAB_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data; /* owned; NULL until the first append */
    size_t len; /* bytes in use, not counting the terminating NUL */
    size_t cap; /* bytes allocated */
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Make room for at least extra more bytes (plus the NUL). Aborts on OOM. */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_append_str(struct buf *b, const char *s);
void buf_append_char(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Forget the contents, keep the allocation. */
void buf_clear(struct buf *b);
/* Hand the data to the caller (caller frees with free(); never NULL) and reset b. */
char *buf_steal(struct buf *b, size_t *len);
/* Append the whole file at path to b. Returns 0, or -1 (errno set) when it cannot be read. */
int buf_read_file(struct buf *b, const char *path);
/* Release the allocation; b is empty again. */
void buf_free(struct buf *b);

#endif
