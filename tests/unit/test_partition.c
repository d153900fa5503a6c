/* test_partition: sides, bridges, cuts and heal, as the statements leave them. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "partition.h"

/* A partition step from its text, through the real parser. */
static struct scenario *parse(const char *text)
{
    struct scenario *sc = NULL;
    char err[256];
    ck_assert_msg(scenario_parse("t.scn", text, strlen(text), &sc, err, sizeof(err)) == 0, "%s",
                  err);
    return sc;
}

struct sides_row {
    const char *text;     /* a 6-node scenario's steps */
    const char *describe; /* partition_describe after the first step */
};

static const struct sides_row sides_rows[] = {
    {"nodes 6\npartition n0-n2 | n3-n5\n", "n0-n2 | n3-n5"},
    {"nodes 6\npartition n3\n", "n3 | n0-n2,n4-n5"},
    {"nodes 6\npartition halves\n", "n0-n2 | n3-n5"},
    {"nodes 6\npartition n0 | n1\n", "n0 | n1 | n2-n5"},
};

START_TEST(test_sides)
{
    const struct sides_row *row = &sides_rows[_i];
    struct scenario *sc = parse(row->text);
    struct partition *p = partition_new(6);
    struct rng rng;
    struct buf b = BUF_INIT;
    rng_seed(&rng, 1);
    partition_apply(p, &sc->steps[0], &rng);
    partition_describe(p, &b);
    ck_assert_str_eq(b.data, row->describe);
    ck_assert(partition_has_sides(p));
    /* Blocked exactly between different sides, both ways. */
    for (unsigned a = 0; a < 6; a++)
        for (unsigned c = 0; c < 6; c++)
            ck_assert_int_eq(partition_blocked(p, a, c),
                             partition_side(p, a) != partition_side(p, c));
    for (unsigned a = 0; a < 6; a++) /* ... because of the sides, not of a cut */
        for (unsigned c = 0; c < 6; c++)
            ck_assert(partition_across(p, a, c) == partition_blocked(p, a, c) &&
                      !partition_is_cut(p, a, c));
    partition_heal(p);
    ck_assert(!partition_has_sides(p) && !partition_blocked(p, 0, 5));
    buf_free(&b);
    partition_free(p);
    scenario_free(sc);
}
END_TEST

START_TEST(test_bridge_reaches_both_sides)
{
    struct scenario *sc = parse("nodes 7\npartition bridge\n");
    struct partition *p = partition_new(7);
    struct rng rng;
    rng_seed(&rng, 9);
    partition_apply(p, &sc->steps[0], &rng);
    int bridges = 0;
    for (unsigned b = 0; b < 7; b++) {
        if (!partition_is_bridge(p, b))
            continue;
        bridges++;
        for (unsigned o = 0; o < 7; o++)
            ck_assert(!partition_blocked(p, b, o) && !partition_blocked(p, o, b));
    }
    ck_assert_int_eq(bridges, 1);
    partition_free(p);
    scenario_free(sc);
}
END_TEST

START_TEST(test_cuts_one_way_and_heal)
{
    struct partition *p = partition_new(4);
    struct nodeset a, b;
    nodeset_clear(&a);
    nodeset_clear(&b);
    nodeset_add(&a, 0);
    nodeset_add(&b, 1);
    nodeset_add(&b, 0); /* a == b pairs are skipped */
    ck_assert_uint_eq(partition_cut(p, &a, &b, true), 1);
    ck_assert(partition_blocked(p, 0, 1) && !partition_blocked(p, 1, 0));
    ck_assert(partition_is_cut(p, 0, 1) && !partition_is_cut(p, 1, 0) &&
              !partition_across(p, 0, 1));
    ck_assert_uint_eq(partition_cut(p, &b, &a, false), 2);
    ck_assert(partition_blocked(p, 1, 0));
    ck_assert(!partition_has_sides(p) && partition_cuts(p) == 3);
    partition_heal(p);
    ck_assert(!partition_blocked(p, 0, 1) && partition_cuts(p) == 0);
    partition_free(p);
}
END_TEST

#define ROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *partition_suite(void)
{
    Suite *s = suite_create("partition");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_sides, 0, ROWS(sides_rows));
    tcase_add_test(tc, test_bridge_reaches_both_sides);
    tcase_add_test(tc, test_cuts_one_way_and_heal);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(partition_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
