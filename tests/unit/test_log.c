/* Unit tests for node/log.c: escaping of untrusted bytes, level names, the line format. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "log.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* A string literal and its length without the terminating NUL (it may hold NULs). */
#define S(lit) lit, sizeof(lit) - 1
#define OUT_SZ 256

static const struct {
    const char *name;
    const char *in;
    size_t len;
    size_t max;
    const char *want;
} escape_rows[] = {
    {"plain", S("hello world"), 64, "hello world"},
    {"empty", S(""), 64, ""},
    {"printable ASCII kept", S(" !\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~"), 64,
     " !\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~"},
    {"newline", S("a\nb"), 64, "a\\x0ab"},
    {"CR LF (no forged log lines)", S("x\r\n12:00:00.000 [n0 1] info: forged"), 64,
     "x\\x0d\\x0a12:00:00.000 [n0 1] info: forged"},
    {"tab", S("\t"), 64, "\\x09"},
    {"backslash is escaped too", S("a\\x0ab"), 64, "a\\x5cx0ab"},
    {"NUL", S("a\000b"), 64, "a\\x00b"},
    {"terminal escape sequence", S("\033[31mred"), 64, "\\x1b[31mred"},
    {"DEL", S("\177"), 64, "\\x7f"},
    {"UTF-8 bytes", S("\303\251"), 64, "\\xc3\\xa9"},
    {"byte FF", S("\377"), 64, "\\xff"},
    {"exactly max", S("abc"), 3, "abc"},
    {"one over max", S("abcd"), 3, "abc..."},
    {"cut at max", S("abcdef"), 3, "abc..."},
    {"max 0", S("abc"), 0, "..."},
    {"max 0, empty", S(""), 0, ""},
    {"cut counts input bytes, not output", S("\n\n\n\n"), 2, "\\x0a\\x0a..."},
    {"max beyond len", S("ab"), 1000, "ab"},
};

START_TEST(test_escape)
{
    char out[OUT_SZ];

    memset(out, '#', sizeof(out));
    char *r =
        log_escape(escape_rows[_i].in, escape_rows[_i].len, escape_rows[_i].max, out, sizeof(out));
    ck_assert_ptr_eq(r, out);
    ck_assert_msg(strcmp(out, escape_rows[_i].want) == 0, "%s: got '%s', want '%s'",
                  escape_rows[_i].name, out, escape_rows[_i].want);
}
END_TEST

/* Only len bytes are read. */
START_TEST(test_escape_reads_only_len)
{
    char out[OUT_SZ];

    ck_assert_str_eq(log_escape("abcdef", 3, 64, out, sizeof(out)), "abc");
    ck_assert_str_eq(log_escape("abcdef", 0, 64, out, sizeof(out)), "");
}
END_TEST

/* Every output size, for inputs of each kind: never a byte past outsz, always NUL-terminated
 * (outsz 0 writes nothing), never half an escape, and what is written is the start of the full
 * escape (then "..." only for input cut at max). */
static const struct {
    const char *in;
    size_t len;
    size_t max;
} small_rows[] = {
    {S("abcdefghijklmnop"), 64},
    {S("abcdefghijklmnop"), 5},
    {S("\n\001\377\n\001\377\n\001\377"), 64},
    {S("a\nb\nc\nd\ne\nf"), 64},
    {S("a\nb\nc\nd\ne\nf"), 4},
};

START_TEST(test_escape_small_outputs)
{
    char full[OUT_SZ], out[OUT_SZ + 8];

    log_escape(small_rows[_i].in, small_rows[_i].len, small_rows[_i].max, full, sizeof(full));
    for (size_t outsz = 0; outsz <= strlen(full) + 1; outsz++) {
        memset(out, '#', sizeof(out));
        log_escape(small_rows[_i].in, small_rows[_i].len, small_rows[_i].max, out, outsz);
        for (size_t k = outsz; k < sizeof(out); k++)
            ck_assert_msg(out[k] == '#', "outsz %zu: byte %zu written", outsz, k);
        if (outsz == 0)
            continue;
        size_t n = strnlen(out, outsz);
        ck_assert_msg(n < outsz, "outsz %zu: not NUL-terminated", outsz);
        size_t body = n;
        if (n >= 3 && memcmp(out + n - 3, "...", 3) == 0 && small_rows[_i].len > small_rows[_i].max)
            body = n - 3;
        ck_assert_msg(strncmp(out, full, body) == 0, "outsz %zu: '%s' is not a start of '%s'",
                      outsz, out, full);
        const char *bs = memrchr(out, '\\', body);
        if (bs != NULL)
            ck_assert_msg(out + body - bs >= 4, "outsz %zu: half an escape in '%s'", outsz, out);
    }
}
END_TEST

static const struct {
    const char *name;
    int rc;
    enum log_level level;
} level_rows[] = {
    {"error", 0, LOG_ERROR},
    {"warn", 0, LOG_WARN},
    {"info", 0, LOG_INFO},
    {"debug", 0, LOG_DEBUG},
    {"INFO", 0, LOG_INFO},
    {"Debug", 0, LOG_DEBUG},
    {"", -1, 0},
    {"warning", -1, 0},
    {"inf", -1, 0},
    {"info ", -1, 0},
    {" info", -1, 0},
    {"trace", -1, 0},
    {"err", -1, 0},
    {"3", -1, 0},
    {"debugx", -1, 0},
};

START_TEST(test_level_parse)
{
    enum log_level level = (enum log_level)77;
    int rc = log_level_parse(level_rows[_i].name, &level);

    ck_assert_msg(rc == level_rows[_i].rc, "'%s': rc %d", level_rows[_i].name, rc);
    if (rc == 0)
        ck_assert_int_eq(level, level_rows[_i].level);
    else
        ck_assert_int_eq(level, 77); /* untouched */
}
END_TEST

/* Run log_write(level, "%s", msg) with stderr captured; returns what was written (caller
 * frees). */
static char *capture_line(enum log_level level, const char *msg)
{
    struct capture c;
    capture_begin(&c);
    LOG_AT(level, "%s", msg);
    return capture_end(&c);
}

START_TEST(test_write_line)
{
    char want[128];

    log_setup("node-7", LOG_INFO);
    char *line = capture_line(LOG_WARN, "disk is full");
    snprintf(want, sizeof(want), " [node-7 %ld] warn: disk is full\n", (long)getpid());
    /* "HH:MM:SS.mmm" then the rest */
    ck_assert_uint_eq(strlen(line), 12 + strlen(want));
    ck_assert_msg(line[2] == ':' && line[5] == ':' && line[8] == '.', "bad time in '%s'", line);
    ck_assert_str_eq(line + 12, want);
    free(line);

    line = capture_line(LOG_DEBUG, "dropped");
    ck_assert_str_eq(line, "");
    free(line);
    log_setup("-", LOG_INFO);
}
END_TEST

/* A long message is cut to one line of at most 1024 bytes, still ending in a newline. */
START_TEST(test_write_long_line)
{
    char *msg = malloc(3000);

    ck_assert_ptr_nonnull(msg);
    memset(msg, 'm', 2999);
    msg[2999] = '\0';
    log_setup("n", LOG_INFO);
    char *line = capture_line(LOG_ERROR, msg);
    size_t n = strlen(line);
    ck_assert_uint_le(n, 1024);
    ck_assert_uint_gt(n, 900);
    ck_assert_int_eq(line[n - 1], '\n');
    ck_assert_ptr_null(memchr(line, '\n', n - 1));
    free(line);
    free(msg);
    log_setup("-", LOG_INFO);
}
END_TEST

/* The prefix keeps at most 31 bytes of the id. */
START_TEST(test_setup_long_id)
{
    log_setup("0123456789012345678901234567890123456789", LOG_DEBUG);
    ck_assert_int_eq(log_threshold, LOG_DEBUG);
    char *line = capture_line(LOG_INFO, "x");
    ck_assert_ptr_nonnull(strstr(line, " [0123456789012345678901234567890 "));
    free(line);
    log_setup("-", LOG_INFO);
}
END_TEST

static int evaluated;

static const char *count_cb(void)
{
    evaluated++;
    return "counted";
}

/* Arguments of a line above the threshold are never evaluated. */
START_TEST(test_level_checked_first)
{
    log_setup("-", LOG_WARN);
    evaluated = 0;
    log_debug("%s", count_cb());
    log_info("%s", count_cb());
    ck_assert_int_eq(evaluated, 0);
    char *line = capture_line(LOG_ERROR, count_cb());
    ck_assert_int_eq(evaluated, 1);
    ck_assert_ptr_nonnull(strstr(line, "error: counted\n"));
    free(line);
    log_setup("-", LOG_INFO);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("escape");

    tcase_add_loop_test(tc, test_escape, 0, ARRAY_LEN(escape_rows));
    tcase_add_test(tc, test_escape_reads_only_len);
    tcase_add_loop_test(tc, test_escape_small_outputs, 0, ARRAY_LEN(small_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("levels");
    tcase_add_loop_test(tc, test_level_parse, 0, ARRAY_LEN(level_rows));
    tcase_add_test(tc, test_level_checked_first);
    suite_add_tcase(s, tc);

    tc = tcase_create("write");
    tcase_add_test(tc, test_write_line);
    tcase_add_test(tc, test_write_long_line);
    tcase_add_test(tc, test_setup_long_id);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(log_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
