/* test_forkchoice: the chain comparison of --fork-choice: rows, and the orders it must be. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "forkchoice.h"

#define ROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

#define LO  "0000000000000000000000000000000000000000000000000000000000000001"
#define MID "8000000000000000000000000000000000000000000000000000000000000000"
#define HI  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define HIA "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe"

struct win_row {
    enum forkchoice rule;
    uint64_t height;
    const char *hash;
    uint64_t held_height;
    const char *held_hash;
    bool wins;
};

static const struct win_row win_rows[] = {
    /* longest: height alone */
    {FORKCHOICE_LONGEST, 6, HI, 5, LO, true},
    {FORKCHOICE_LONGEST, 5, LO, 5, HI, false}, /* a tie never replaces */
    {FORKCHOICE_LONGEST, 4, LO, 5, HI, false},
    {FORKCHOICE_LONGEST, 5, LO, 5, LO, false},
    /* longest-lowest-hash: height first, then the lower tip hash */
    {FORKCHOICE_LOWEST_HASH, 6, HI, 5, LO, true},
    {FORKCHOICE_LOWEST_HASH, 4, LO, 5, HI, false},
    {FORKCHOICE_LOWEST_HASH, 5, LO, 5, HI, true},
    {FORKCHOICE_LOWEST_HASH, 5, HI, 5, LO, false},
    {FORKCHOICE_LOWEST_HASH, 5, HIA, 5, HI, true}, /* the last character decides */
    {FORKCHOICE_LOWEST_HASH, 5, HI, 5, HIA, false},
    {FORKCHOICE_LOWEST_HASH, 5, MID, 5, MID, false}, /* the same chain never replaces itself */
    {FORKCHOICE_LOWEST_HASH, 0, BLOCK_GENESIS_HASH, 0, BLOCK_GENESIS_HASH, false},
    /* an unknown hash wins only by height */
    {FORKCHOICE_LOWEST_HASH, 5, "", 5, HI, false},
    {FORKCHOICE_LOWEST_HASH, 5, NULL, 5, HI, false},
    {FORKCHOICE_LOWEST_HASH, 5, LO, 5, "", false},
    {FORKCHOICE_LOWEST_HASH, 6, NULL, 5, HI, true},
    {FORKCHOICE_LOWEST_HASH, 5, "00", 5, HI, false}, /* too short */
    {FORKCHOICE_LOWEST_HASH, UINT64_MAX, HI, UINT64_MAX - 1, LO, true},
};

START_TEST(test_wins)
{
    const struct win_row *r = &win_rows[_i];
    ck_assert_int_eq(forkchoice_wins(r->rule, r->height, r->hash, r->held_height, r->held_hash),
                     r->wins);
}
END_TEST

/* Over a set of tips, each rule is a strict order: never both ways, never a tip over itself,
 * and transitive; longest-lowest-hash is total (of two different tips one wins), so every node
 * holding any two of them keeps the same one. */
START_TEST(test_strict_total_order)
{
    static const struct {
        uint64_t height;
        const char *hash;
    } tips[] = {{3, LO}, {3, MID}, {3, HI}, {4, HI}, {4, LO}, {2, LO}, {5, HIA}, {5, HI}};
    size_t n = sizeof(tips) / sizeof(tips[0]);
    for (int rule = FORKCHOICE_LONGEST; rule <= FORKCHOICE_LOWEST_HASH; rule++) {
        for (size_t a = 0; a < n; a++) {
            ck_assert(
                !forkchoice_wins(rule, tips[a].height, tips[a].hash, tips[a].height, tips[a].hash));
            for (size_t b = 0; b < n; b++) {
                bool ab = forkchoice_wins(rule, tips[a].height, tips[a].hash, tips[b].height,
                                          tips[b].hash);
                bool ba = forkchoice_wins(rule, tips[b].height, tips[b].hash, tips[a].height,
                                          tips[a].hash);
                ck_assert(!(ab && ba));
                if (rule == FORKCHOICE_LOWEST_HASH && a != b)
                    ck_assert(ab || ba);
                if (rule == FORKCHOICE_LONGEST && tips[a].height == tips[b].height)
                    ck_assert(!ab && !ba);
                for (size_t c = 0; c < n && ab; c++) {
                    bool bc = forkchoice_wins(rule, tips[b].height, tips[b].hash, tips[c].height,
                                              tips[c].hash);
                    if (bc)
                        ck_assert(forkchoice_wins(rule, tips[a].height, tips[a].hash,
                                                  tips[c].height, tips[c].hash));
                }
            }
        }
    }
}
END_TEST

START_TEST(test_names)
{
    enum forkchoice f = FORKCHOICE_LOWEST_HASH;
    ck_assert_int_eq(forkchoice_parse("longest", &f), 0);
    ck_assert_int_eq(f, FORKCHOICE_LONGEST);
    ck_assert_int_eq(forkchoice_parse("longest-lowest-hash", &f), 0);
    ck_assert_int_eq(f, FORKCHOICE_LOWEST_HASH);
    ck_assert_str_eq(forkchoice_name(FORKCHOICE_LONGEST), "longest");
    ck_assert_str_eq(forkchoice_name(FORKCHOICE_LOWEST_HASH), "longest-lowest-hash");
    ck_assert_int_eq(forkchoice_parse("Longest", &f), -1);
    ck_assert_int_eq(forkchoice_parse("lowest-hash", &f), -1);
    ck_assert_int_eq(forkchoice_parse("", &f), -1);
    ck_assert_int_eq(f, FORKCHOICE_LOWEST_HASH); /* untouched on failure */
}
END_TEST

static Suite *forkchoice_suite(void)
{
    Suite *s = suite_create("forkchoice");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_wins, 0, ROWS(win_rows));
    tcase_add_test(tc, test_strict_total_order);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(forkchoice_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
