/* capture.h: what a piece of code writes to stderr, for unit tests that assert on log lines
 * (header-only, included by the test files that need it). A passing suite prints no error
 * lines: a test that provokes one captures it and checks it. */
#ifndef CHAINLAB_TEST_CAPTURE_H
#define CHAINLAB_TEST_CAPTURE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct capture {
    int saved; /* the real stderr, restored by capture_end() */
    FILE *file;
};

/* From now on stderr goes to a temporary file. */
static inline void capture_begin(struct capture *c)
{
    fflush(stderr);
    c->file = tmpfile();
    ck_assert_ptr_nonnull(c->file);
    c->saved = dup(STDERR_FILENO);
    ck_assert_int_ge(c->saved, 0);
    ck_assert_int_ge(dup2(fileno(c->file), STDERR_FILENO), 0);
}

/* Restore stderr and return everything written since capture_begin() (caller frees). */
static inline char *capture_end(struct capture *c)
{
    fflush(stderr);
    ck_assert_int_ge(dup2(c->saved, STDERR_FILENO), 0);
    close(c->saved);
    long n = ftell(c->file);
    ck_assert_int_ge(n, 0);
    char *text = calloc(1, (size_t)n + 1);
    ck_assert_ptr_nonnull(text);
    rewind(c->file);
    ck_assert_uint_eq(fread(text, 1, (size_t)n, c->file), (size_t)n);
    fclose(c->file);
    return text;
}

#endif
