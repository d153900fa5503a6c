/* test_metrics: the Prometheus text format parser, on literal text. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "promtext.h"

static const char node_text[] = "# HELP chainlab_appends_total Appends made on this node.\n"
                                "# TYPE chainlab_appends_total counter\n"
                                "chainlab_appends_total 42\n"
                                "chainlab_blocks_received_total 7\n"
                                "# TYPE chainlab_http_responses_total counter\n"
                                "chainlab_http_responses_total{code=\"200\"} 1027\n"
                                "chainlab_http_responses_total{code=\"404\"} 3\n"
                                "\n"
                                "# TYPE chainlab_height gauge\n"
                                "chainlab_height 42\n"
                                "chainlab_queue_depth 0 1700000000000\n"
                                "up{job=\"a b\",path=\"}\\\"x\"} 0.5\r\n"
                                "big_value 1.5e+3\n";

START_TEST(test_parses_names_labels_values)
{
    json_t *m = NULL;
    char err[128];
    ck_assert_int_eq(promtext_parse(node_text, strlen(node_text), &m, err, sizeof(err)), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "chainlab_appends_total")), 42);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "chainlab_blocks_received_total")), 7);
    ck_assert_int_eq(
        json_integer_value(json_object_get(m, "chainlab_http_responses_total{code=\"200\"}")),
        1027);
    ck_assert_int_eq(
        json_integer_value(json_object_get(m, "chainlab_http_responses_total{code=\"404\"}")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "chainlab_queue_depth")), 0);
    ck_assert(json_real_value(json_object_get(m, "up{job=\"a b\",path=\"}\\\"x\"}")) == 0.5);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "big_value")), 1500);
    ck_assert_uint_eq(json_object_size(m), 8);
    json_decref(m);
}
END_TEST

struct bad_row {
    const char *text;
    const char *err; /* start of the message */
};

static const struct bad_row bad_rows[] = {
    {"9lives 1\n", "line 1: a metric name"},
    {"ok 1\nnovalue\n", "line 2: a value must follow"},
    {"x{code=\"200\" 1\n", "line 1: labels without"},
    {"x abc\n", "line 1: the value is not a number"},
    {"x 1 2 3\n", "line 1: unexpected text"},
    {"<html>404</html>\n", "line 1: a metric name"},
};

START_TEST(test_refuses_malformed_lines)
{
    const struct bad_row *row = &bad_rows[_i];
    json_t *m = (json_t *)1;
    char err[128];
    ck_assert_int_eq(promtext_parse(row->text, strlen(row->text), &m, err, sizeof(err)), -1);
    ck_assert_ptr_null(m);
    ck_assert_msg(strncmp(err, row->err, strlen(row->err)) == 0, "got '%s'", err);
}
END_TEST

START_TEST(test_empty_and_comments_only)
{
    json_t *m = NULL;
    char err[128];
    const char *t = "# nothing here\n\n";
    ck_assert_int_eq(promtext_parse(t, strlen(t), &m, err, sizeof(err)), 0);
    ck_assert_uint_eq(json_object_size(m), 0);
    json_decref(m);
}
END_TEST

#define ROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("promtext");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parses_names_labels_values);
    tcase_add_loop_test(tc, test_refuses_malformed_lines, 0, ROWS(bad_rows));
    tcase_add_test(tc, test_empty_and_comments_only);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
