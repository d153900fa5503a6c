/* Unit tests for sim/sweep.c: the grid, the seeds, the statistics, the figures read from a
 * report, CSV quoting and the parsing of --sweep values. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "rng.h"
#include "sweep.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- --sweep NAME=V1,V2 ------------------------------------------------------------------ */

static const struct {
    const char *arg;
    const char *want; /* "NAME:V1|V2", or the error's substring */
    int ok;
} axis_rows[] = {
    {"N=10,50,100", "N:10|50|100", 1},
    {"LAT=0ms", "LAT:0ms", 1},
    {"_x9=n0-n2,n3", "_x9:n0-n2|n3", 1},
    {"RATE=50/s,100/s", "RATE:50/s|100/s", 1},
    {"N", "'N': expected NAME=V1,V2,...", 0},
    {"=1,2", "'=1,2': '': the name is empty", 0},
    {"9N=1", "'9N=1': '9N': a name starts with a letter or '_'", 0},
    {"N-1=1", "a name holds only letters, digits and '_'", 0},
    {"N=", "'N=': value 1: empty (values are separated by single commas)", 0},
    {"N=1,,2", "value 2: empty", 0},
    {"N=1,", "value 2: empty", 0},
    {"N=1,2,1", "'N=1,2,1': the value '1' is given twice", 0},
    {"N=a b", "value 1: a value is one word", 0},
    {"N=1,${M}", "value 2: a value cannot refer to a parameter", 0},
};

START_TEST(test_axis_parse)
{
    struct sweep_axis a;
    struct buf got = BUF_INIT;
    char err[256] = "";
    int rc = sweep_axis_parse(axis_rows[_i].arg, &a, err, sizeof(err));

    ck_assert_msg((rc == 0) == axis_rows[_i].ok, "'%s': rc %d %s", axis_rows[_i].arg, rc, err);
    if (rc == 0) {
        buf_printf(&got, "%s:", a.name);
        for (size_t i = 0; i < a.n_values; i++)
            buf_printf(&got, "%s%s", i ? "|" : "", a.values[i]);
        ck_assert_str_eq(got.data, axis_rows[_i].want);
    } else {
        ck_assert_msg(strstr(err, axis_rows[_i].want) != NULL, "'%s': got \"%s\"",
                      axis_rows[_i].arg, err);
        ck_assert_ptr_null(a.values);
        ck_assert_ptr_null(a.name);
    }
    sweep_axis_clear(&a);
    buf_free(&got);
}
END_TEST

/* ---- the grid --------------------------------------------------------------------------- */

static char *v3[] = {"a", "b", "c"};
static char *v2[] = {"x", "y"};
static char *v1[] = {"only"};

START_TEST(test_grid)
{
    struct sweep_axis axes[3] = {{"A", v3, 3}, {"B", v2, 2}, {"C", v1, 1}};
    size_t idx[3];
    struct buf order = BUF_INIT;

    ck_assert_uint_eq(sweep_cell_count(axes, 0), 1);
    ck_assert_uint_eq(sweep_cell_count(axes, 1), 3);
    ck_assert_uint_eq(sweep_cell_count(axes, 3), 6);
    /* the first axis varies slowest */
    for (size_t c = 0; c < 6; c++) {
        sweep_cell_indices(axes, 3, c, idx);
        buf_printf(&order, "%s%s%s%s", c ? " " : "", v3[idx[0]], v2[idx[1]], v1[idx[2]]);
    }
    ck_assert_str_eq(order.data, "axonly ayonly bxonly byonly cxonly cyonly");
    buf_free(&order);
}
END_TEST

START_TEST(test_grid_too_large)
{
    static char *many[101];
    struct sweep_axis axes[2] = {{"A", many, 101}, {"B", many, 100}};
    struct sweep_axis empty = {"E", many, 0};

    ck_assert_uint_eq(sweep_cell_count(axes, 1), 101);
    ck_assert_uint_eq(sweep_cell_count(axes, 2), 0); /* 10100 > SWEEP_MAX_RUNS */
    ck_assert_uint_eq(sweep_cell_count(&empty, 1), 0);
}
END_TEST

/* ---- seeds ------------------------------------------------------------------------------ */

START_TEST(test_seeds)
{
    struct rng r;
    uint64_t bases[] = {0, 1, 7, UINT64_MAX};

    for (size_t b = 0; b < ARRAY_LEN(bases); b++) {
        /* repeat 0 is the plain run; repeat k the k-th output of the rng, cut to 53 bits */
        ck_assert_uint_eq(sweep_seed(bases[b], 0), bases[b]);
        rng_seed(&r, bases[b]);
        for (unsigned k = 1; k <= 20; k++) {
            uint64_t want = rng_next(&r) >> (64 - SWEEP_SEED_BITS);
            ck_assert_uint_eq(sweep_seed(bases[b], k), want);
            ck_assert_uint_lt(sweep_seed(bases[b], k), 1ull << SWEEP_SEED_BITS);
            for (unsigned j = 0; j < k; j++)
                ck_assert_uint_ne(sweep_seed(bases[b], k), sweep_seed(bases[b], j));
        }
    }
    /* different bases give different streams */
    ck_assert_uint_ne(sweep_seed(1, 1), sweep_seed(2, 1));
}
END_TEST

/* ---- statistics ------------------------------------------------------------------------- */

static const struct {
    double v[6];
    size_t n;
    double min, median, max;
} stat_rows[] = {
    {{0}, 0, 0, 0, 0},
    {{4.5}, 1, 4.5, 4.5, 4.5},
    {{3, 1}, 2, 1, 2, 3},
    {{5, 1, 3}, 3, 1, 3, 5},
    {{2, 8, 4, 6}, 4, 2, 5, 8},
    {{0.25, 0.25, 0.25, 9, 0.25}, 5, 0.25, 0.25, 9},
    {{-1, 10, 3, 3, 2, 7}, 6, -1, 3, 10},
};

START_TEST(test_stat)
{
    double v[6];
    struct sweep_stat st;

    memcpy(v, stat_rows[_i].v, sizeof(v));
    sweep_stat_of(v, stat_rows[_i].n, &st);
    ck_assert_uint_eq(st.n, stat_rows[_i].n);
    ck_assert_double_eq(st.min, stat_rows[_i].min);
    ck_assert_double_eq(st.median, stat_rows[_i].median);
    ck_assert_double_eq(st.max, stat_rows[_i].max);
}
END_TEST

/* ---- figures from a report -------------------------------------------------------------- */

static const char pass_report[] =
    "{\"result\": \"pass\", \"duration_s\": 2.5,"
    " \"awaits\": [{\"line\": 9, \"text\": \"await x\", \"took_s\": 0.125},"
    "              {\"line\": 14, \"text\": \"await y\", \"took_s\": 1.5}],"
    " \"appends\": {\"sent\": 5, \"acked\": 4, \"failed\": 1,"
    "               \"latency_ms\": {\"p50\": 1.5, \"p95\": 7.0, \"p99\": 9.25, \"max\": 10.0},"
    "               \"lost_on\": \"n0\", \"lost\": [\"a\", \"b\"]},"
    " \"gossip\": {\"posts\": 12, \"syncs\": 1, \"posts_per_append\": 3.0}}";

/* A run that failed at its second await, with another implementation (no gossip counters). */
static const char fail_report[] =
    "{\"result\": \"fail\", \"duration_s\": 10.0,"
    " \"awaits\": [{\"line\": 9, \"text\": \"await x\", \"took_s\": 0.5}],"
    " \"appends\": {\"sent\": 0, \"acked\": 0, \"failed\": 0,"
    "               \"latency_ms\": null,"
    "               \"lost_on\": \"n0\", \"lost\": []},"
    " \"gossip\": null}";

/* A cluster that never came up: no appends, no awaits. */
static const char error_report[] = "{\"result\": \"error\", \"duration_s\": 0.25, \"awaits\": [],"
                                   " \"appends\": null, \"gossip\": null}";

static const struct {
    const char *json; /* NULL: no report at all */
    const char *want; /* each figure: value or '-' */
} figure_rows[] = {
    {pass_report, "0.125 1.5 2.5 1.5 7 9.25 2 3"},
    {fail_report, "0.5 - 10 - - - 0 -"},
    {error_report, "- - 0.25 - - - - -"},
    {NULL, "- - - - - - - -"},
};

START_TEST(test_figures)
{
    static const unsigned lines[] = {9, 14};
    double vals[2 + SWEEP_FIXED_FIGURES];
    bool has[2 + SWEEP_FIXED_FIGURES];
    struct buf got = BUF_INIT;
    json_t *rep = figure_rows[_i].json ? json_loads(figure_rows[_i].json, 0, NULL) : NULL;

    ck_assert(figure_rows[_i].json == NULL || rep != NULL);
    sweep_figures_of(rep, lines, 2, vals, has);
    for (size_t f = 0; f < 2 + SWEEP_FIXED_FIGURES; f++) {
        if (has[f])
            buf_printf(&got, "%s%g", f ? " " : "", vals[f]);
        else
            buf_printf(&got, "%s-", f ? " " : "");
    }
    ck_assert_str_eq(got.data, figure_rows[_i].want);
    json_decref(rep);
    buf_free(&got);
}
END_TEST

START_TEST(test_figure_names)
{
    static const unsigned lines[] = {7, 21};
    char **names = sweep_figure_names(lines, 2);
    struct buf got = BUF_INIT;

    for (size_t i = 0; i < 2 + SWEEP_FIXED_FIGURES; i++)
        buf_printf(&got, "%s%s", i ? "," : "", names[i]);
    ck_assert_str_eq(got.data, "await_L7_s,await_L21_s,duration_s,append_p50_ms,append_p95_ms,"
                               "append_p99_ms,lost,msgs_per_append");
    ck_assert_ptr_null(names[2 + SWEEP_FIXED_FIGURES]);
    for (size_t i = 0; names[i]; i++)
        free(names[i]);
    free(names);
    buf_free(&got);
}
END_TEST

/* ---- CSV -------------------------------------------------------------------------------- */

static const struct {
    const char *in, *out;
} csv_rows[] = {
    {"plain", "plain"},
    {"", ""},
    {"n0-n2", "n0-n2"},
    {"n0,n3", "\"n0,n3\""},
    {"say \"hi\"", "\"say \"\"hi\"\"\""},
    {"two\nlines", "\"two\nlines\""},
    {"cr\r", "\"cr\r\""},
};

START_TEST(test_csv_field)
{
    struct buf b = BUF_INIT;
    sweep_csv_field(&b, csv_rows[_i].in);
    ck_assert_str_eq(b.data ? b.data : "", csv_rows[_i].out);
    buf_free(&b);
}
END_TEST

static Suite *sweep_suite(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("arithmetic");

    tcase_add_loop_test(tc, test_axis_parse, 0, ARRAY_LEN(axis_rows));
    tcase_add_test(tc, test_grid);
    tcase_add_test(tc, test_grid_too_large);
    tcase_add_test(tc, test_seeds);
    tcase_add_loop_test(tc, test_stat, 0, ARRAY_LEN(stat_rows));
    tcase_add_loop_test(tc, test_figures, 0, ARRAY_LEN(figure_rows));
    tcase_add_test(tc, test_figure_names);
    tcase_add_loop_test(tc, test_csv_field, 0, ARRAY_LEN(csv_rows));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sweep_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
