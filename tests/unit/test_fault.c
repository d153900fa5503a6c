/* test_fault: fault arithmetic: token buckets over simulated time, delay draws, loss draws. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "fault.h"
#include "rng.h"

#define SEC INT64_C(1000000) /* microseconds */

struct bucket_row {
    uint64_t rate;   /* bytes per second */
    uint64_t burst;  /* expected capacity */
    uint64_t want;   /* bytes a writer takes at every step */
    int64_t step_us; /* simulated time between takes */
    int64_t run_us;  /* simulated duration */
};

static const struct bucket_row bucket_rows[] = {
    {65536, 6553, 4096, 1000, 10 * SEC},      /* 64 KB/s: rate / 10 */
    {1000, 1500, 100, 7000, 20 * SEC},        /* slow: the MTU floor */
    {1, 1500, 1, 100000, 5000 * SEC},         /* 1 B/s: fractions of tokens add up */
    {10000000, 1000000, 65536, 500, 2 * SEC}, /* 10 MB/s */
    {123457, 12345, 50000, 3333, 10 * SEC},   /* takes larger than the burst */
    {FAULT_RATE_MAX, FAULT_RATE_MAX / 10, UINT64_MAX / 2, 1, 1000}, /* the fastest */
};

/* A greedy writer taking want every step gets burst + rate * time, never more, and never much
 * less (it is never refused while tokens are due). */
START_TEST(test_bucket_rates)
{
    const struct bucket_row *row = &bucket_rows[_i];
    struct fault_bucket b;
    uint64_t got = 0;

    fault_bucket_init(&b, row->rate, 1000);
    ck_assert_uint_eq(b.burst, row->burst);
    ck_assert_uint_eq(fault_bucket_available(&b, 1000), row->burst);
    for (int64_t t = 1000; t <= 1000 + row->run_us; t += row->step_us) {
        uint64_t n = fault_bucket_take(&b, t, row->want);
        ck_assert_uint_le(n, row->want);
        got += n;
        if (n < row->want) {
            /* Refused: the bucket says when the next step of tokens is due, in the future. */
            int64_t ready = fault_bucket_ready_us(&b, row->want);
            ck_assert_int_gt(ready, t);
            uint64_t step = row->want < b.step ? row->want : b.step;
            struct fault_bucket at = b; /* probe copies: a bucket never goes back in time */
            struct fault_bucket before = b;
            ck_assert_uint_ge(fault_bucket_available(&at, ready), step);
            ck_assert_uint_lt(fault_bucket_available(&before, ready - 1), step);
        }
    }
    /* Exact bound: burst plus everything accrued, floored. */
    double max = (double)row->burst + (double)row->rate * (double)row->run_us / SEC;
    ck_assert_msg((double)got <= max + 1, "got %llu > %.0f", (unsigned long long)got, max);
    double min = max - (double)row->want - (double)row->rate * (double)row->step_us / SEC - 1;
    ck_assert_msg((double)got >= min, "got %llu < %.0f", (unsigned long long)got, min);
}
END_TEST

START_TEST(test_bucket_idle_caps_at_burst)
{
    struct fault_bucket b;

    fault_bucket_init(&b, 65536, 0);
    ck_assert_uint_eq(fault_bucket_take(&b, 0, 1 << 20), 6553);
    ck_assert_uint_eq(fault_bucket_take(&b, 0, 1), 0);
    /* 1 ms later: 65.536 tokens, 65 whole ones; the fraction is kept. */
    ck_assert_uint_eq(fault_bucket_take(&b, 1000, 1 << 20), 65);
    ck_assert_uint_eq(fault_bucket_take(&b, 2000, 1 << 20), 66);
    /* A long idle time (hours, no overflow) refills only up to the burst. */
    ck_assert_uint_eq(fault_bucket_available(&b, (int64_t)10 * 3600 * SEC), 6553);
    ck_assert_uint_eq(fault_bucket_available(&b, INT64_MAX), 6553);
    /* Time going backwards changes nothing. */
    ck_assert_uint_eq(fault_bucket_take(&b, 5, 10), 10);
    ck_assert_uint_eq(fault_bucket_available(&b, 5), 6543);
}
END_TEST

START_TEST(test_bucket_unlimited_and_clamped)
{
    struct fault_bucket b;

    fault_bucket_init(&b, 0, 42);
    ck_assert_uint_eq(b.rate, 0);
    ck_assert_uint_eq(fault_bucket_available(&b, 43), UINT64_MAX);
    ck_assert_uint_eq(fault_bucket_take(&b, 43, 123456789), 123456789);
    fault_bucket_init(&b, UINT64_MAX, 0);
    ck_assert_uint_eq(b.rate, FAULT_RATE_MAX);
    ck_assert_uint_eq(fault_bucket_available(&b, SEC), FAULT_RATE_MAX / 10);
}
END_TEST

struct delay_row {
    int64_t delay_ms;
    int64_t jitter_ms;
};

static const struct delay_row delay_rows[] = {
    {0, 0},    {200, 0},
    {200, 50}, {10, 30}, /* clamped at 0 below */
    {0, 5},    {FAULT_DELAY_MAX_MS, FAULT_DELAY_MAX_MS},
};

/* Draws stay within bounds, reach near both ends, and release times never go backwards. */
START_TEST(test_delay_bounds_and_order)
{
    const struct delay_row *row = &delay_rows[_i];
    struct rng r;
    int64_t lo = (row->delay_ms - row->jitter_ms) * 1000;
    int64_t hi = (row->delay_ms + row->jitter_ms) * 1000;
    int64_t min_seen = INT64_MAX;
    int64_t max_seen = INT64_MIN;
    int64_t last = 0;

    rng_seed(&r, 7);
    for (int i = 0; i < 10000; i++) {
        int64_t d = fault_delay_us(&r, row->delay_ms, row->jitter_ms);
        ck_assert_int_ge(d, 0);
        ck_assert_int_ge(d, lo);
        ck_assert_int_le(d, hi);
        min_seen = d < min_seen ? d : min_seen;
        max_seen = d > max_seen ? d : max_seen;
        int64_t now = (int64_t)i * 100; /* a chunk every 100 us */
        int64_t rel = fault_release_us(now, d, last);
        ck_assert_int_ge(rel, last);
        ck_assert_int_ge(rel, now + d);
        last = rel;
    }
    int64_t slack = row->jitter_ms * 1000 / 50; /* 2% of the jitter */
    ck_assert_int_le(min_seen, (lo < 0 ? 0 : lo) + slack);
    ck_assert_int_ge(max_seen, hi - slack);
}
END_TEST

START_TEST(test_delay_no_jitter_draws_nothing)
{
    struct rng a;
    struct rng b;

    rng_seed(&a, 99);
    rng_seed(&b, 99);
    ck_assert_int_eq(fault_delay_us(&a, 200, 0), 200000);
    ck_assert_uint_eq(rng_next(&a), rng_next(&b));
}
END_TEST

struct loss_row {
    uint32_t per_million;
    int min_lost; /* of 10000 draws */
    int max_lost;
};

static const struct loss_row loss_rows[] = {
    {0, 0, 0},
    {FAULT_LOSS_SCALE, 10000, 10000},
    {300000, 2800, 3200}, /* 30% +- 2% (more than 4 standard deviations) */
    {1, 0, 5},
    {999999, 9995, 10000},
};

START_TEST(test_loss_shares)
{
    const struct loss_row *row = &loss_rows[_i];
    struct rng r;
    int lost = 0;

    rng_seed(&r, fault_seed(12345, 0, 1, FAULT_STREAM_LOSS));
    for (int i = 0; i < 10000; i++)
        lost += fault_loss_draw(&r, row->per_million);
    ck_assert_int_ge(lost, row->min_lost);
    ck_assert_int_le(lost, row->max_lost);
}
END_TEST

START_TEST(test_loss_same_seed_same_draws)
{
    struct rng a;
    struct rng b;
    struct rng c;
    int differ = 0;

    rng_seed(&a, fault_seed(42, 2, 5, FAULT_STREAM_LOSS));
    rng_seed(&b, fault_seed(42, 2, 5, FAULT_STREAM_LOSS));
    rng_seed(&c, fault_seed(43, 2, 5, FAULT_STREAM_LOSS));
    for (int i = 0; i < 1000; i++) {
        bool x = fault_loss_draw(&a, 500000);
        ck_assert_int_eq(x, fault_loss_draw(&b, 500000));
        differ += x != fault_loss_draw(&c, 500000);
    }
    ck_assert_int_gt(differ, 100);
}
END_TEST

START_TEST(test_seed_streams_differ)
{
    uint64_t seeds[] = {
        fault_seed(1, 0, 1, FAULT_STREAM_LOSS),   fault_seed(1, 1, 0, FAULT_STREAM_LOSS),
        fault_seed(1, 0, 1, FAULT_STREAM_JITTER), fault_seed(2, 0, 1, FAULT_STREAM_LOSS),
        fault_seed(1, 0, 2, FAULT_STREAM_LOSS),   fault_seed(0, 0, 1, FAULT_STREAM_LOSS),
    };
    size_t n = sizeof(seeds) / sizeof(seeds[0]);

    ck_assert_uint_eq(fault_seed(1, 0, 1, FAULT_STREAM_LOSS), seeds[0]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            ck_assert_uint_ne(seeds[i], seeds[j]);
}
END_TEST

#define ROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *fault_suite(void)
{
    Suite *s = suite_create("fault");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_bucket_rates, 0, ROWS(bucket_rows));
    tcase_add_test(tc, test_bucket_idle_caps_at_burst);
    tcase_add_test(tc, test_bucket_unlimited_and_clamped);
    tcase_add_loop_test(tc, test_delay_bounds_and_order, 0, ROWS(delay_rows));
    tcase_add_test(tc, test_delay_no_jitter_draws_nothing);
    tcase_add_loop_test(tc, test_loss_shares, 0, ROWS(loss_rows));
    tcase_add_test(tc, test_loss_same_seed_same_draws);
    tcase_add_test(tc, test_seed_streams_differ);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fault_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
