/* Unit tests for node/buf.c: appends, printf, steal, clear and free of the growable buffer. */
#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The invariant of every buffer: NUL-terminated after len, within cap. */
static void assert_sound(const struct buf *b)
{
    if (b->data == NULL) {
        ck_assert_uint_eq(b->len, 0);
        ck_assert_uint_eq(b->cap, 0);
        return;
    }
    ck_assert_uint_lt(b->len, b->cap);
    ck_assert_int_eq(b->data[b->len], '\0');
}

/* Byte k of the test pattern: every value, NUL and 0xff included. */
static char pattern(size_t k)
{
    return (char)(unsigned char)(k * 7 + 3);
}

static const struct {
    const char *prefix; /* appended first, NULL for none */
    size_t n;           /* then n pattern bytes */
} append_rows[] = {
    {NULL, 0},      {NULL, 1},      {NULL, 62},     {NULL, 63},       {NULL, 64},    {NULL, 65},
    {NULL, 127},    {NULL, 128},    {NULL, 129},    {NULL, 1000},     {NULL, 65536}, {"prefix", 0},
    {"prefix", 57}, {"prefix", 58}, {"prefix", 59}, {"prefix", 4096}, {"", 1},       {"", 0},
};

START_TEST(test_append)
{
    struct buf b = BUF_INIT;
    size_t n = append_rows[_i].n;
    size_t plen = append_rows[_i].prefix ? strlen(append_rows[_i].prefix) : 0;
    char *src = malloc(n ? n : 1);

    ck_assert_ptr_nonnull(src);
    for (size_t k = 0; k < n; k++)
        src[k] = pattern(k);
    if (append_rows[_i].prefix != NULL)
        buf_append_str(&b, append_rows[_i].prefix);
    buf_append(&b, src, n);
    assert_sound(&b);
    ck_assert_uint_eq(b.len, plen + n);
    ck_assert_ptr_nonnull(b.data);
    ck_assert_mem_eq(b.data, append_rows[_i].prefix ? append_rows[_i].prefix : "", plen);
    if (n > 0)
        ck_assert_mem_eq(b.data + plen, src, n);
    free(src);
    buf_free(&b);
}
END_TEST

/* A mixed sequence of appends, one row per step kind. */
START_TEST(test_append_kinds)
{
    struct buf b = BUF_INIT;

    buf_append_char(&b, 'a');
    buf_append_str(&b, "bc");
    buf_append_str(&b, "");
    buf_append(&b, "d\0e", 3);
    buf_append(&b, NULL, 0);
    buf_append_char(&b, '\0');
    assert_sound(&b);
    ck_assert_uint_eq(b.len, 7);
    ck_assert_mem_eq(b.data, "abcd\0e\0", 8);
    for (int k = 0; k < 1000; k++)
        buf_append_char(&b, (char)('0' + k % 10));
    assert_sound(&b);
    ck_assert_uint_eq(b.len, 1007);
    ck_assert_int_eq(b.data[1006], '9');
    buf_free(&b);
}
END_TEST

static const struct {
    const char *s;
    int d;
    int n; /* precision for the third field */
    const char *want;
} printf_rows[] = {
    {"", 0, 0, "|0|"},
    {"abc", -12, 2, "abc|-12|xx"},
    {"a%b", 2147483647, 5, "a%b|2147483647|xxxxx"},
    {"", 7, 57, "|7|xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {"", 7, 58, "|7|xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {"", 7, 59, "|7|xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {"", 7, 60, "|7|xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
};

static const char xs[] = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

START_TEST(test_printf)
{
    struct buf b = BUF_INIT;

    buf_printf(&b, "%s|%d|%.*s", printf_rows[_i].s, printf_rows[_i].d, printf_rows[_i].n, xs);
    assert_sound(&b);
    ck_assert_str_eq(b.data, printf_rows[_i].want);
    ck_assert_uint_eq(b.len, strlen(printf_rows[_i].want));
    /* appending again keeps the first */
    buf_printf(&b, "%s|%d|%.*s", printf_rows[_i].s, printf_rows[_i].d, printf_rows[_i].n, xs);
    assert_sound(&b);
    ck_assert_uint_eq(b.len, 2 * strlen(printf_rows[_i].want));
    ck_assert_str_eq(b.data + strlen(printf_rows[_i].want), printf_rows[_i].want);
    buf_free(&b);
}
END_TEST

/* Output much larger than the buffer. */
START_TEST(test_printf_large)
{
    struct buf b = BUF_INIT;
    char *big = malloc(100001);

    ck_assert_ptr_nonnull(big);
    memset(big, 'y', 100000);
    big[100000] = '\0';
    buf_append_str(&b, "<");
    buf_printf(&b, "%s>%zu", big, (size_t)100000);
    assert_sound(&b);
    ck_assert_uint_eq(b.len, 1 + 100000 + 1 + 6);
    ck_assert_str_eq(b.data + 100001, ">100000");
    free(big);
    buf_free(&b);
}
END_TEST

START_TEST(test_printf_empty)
{
    struct buf b = BUF_INIT;

    buf_printf(&b, "%s", "");
    assert_sound(&b);
    ck_assert_uint_eq(b.len, 0);
    buf_append_str(&b, "ab");
    buf_printf(&b, "%s", "");
    assert_sound(&b);
    ck_assert_str_eq(b.data, "ab");
    buf_free(&b);
}
END_TEST

static void vprintf_wrapper(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void vprintf_wrapper(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

START_TEST(test_vprintf)
{
    struct buf b = BUF_INIT;

    vprintf_wrapper(&b, "%s=%d", "n", 42);
    vprintf_wrapper(&b, ";%c", 'z');
    ck_assert_str_eq(b.data, "n=42;z");
    ck_assert_uint_eq(b.len, 6);
    buf_free(&b);
}
END_TEST

/* ---- steal, clear, free -------------------------------------------------------------------- */

static const struct {
    const char *name;
    const char *content; /* appended before the steal; NULL: nothing */
    bool clear_first;    /* buf_clear() before the steal */
    bool want_len;       /* pass a len pointer */
    const char *want;
} steal_rows[] = {
    {"never used", NULL, false, true, ""},
    {"never used, no len", NULL, false, false, ""},
    {"empty append", "", false, true, ""},
    {"content", "hello", false, true, "hello"},
    {"content, no len", "hello", false, false, "hello"},
    {"cleared", "hello", true, true, ""},
    {"cleared, never used", NULL, true, true, ""},
};

START_TEST(test_steal)
{
    struct buf b = BUF_INIT;
    size_t len = 12345;

    if (steal_rows[_i].content != NULL)
        buf_append_str(&b, steal_rows[_i].content);
    if (steal_rows[_i].clear_first)
        buf_clear(&b);
    char *s = buf_steal(&b, steal_rows[_i].want_len ? &len : NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, steal_rows[_i].want);
    if (steal_rows[_i].want_len)
        ck_assert_uint_eq(len, strlen(steal_rows[_i].want));
    /* b is reset and usable again */
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, 0);
    buf_append_str(&b, "again");
    ck_assert_str_eq(b.data, "again");
    ck_assert_ptr_ne(b.data, s);
    free(s);
    buf_free(&b);
}
END_TEST

START_TEST(test_steal_keeps_nul_bytes)
{
    struct buf b = BUF_INIT;
    size_t len = 0;

    buf_append(&b, "a\0b", 3);
    char *s = buf_steal(&b, &len);
    ck_assert_uint_eq(len, 3);
    ck_assert_mem_eq(s, "a\0b", 4);
    free(s);
}
END_TEST

START_TEST(test_clear)
{
    struct buf b = BUF_INIT;

    buf_clear(&b); /* never used: nothing to do */
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);

    for (int k = 0; k < 100; k++)
        buf_append_str(&b, "0123456789");
    char *data = b.data;
    size_t cap = b.cap;
    buf_clear(&b);
    assert_sound(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_ptr_eq(b.data, data); /* the allocation is kept */
    ck_assert_uint_eq(b.cap, cap);
    ck_assert_str_eq(b.data, "");
    buf_append_str(&b, "x");
    ck_assert_str_eq(b.data, "x");
    ck_assert_ptr_eq(b.data, data);
    buf_free(&b);
}
END_TEST

START_TEST(test_free)
{
    struct buf b = BUF_INIT;

    buf_free(&b); /* never used */
    ck_assert_ptr_null(b.data);
    buf_append_str(&b, "abc");
    buf_free(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, 0);
    buf_free(&b); /* twice */
    buf_append_str(&b, "def");
    ck_assert_str_eq(b.data, "def");
    buf_free(&b);
}
END_TEST

static const size_t reserve_rows[] = {0, 1, 63, 64, 65, 1000, 100000};

/* After buf_reserve(n), n more bytes go in without moving the data. */
START_TEST(test_reserve)
{
    struct buf b = BUF_INIT;
    size_t n = reserve_rows[_i];

    buf_append_str(&b, "head");
    buf_reserve(&b, n);
    ck_assert_uint_ge(b.cap, b.len + n + 1);
    char *data = b.data;
    for (size_t k = 0; k < n; k++)
        buf_append_char(&b, 'r');
    ck_assert_ptr_eq(b.data, data);
    ck_assert_uint_eq(b.len, 4 + n);
    assert_sound(&b);
    buf_free(&b);
}
END_TEST

static Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("append");

    tcase_add_loop_test(tc, test_append, 0, ARRAY_LEN(append_rows));
    tcase_add_test(tc, test_append_kinds);
    tcase_add_loop_test(tc, test_printf, 0, ARRAY_LEN(printf_rows));
    tcase_add_test(tc, test_printf_large);
    tcase_add_test(tc, test_printf_empty);
    tcase_add_test(tc, test_vprintf);
    tcase_add_loop_test(tc, test_reserve, 0, ARRAY_LEN(reserve_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("ownership");
    tcase_add_loop_test(tc, test_steal, 0, ARRAY_LEN(steal_rows));
    tcase_add_test(tc, test_steal_keeps_nul_bytes);
    tcase_add_test(tc, test_clear);
    tcase_add_test(tc, test_free);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(buf_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
