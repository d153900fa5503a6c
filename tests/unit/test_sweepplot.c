/* Unit tests for sim/sweepplot.c: where the values of a swept parameter sit on the x axis. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sweepplot.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_VALUES   5

static const struct {
    const char *values[MAX_VALUES]; /* NULL-terminated */
    int numeric;
    const char *unit;
    double x[MAX_VALUES];
} axis_rows[] = {
    {{"10", "50", "100", "200"}, 1, "", {10, 50, 100, 200}},
    {{"0ms", "20ms", "50ms"}, 1, "ms", {0, 20, 50}},
    {{"0", "5%", "20%"}, 0, "", {0, 1, 2}}, /* "0" has no unit, the others '%' */
    {{"0%", "5%", "20%"}, 1, "%", {0, 5, 20}},
    {{"1s", "500ms"}, 0, "", {0, 1}}, /* two units: categories in the order given */
    {{"-2.5", "0.25", "3"}, 1, "", {-2.5, 0.25, 3}},
    {{"n4", "n4-n5", "n0-n9"}, 0, "", {0, 1, 2}},
    {{"none", "all"}, 0, "", {0, 1}},
    {{"longest", "longest-lowest-hash"}, 0, "", {0, 1}},
    {{"0x10", "16"}, 0, "", {0, 1}},
    {{"1.", "2"}, 0, "", {0, 1}},
    {{".5", "1"}, 0, "", {0, 1}},
    {{"5", "7/s"}, 0, "", {0, 1}},
    {{"2000"}, 1, "", {2000}},
};

START_TEST(test_axis_of)
{
    size_t n = 0;
    double x[MAX_VALUES];
    char unit[SWEEPPLOT_UNIT_MAX] = "junk";

    while (n < MAX_VALUES && axis_rows[_i].values[n] != NULL)
        n++;
    bool numeric = sweepplot_axis_of(axis_rows[_i].values, n, x, unit);
    ck_assert_int_eq(numeric, axis_rows[_i].numeric);
    ck_assert_str_eq(unit, axis_rows[_i].unit);
    for (size_t i = 0; i < n; i++)
        ck_assert_double_eq_tol(x[i], axis_rows[_i].x[i], 1e-9);
}
END_TEST

START_TEST(test_axis_of_long_unit)
{
    const char *values[] = {"1abcdefghijklmnopq", "2abcdefghijklmnopq"};
    double x[2];
    char unit[SWEEPPLOT_UNIT_MAX];
    ck_assert(!sweepplot_axis_of(values, 2, x, unit));
    ck_assert_str_eq(unit, "");
}
END_TEST

static Suite *sweepplot_suite(void)
{
    Suite *s = suite_create("sweepplot");
    TCase *tc = tcase_create("axis");

    tcase_add_loop_test(tc, test_axis_of, 0, ARRAY_LEN(axis_rows));
    tcase_add_test(tc, test_axis_of_long_unit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sweepplot_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
