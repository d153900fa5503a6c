/* test_topology: generators, edge editing, connectivity, iteration and the seeded rng behind
 * random. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "rng.h"
#include "topology.h"

#define NO_DEGREE (-1) /* row field not checked */

struct kind_row {
    enum topology_kind kind;
    double arg;
    int n;
    size_t edges;       /* directed */
    int min_degree;     /* over all nodes, or NO_DEGREE */
    int max_degree;     /* over all nodes, or NO_DEGREE */
    bool connected;     /* expected topology_is_connected() */
    const int *degrees; /* every node's degree, or NULL */
};

static const int line5[] = {1, 2, 2, 2, 1};
static const int pair2[] = {1, 1};
static const int star5[] = {4, 1, 1, 1, 1};
static const int star4c2[] = {1, 1, 3, 1};
static const int tree7f2[] = {2, 3, 3, 1, 1, 1, 1};
static const int tree10f3[] = {3, 4, 4, 1, 1, 1, 1, 1, 1, 1};
static const int grid9c3[] = {2, 3, 2, 3, 4, 3, 2, 3, 2};
static const int grid7c3[] = {2, 3, 2, 3, 3, 2, 1};

static const struct kind_row kind_rows[] = {
    {TOPOLOGY_NONE, 0, 1, 0, 0, 0, true, NULL},
    {TOPOLOGY_NONE, 0, 5, 0, 0, 0, false, NULL},
    {TOPOLOGY_LINE, 0, 1, 0, 0, 0, true, NULL},
    {TOPOLOGY_LINE, 0, 2, 2, 1, 1, true, pair2},
    {TOPOLOGY_LINE, 0, 5, 8, 1, 2, true, line5},
    {TOPOLOGY_LINE, 0, 100, 198, 1, 2, true, NULL},
    {TOPOLOGY_RING, 0, 1, 0, 0, 0, true, NULL},
    {TOPOLOGY_RING, 0, 2, 2, 1, 1, true, pair2},
    {TOPOLOGY_RING, 0, 3, 6, 2, 2, true, NULL},
    {TOPOLOGY_RING, 0, 10, 20, 2, 2, true, NULL},
    {TOPOLOGY_RING, 0, 1024, 2048, 2, 2, true, NULL},
    {TOPOLOGY_STAR, 0, 1, 0, 0, 0, true, NULL},
    {TOPOLOGY_STAR, 0, 5, 8, 1, 4, true, star5},
    {TOPOLOGY_STAR, 2, 4, 6, 1, 3, true, star4c2},
    {TOPOLOGY_STAR, 0, 1024, 2046, 1, 1023, true, NULL},
    {TOPOLOGY_MESH, 0, 1, 0, 0, 0, true, NULL},
    {TOPOLOGY_MESH, 0, 4, 12, 3, 3, true, NULL},
    {TOPOLOGY_MESH, 0, 50, 2450, 49, 49, true, NULL},
    {TOPOLOGY_TREE, 1, 5, 8, 1, 2, true, line5},
    {TOPOLOGY_TREE, 2, 7, 12, 1, 3, true, tree7f2},
    {TOPOLOGY_TREE, 3, 10, 18, 1, 4, true, tree10f3},
    {TOPOLOGY_TREE, 4, 1000, 1998, 1, 5, true, NULL},
    {TOPOLOGY_GRID, 3, 9, 24, 2, 4, true, grid9c3},
    {TOPOLOGY_GRID, 3, 7, 16, 1, 3, true, grid7c3},
    {TOPOLOGY_GRID, 1, 5, 8, 1, 2, true, line5},
    {TOPOLOGY_GRID, 10, 5, 8, 1, 2, true, line5},
    {TOPOLOGY_GRID, 32, 1024, 3968, 2, 4, true, NULL},
    {TOPOLOGY_RANDOM, 4, 1, 0, 0, 0, true, NULL},
    {TOPOLOGY_RANDOM, 0, 10, 18, 1, NO_DEGREE, true, NULL},
    {TOPOLOGY_RANDOM, 2, 10, 20, 1, NO_DEGREE, true, NULL},
    {TOPOLOGY_RANDOM, 3, 5, 16, 1, NO_DEGREE, true, NULL},
    {TOPOLOGY_RANDOM, 4, 100, 400, 1, NO_DEGREE, true, NULL},
    {TOPOLOGY_RANDOM, 9, 10, 90, 9, 9, true, NULL},
    {TOPOLOGY_RANDOM, 100, 10, 90, 9, 9, true, NULL},
    {TOPOLOGY_RANDOM, 6, 1024, 6144, 1, NO_DEGREE, true, NULL},
    /* above TOPOLOGY_ENUMERATE_NODES: pairs drawn, not listed; still connected, same count */
    {TOPOLOGY_RANDOM, 4, 2000, 8000, 1, NO_DEGREE, true, NULL},
};

static struct topology *make(enum topology_kind kind, double arg, int n, uint64_t seed)
{
    struct topology *t = NULL;
    struct rng rng;
    char err[256] = "";

    rng_seed(&rng, seed);
    ck_assert_int_eq(topology_new(n, &t, err, sizeof(err)), 0);
    ck_assert_msg(topology_generate(t, kind, arg, &rng, err, sizeof(err)) == 0, "%s", err);
    return t;
}

START_TEST(test_kinds)
{
    const struct kind_row *row = &kind_rows[_i];
    struct topology *t = make(row->kind, row->arg, row->n, 7);
    size_t out_sum = 0;

    ck_assert_int_eq(topology_nodes(t), row->n);
    ck_assert_msg(topology_edge_count(t) == row->edges, "%s %g n=%d: %zu edges, want %zu",
                  topology_kind_name(row->kind), row->arg, row->n, topology_edge_count(t),
                  row->edges);
    for (int i = 0; i < row->n; i++) {
        int d = topology_out_degree(t, i);
        out_sum += (size_t)d;
        /* Every generator adds both directions. */
        ck_assert_int_eq(d, topology_in_degree(t, i));
        if (row->degrees != NULL)
            ck_assert_msg(d == row->degrees[i], "%s n=%d: node %d degree %d, want %d",
                          topology_kind_name(row->kind), row->n, i, d, row->degrees[i]);
        if (row->min_degree != NO_DEGREE)
            ck_assert_int_ge(d, row->min_degree);
        if (row->max_degree != NO_DEGREE)
            ck_assert_int_le(d, row->max_degree);
        ck_assert(!topology_has_edge(t, i, i));
    }
    ck_assert_uint_eq(out_sum, row->edges);
    ck_assert_int_eq(topology_is_connected(t), row->connected);
    topology_free(t);
}
END_TEST

START_TEST(test_random_same_seed_same_graph)
{
    struct topology *a = make(TOPOLOGY_RANDOM, 4, 100, 42);
    struct topology *b = make(TOPOLOGY_RANDOM, 4, 100, 42);

    for (int i = 0; i < 100; i++) {
        for (int j = 0; j < 100; j++)
            ck_assert_int_eq(topology_has_edge(a, i, j), topology_has_edge(b, i, j));
    }
    topology_free(a);
    topology_free(b);
}
END_TEST

static bool same_graph(const struct topology *a, const struct topology *b)
{
    for (int i = 0; i < topology_nodes(a); i++) {
        for (int j = 0; j < topology_nodes(a); j++) {
            if (topology_has_edge(a, i, j) != topology_has_edge(b, i, j))
                return false;
        }
    }
    return true;
}

START_TEST(test_random_seeds_differ)
{
    struct topology *base = make(TOPOLOGY_RANDOM, 4, 100, 1);
    int differ = 0;

    for (uint64_t seed = 2; seed < 12; seed++) {
        struct topology *t = make(TOPOLOGY_RANDOM, 4, 100, seed);
        differ += !same_graph(base, t);
        topology_free(t);
    }
    ck_assert_int_eq(differ, 10);
    topology_free(base);
}
END_TEST

START_TEST(test_random_100_degree_4)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct topology *t = make(TOPOLOGY_RANDOM, 4, 100, seed);
        ck_assert(topology_is_connected(t));
        double avg = (double)topology_edge_count(t) / topology_nodes(t);
        ck_assert_double_eq_tol(avg, 4.0, 0.01);
        topology_free(t);
    }
}
END_TEST

START_TEST(test_random_many_sizes_connected)
{
    static const double degrees[] = {0, 1, 2, 2.5, 3, 5, 8};
    for (int n = 1; n <= 40; n++) {
        for (size_t k = 0; k < sizeof(degrees) / sizeof(degrees[0]); k++) {
            struct topology *t = make(TOPOLOGY_RANDOM, degrees[k], n, (uint64_t)n * 31 + k);
            double pairs = (double)n * degrees[k] / 2 + 0.5;
            size_t want = (size_t)pairs;
            if (want < (size_t)n - 1)
                want = (size_t)n - 1;
            if (want > (size_t)n * (n - 1) / 2)
                want = (size_t)n * (n - 1) / 2;
            ck_assert(topology_is_connected(t));
            ck_assert_uint_eq(topology_edge_count(t), 2 * want);
            topology_free(t);
        }
    }
}
END_TEST

START_TEST(test_link_unlink)
{
    struct topology *t = NULL;
    char err[256];

    ck_assert_int_eq(topology_new(4, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(topology_link(t, 0, 1, false, err, sizeof(err)), 0);
    ck_assert(topology_has_edge(t, 0, 1));
    ck_assert(!topology_has_edge(t, 1, 0));
    ck_assert_uint_eq(topology_edge_count(t), 1);
    /* One-way edges still connect the undirected view. */
    ck_assert_int_eq(topology_link(t, 2, 1, false, err, sizeof(err)), 0);
    ck_assert_int_eq(topology_link(t, 3, 2, true, err, sizeof(err)), 0);
    ck_assert_int_eq(topology_link(t, 3, 2, true, err, sizeof(err)), 0); /* idempotent */
    ck_assert_uint_eq(topology_edge_count(t), 4);
    ck_assert(topology_is_connected(t));
    ck_assert_int_eq(topology_out_degree(t, 2), 2);
    ck_assert_int_eq(topology_in_degree(t, 2), 1);

    ck_assert_int_eq(topology_unlink(t, 2, 3, false, err, sizeof(err)), 0);
    ck_assert(topology_has_edge(t, 3, 2));
    ck_assert(!topology_has_edge(t, 2, 3));
    ck_assert_int_eq(topology_unlink(t, 2, 3, true, err, sizeof(err)), 0);
    ck_assert(!topology_has_edge(t, 3, 2));
    ck_assert_int_eq(topology_unlink(t, 2, 3, true, err, sizeof(err)), 0); /* absent is fine */
    ck_assert_uint_eq(topology_edge_count(t), 2);
    ck_assert(!topology_is_connected(t));

    ck_assert_int_eq(topology_link(t, 1, 1, true, err, sizeof(err)), -1);
    ck_assert_int_eq(topology_link(t, 0, 4, true, err, sizeof(err)), -1);
    ck_assert_int_eq(topology_link(t, -1, 0, true, err, sizeof(err)), -1);
    ck_assert_int_eq(topology_unlink(t, 0, 9, true, err, sizeof(err)), -1);
    ck_assert(!topology_has_edge(t, 0, 9));
    ck_assert(!topology_has_edge(t, -1, 0));
    ck_assert_int_eq(topology_out_degree(t, 7), 0);
    topology_free(t);
}
END_TEST

START_TEST(test_iteration_order)
{
    struct topology *t = make(TOPOLOGY_RANDOM, 5, 200, 3);
    struct topology_edge e = TOPOLOGY_EDGE_START;
    struct topology_edge prev = {-1, -1};
    size_t count = 0;

    while (topology_next_edge(t, &e)) {
        ck_assert(topology_has_edge(t, e.from, e.to));
        ck_assert(e.from > prev.from || (e.from == prev.from && e.to > prev.to));
        prev = e;
        count++;
    }
    ck_assert_uint_eq(count, topology_edge_count(t));
    ck_assert(!topology_next_edge(t, &e)); /* stays at the end */
    topology_free(t);

    /* Edges at word boundaries and the last node. */
    char err[64];
    ck_assert_int_eq(topology_new(130, &t, err, sizeof(err)), 0);
    static const struct topology_edge want[] = {{0, 63}, {0, 64}, {63, 129}, {129, 0}, {129, 128}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        ck_assert_int_eq(topology_link(t, want[i].from, want[i].to, false, err, sizeof(err)), 0);
    e = TOPOLOGY_EDGE_START;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        ck_assert(topology_next_edge(t, &e));
        ck_assert_int_eq(e.from, want[i].from);
        ck_assert_int_eq(e.to, want[i].to);
    }
    ck_assert(!topology_next_edge(t, &e));
    topology_free(t);
}
END_TEST

struct bad_row {
    enum topology_kind kind;
    double arg;
    int n;
};

static const struct bad_row bad_rows[] = {
    {TOPOLOGY_STAR, 5, 5},          {TOPOLOGY_STAR, -1, 5},   {TOPOLOGY_STAR, 1.5, 5},
    {TOPOLOGY_TREE, 0, 5},          {TOPOLOGY_TREE, -2, 5},   {TOPOLOGY_GRID, 0, 5},
    {TOPOLOGY_RANDOM, -1, 5},       {TOPOLOGY_GRID, 1e12, 5}, {TOPOLOGY_RANDOM, 0.0 / 0.0, 5},
    {(enum topology_kind)99, 0, 5},
};

START_TEST(test_bad_args)
{
    const struct bad_row *row = &bad_rows[_i];
    struct topology *t = NULL;
    struct rng rng;
    char err[256] = "";

    rng_seed(&rng, 1);
    ck_assert_int_eq(topology_new(row->n, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(topology_generate(t, row->kind, row->arg, &rng, err, sizeof(err)), -1);
    ck_assert_str_ne(err, "");
    ck_assert_uint_eq(topology_edge_count(t), 0);
    topology_free(t);
}
END_TEST

START_TEST(test_bad_sizes)
{
    struct topology *t = (struct topology *)&t;
    char err[256] = "";

    ck_assert_int_eq(topology_new(0, &t, err, sizeof(err)), -1);
    ck_assert_ptr_null(t);
    ck_assert_str_ne(err, "");
    ck_assert_int_eq(topology_new(TOPOLOGY_MAX_NODES + 1, &t, err, sizeof(err)), -1);
    ck_assert_int_eq(topology_new(TOPOLOGY_MAX_NODES, &t, NULL, 0), 0);
    topology_free(t);
    topology_free(NULL);
}
END_TEST

START_TEST(test_kind_names)
{
    static const char *const names[] = {"none", "line", "ring", "star",
                                        "mesh", "tree", "grid", "random"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        enum topology_kind k;
        ck_assert_int_eq(topology_kind_parse(names[i], &k), 0);
        ck_assert_str_eq(topology_kind_name(k), names[i]);
    }
    enum topology_kind k;
    ck_assert_int_eq(topology_kind_parse("torus", &k), -1);
    ck_assert(topology_kind_has_arg(TOPOLOGY_TREE));
    ck_assert(!topology_kind_has_arg(TOPOLOGY_RING));
}
END_TEST

/* Known answers pin the generator: the same seed must give these values on every machine. */
START_TEST(test_rng_known_answers)
{
    static const struct {
        uint64_t seed;
        uint64_t first[3];
    } rows[] = {
        {0, {0x99ec5f36cb75f2b4ULL, 0xbf6e1f784956452aULL, 0x1a5f849d4933e6e0ULL}},
        {1, {0xb3f2af6d0fc710c5ULL, 0x853b559647364ceaULL, 0x92f89756082a4514ULL}},
        {42, {0x15780b2e0c2ec716ULL, 0x6104d9866d113a7eULL, 0xae17533239e499a1ULL}},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct rng r;
        rng_seed(&r, rows[i].seed);
        for (int j = 0; j < 3; j++)
            ck_assert_uint_eq(rng_next(&r), rows[i].first[j]);
    }
}
END_TEST

START_TEST(test_rng_ranges)
{
    struct rng r;
    int hits[7] = {0};
    int a[50];

    rng_seed(&r, 9);
    ck_assert_uint_eq(rng_below(&r, 0), 0);
    ck_assert_uint_eq(rng_below(&r, 1), 0);
    for (int i = 0; i < 7000; i++) {
        uint64_t x = rng_below(&r, 7);
        ck_assert_uint_lt(x, 7);
        hits[x]++;
    }
    for (int i = 0; i < 7; i++)
        ck_assert_int_gt(hits[i], 800); /* expected 1000 each */
    for (int i = 0; i < 10000; i++) {
        double d = rng_double(&r);
        ck_assert(d >= 0.0 && d < 1.0);
    }
    for (int i = 0; i < 50; i++)
        a[i] = i;
    rng_shuffle(&r, a, 50);
    int seen[50] = {0};
    for (int i = 0; i < 50; i++)
        seen[a[i]]++;
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(seen[i], 1);
    rng_shuffle(&r, a, 0);
}
END_TEST

static Suite *topology_suite(void)
{
    Suite *s = suite_create("topology");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_kinds, 0, (int)(sizeof(kind_rows) / sizeof(kind_rows[0])));
    tcase_add_test(tc, test_random_same_seed_same_graph);
    tcase_add_test(tc, test_random_seeds_differ);
    tcase_add_test(tc, test_random_100_degree_4);
    tcase_add_test(tc, test_random_many_sizes_connected);
    tcase_add_test(tc, test_link_unlink);
    tcase_add_test(tc, test_iteration_order);
    tcase_add_loop_test(tc, test_bad_args, 0, (int)(sizeof(bad_rows) / sizeof(bad_rows[0])));
    tcase_add_test(tc, test_bad_sizes);
    tcase_add_test(tc, test_kind_names);
    tcase_add_test(tc, test_rng_known_answers);
    tcase_add_test(tc, test_rng_ranges);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(topology_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
