/* test_metrics: the Prometheus text of GET /metrics, byte for byte, and the counters. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"

/* The whole exposition of a snapshot with every figure distinct. */
static const char expected[] =
    "# HELP chainlab_appends_total Appends acknowledged by POST /append (blocks made by this "
    "node).\n"
    "# TYPE chainlab_appends_total counter\n"
    "chainlab_appends_total 1\n"
    "# HELP chainlab_blocks_received_total Valid blocks received by POST /block.\n"
    "# TYPE chainlab_blocks_received_total counter\n"
    "chainlab_blocks_received_total 2\n"
    "# HELP chainlab_blocks_appended_total Blocks received by POST /block and appended to the "
    "chain.\n"
    "# TYPE chainlab_blocks_appended_total counter\n"
    "chainlab_blocks_appended_total 3\n"
    "# HELP chainlab_blocks_ignored_total Blocks received by POST /block and ignored (not above "
    "the tip).\n"
    "# TYPE chainlab_blocks_ignored_total counter\n"
    "chainlab_blocks_ignored_total 4\n"
    "# HELP chainlab_posts_sent_total POST /block to a peer answered 2xx.\n"
    "# TYPE chainlab_posts_sent_total counter\n"
    "chainlab_posts_sent_total 6\n"
    "# HELP chainlab_posts_failed_total POST /block to a peer that failed or was answered other "
    "than 2xx.\n"
    "# TYPE chainlab_posts_failed_total counter\n"
    "chainlab_posts_failed_total 7\n"
    "# HELP chainlab_posts_dropped_total Blocks dropped from a full per-peer queue before being "
    "posted.\n"
    "# TYPE chainlab_posts_dropped_total counter\n"
    "chainlab_posts_dropped_total 8\n"
    "# HELP chainlab_syncs_total Syncs run to completion.\n"
    "# TYPE chainlab_syncs_total counter\n"
    "chainlab_syncs_total 9\n"
    "# HELP chainlab_sync_replacements_total Syncs that replaced the chain.\n"
    "# TYPE chainlab_sync_replacements_total counter\n"
    "chainlab_sync_replacements_total 10\n"
    "# HELP chainlab_bytes_served_total Bytes of HTTP answer bodies sent by the node.\n"
    "# TYPE chainlab_bytes_served_total counter\n"
    "chainlab_bytes_served_total 18446744073709551615\n"
    "# HELP chainlab_http_responses_total HTTP answers sent by the node, by status code.\n"
    "# TYPE chainlab_http_responses_total counter\n"
    "chainlab_http_responses_total{code=\"100\"} 1\n"
    "chainlab_http_responses_total{code=\"200\"} 12\n"
    "chainlab_http_responses_total{code=\"405\"} 2\n"
    "chainlab_http_responses_total{code=\"599\"} 1\n"
    "# HELP chainlab_height Index of the tip block.\n"
    "# TYPE chainlab_height gauge\n"
    "chainlab_height 11\n"
    "# HELP chainlab_peers Peers held.\n"
    "# TYPE chainlab_peers gauge\n"
    "chainlab_peers 12\n"
    "# HELP chainlab_queue_depth Blocks waiting in the per-peer queues to be posted.\n"
    "# TYPE chainlab_queue_depth gauge\n"
    "chainlab_queue_depth 13\n";

START_TEST(test_write_exact)
{
    struct metrics m = {0};
    struct metrics_snapshot s = {0};
    struct buf out = BUF_INIT;

    metrics_add(&m.appends, 1);
    metrics_add(&m.blocks_received, 2);
    metrics_add(&m.blocks_appended, 3);
    metrics_add(&m.blocks_ignored, 4);
    metrics_add(&m.bytes_served, UINT64_MAX);
    for (int i = 0; i < 12; i++)
        metrics_count_response(&m, 200);
    metrics_count_response(&m, 405);
    metrics_count_response(&m, 405);
    metrics_count_response(&m, 100);
    metrics_count_response(&m, 599);
    metrics_count_response(&m, 99);  /* out of range: not counted */
    metrics_count_response(&m, 600); /* out of range: not counted */
    metrics_copy(&m, &s.http);
    s.posts_sent = 6;
    s.posts_failed = 7;
    s.posts_dropped = 8;
    s.syncs = 9;
    s.sync_replacements = 10;
    s.height = 11;
    s.peers = 12;
    s.queue_depth = 13;
    metrics_write(&s, &out);
    ck_assert_str_eq(out.data, expected);
    buf_free(&out);
}
END_TEST

START_TEST(test_write_no_answer_yet)
{
    struct metrics_snapshot s = {0};
    struct buf out = BUF_INIT;
    metrics_write(&s, &out);
    /* the metric is declared, with no sample */
    ck_assert_ptr_nonnull(strstr(out.data, "# TYPE chainlab_http_responses_total counter\n"
                                           "# HELP chainlab_height "));
    ck_assert_ptr_null(strstr(out.data, "code="));
    ck_assert_ptr_nonnull(strstr(out.data, "\nchainlab_queue_depth 0\n"));
    buf_free(&out);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_write_exact);
    tcase_add_test(tc, test_write_no_answer_yet);
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
