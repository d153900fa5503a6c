/* Unit tests for node/pyjson.c: strings written byte for byte as Python's json.dumps writes them.
 *
 * Expected output was produced by /usr/bin/python3: json.dumps(s) for valid input, and
 * json.dumps(b.decode("utf-8", "replace")) for the rows with bytes that are not UTF-8. */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pyjson.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
/* A string literal and its length without the terminating NUL (it may hold NULs). */
#define S(lit) lit, sizeof(lit) - 1

static const struct {
    const char *name;
    const char *in;
    size_t len;
    const char *out;
} string_rows[] = {
    {"empty", S(""), "\"\""},
    {"ASCII", S("abc"), "\"abc\""},
    {"slash not escaped", S("a/b"), "\"a/b\""},
    {"quote", S("\""), "\"\\\"\""},
    {"backslash", S("\\"), "\"\\\\\""},
    {"newline", S("\012"), "\"\\n\""},
    {"carriage return", S("\015"), "\"\\r\""},
    {"tab", S("\011"), "\"\\t\""},
    {"backspace", S("\010"), "\"\\b\""},
    {"form feed", S("\014"), "\"\\f\""},
    {"NUL", S("\000"), "\"\\u0000\""},
    {"SOH", S("\001"), "\"\\u0001\""},
    {"vertical tab", S("\013"), "\"\\u000b\""},
    {"escape", S("\033"), "\"\\u001b\""},
    {"unit separator", S("\037"), "\"\\u001f\""},
    {"space and tilde", S(" ~"), "\" ~\""},
    {"DEL", S("\177"), "\"\\u007f\""},
    {"U+0080", S("\302\200"), "\"\\u0080\""},
    {"e acute", S("\303\251"), "\"\\u00e9\""},
    {"U+07FF", S("\337\277"), "\"\\u07ff\""},
    {"U+0800", S("\340\240\200"), "\"\\u0800\""},
    {"snowman", S("\342\230\203"), "\"\\u2603\""},
    {"U+D7FF", S("\355\237\277"), "\"\\ud7ff\""},
    {"U+E000", S("\356\200\200"), "\"\\ue000\""},
    {"BOM", S("\357\273\277"), "\"\\ufeff\""},
    {"U+FFFF", S("\357\277\277"), "\"\\uffff\""},
    {"U+10000", S("\360\220\200\200"), "\"\\ud800\\udc00\""},
    {"emoji", S("\360\237\230\200"), "\"\\ud83d\\ude00\""},
    {"U+10FFFF", S("\364\217\277\277"), "\"\\udbff\\udfff\""},
    {"escape then run", S("ab\012cd"), "\"ab\\ncd\""},
    {"runs around escapes", S("a\"b\\c\000d\360\237\230\200e"),
     "\"a\\\"b\\\\c\\u0000d\\ud83d\\ude00e\""},
    {"JSON in a string", S("{\"json\": [1,2,3]}"), "\"{\\\"json\\\": [1,2,3]}\""},
    /* not UTF-8: each offending byte becomes U+FFFD (callers validate first) */
    {"invalid byte FF", S("a\377b"), "\"a\\ufffdb\""},
    {"lone continuation", S("\200"), "\"\\ufffd\""},
    {"bad continuation", S("\303("), "\"\\ufffd(\""},
    {"overlong slash", S("\300\257"), "\"\\ufffd\\ufffd\""},
    {"surrogate D800", S("\355\240\200"), "\"\\ufffd\\ufffd\\ufffd\""},
    {"above U+10FFFF", S("\364\220\200\200"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
};

START_TEST(test_write_string)
{
    struct buf out = BUF_INIT;
    /* an exact-size copy, so reading past len is caught by the sanitizers */
    size_t len = string_rows[_i].len;
    char *in = malloc(len ? len : 1);

    ck_assert_ptr_nonnull(in);
    memcpy(in, string_rows[_i].in, len);
    buf_append_str(&out, "prefix:");
    pyjson_write_string(&out, in, len);
    ck_assert_msg(strcmp(out.data + 7, string_rows[_i].out) == 0, "%s: got %s, want %s",
                  string_rows[_i].name, out.data + 7, string_rows[_i].out);
    ck_assert_mem_eq(out.data, "prefix:", 7);
    ck_assert_uint_eq(out.len, 7 + strlen(string_rows[_i].out));
    free(in);
    buf_free(&out);
}
END_TEST

/* Long inputs: many escapes and long verbatim runs, past the buffer's first allocations. */
static const struct {
    const char *unit; /* repeated count times */
    size_t unit_len;
    size_t count;
    const char *escaped; /* json.dumps of one unit, without quotes */
} repeat_rows[] = {
    {S("a"), 100000, "a"},
    {S("\303\251"), 10000, "\\u00e9"},
    {S("\360\237\230\200"), 5000, "\\ud83d\\ude00"},
    {S("x\n"), 30000, "x\\n"},
    {S("\000"), 4096, "\\u0000"},
};

START_TEST(test_write_long)
{
    struct buf in = BUF_INIT, want = BUF_INIT, out = BUF_INIT;

    buf_append_char(&want, '"');
    for (size_t k = 0; k < repeat_rows[_i].count; k++) {
        buf_append(&in, repeat_rows[_i].unit, repeat_rows[_i].unit_len);
        buf_append_str(&want, repeat_rows[_i].escaped);
    }
    buf_append_char(&want, '"');
    pyjson_write_string(&out, in.data, in.len);
    ck_assert_uint_eq(out.len, want.len);
    ck_assert_mem_eq(out.data, want.data, want.len);
    ck_assert_int_eq(out.data[out.len], '\0');
    buf_free(&in);
    buf_free(&want);
    buf_free(&out);
}
END_TEST

static const struct {
    const char *name;
    const char *in;
    size_t len;
    bool valid;
} utf8_rows[] = {
    {"empty", S(""), true},
    {"ASCII", S("hello"), true},
    {"NUL", S("\000"), true},
    {"DEL", S("\177"), true},
    {"2-byte min U+0080", S("\302\200"), true},
    {"2-byte max U+07FF", S("\337\277"), true},
    {"3-byte min U+0800", S("\340\240\200"), true},
    {"U+D7FF", S("\355\237\277"), true},
    {"U+E000", S("\356\200\200"), true},
    {"U+FFFF", S("\357\277\277"), true},
    {"BOM", S("\357\273\277"), true},
    {"4-byte min U+10000", S("\360\220\200\200"), true},
    {"emoji", S("\360\237\230\200"), true},
    {"4-byte max U+10FFFF", S("\364\217\277\277"), true},
    {"mixed", S("a \303\251 \342\230\203 \360\237\230\200 z"), true},
    {"overlong NUL C0 80", S("\300\200"), false},
    {"overlong C1 BF", S("\301\277"), false},
    {"overlong 3-byte E0 80 AF", S("\340\200\257"), false},
    {"overlong 3-byte E0 9F BF", S("\340\237\277"), false},
    {"overlong 4-byte F0 80 80 AF", S("\360\200\200\257"), false},
    {"overlong 4-byte F0 8F BF BF", S("\360\217\277\277"), false},
    {"surrogate D800", S("\355\240\200"), false},
    {"surrogate DBFF", S("\355\257\277"), false},
    {"surrogate DC00", S("\355\260\200"), false},
    {"surrogate DFFF", S("\355\277\277"), false},
    {"surrogate pair as CESU-8", S("\355\240\275\355\270\200"), false},
    {"U+110000", S("\364\220\200\200"), false},
    {"lead F5", S("\365\200\200\200"), false},
    {"lead F7 BF BF BF", S("\367\277\277\277"), false},
    {"5-byte lead F8", S("\370\210\200\200\200"), false},
    {"6-byte lead FC", S("\374\204\200\200\200\200"), false},
    {"byte FE", S("\376"), false},
    {"byte FF", S("\377"), false},
    {"lone continuation 80", S("\200"), false},
    {"lone continuation BF", S("\277"), false},
    {"truncated 2-byte", S("\303"), false},
    {"truncated 3-byte", S("\342\202"), false},
    {"truncated 4-byte", S("\360\237\230"), false},
    {"truncated after valid", S("a\360\237\230\200\360"), false},
    {"bad continuation 2-byte", S("\303("), false},
    {"bad continuation 3-byte", S("\342(\241"), false},
    {"bad continuation 4-byte", S("\360\237(\200"), false},
    {"extra continuation", S("\303\251\251"), false},
    {"NUL inside multibyte", S("\342\000\202"), false},
};

START_TEST(test_utf8_valid)
{
    size_t len = utf8_rows[_i].len;
    char *in = malloc(len ? len : 1);

    ck_assert_ptr_nonnull(in);
    memcpy(in, utf8_rows[_i].in, len);
    ck_assert_msg(pyjson_utf8_valid(in, len) == utf8_rows[_i].valid, "%s", utf8_rows[_i].name);
    free(in);
}
END_TEST

/* Only len bytes count: a valid prefix of an invalid string is valid, and the other way. */
START_TEST(test_utf8_respects_len)
{
    ck_assert(pyjson_utf8_valid("ab\377", 2));
    ck_assert(!pyjson_utf8_valid("ab\377", 3));
    ck_assert(!pyjson_utf8_valid("\303\251", 1));
    ck_assert(pyjson_utf8_valid("\303\251", 2));
}
END_TEST

static const struct {
    const char *msg;
    const char *out;
} error_rows[] = {
    {"", "{\"error\": \"\"}"},
    {"not found", "{\"error\": \"not found\"}"},
    {"a \"quoted\" word", "{\"error\": \"a \\\"quoted\\\" word\"}"},
    {"line\012break", "{\"error\": \"line\\nbreak\"}"},
    {"caf\303\251 \342\230\203 \360\237\230\200",
     "{\"error\": \"caf\\u00e9 \\u2603 \\ud83d\\ude00\"}"},
    {"back\\slash", "{\"error\": \"back\\\\slash\"}"},
    {"\177", "{\"error\": \"\\u007f\"}"},
};

START_TEST(test_write_error)
{
    struct buf out = BUF_INIT;

    pyjson_write_error(&out, error_rows[_i].msg);
    ck_assert_str_eq(out.data, error_rows[_i].out);
    ck_assert_uint_eq(out.len, strlen(error_rows[_i].out));
    /* appends */
    pyjson_write_error(&out, error_rows[_i].msg);
    ck_assert_uint_eq(out.len, 2 * strlen(error_rows[_i].out));
    ck_assert_str_eq(out.data + strlen(error_rows[_i].out), error_rows[_i].out);
    buf_free(&out);
}
END_TEST

static Suite *pyjson_suite(void)
{
    Suite *s = suite_create("pyjson");
    TCase *tc = tcase_create("write");

    tcase_add_loop_test(tc, test_write_string, 0, ARRAY_LEN(string_rows));
    tcase_add_loop_test(tc, test_write_long, 0, ARRAY_LEN(repeat_rows));
    tcase_add_loop_test(tc, test_write_error, 0, ARRAY_LEN(error_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("utf8");
    tcase_add_loop_test(tc, test_utf8_valid, 0, ARRAY_LEN(utf8_rows));
    tcase_add_test(tc, test_utf8_respects_len);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pyjson_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
