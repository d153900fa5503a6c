/* test_run: the run helpers that are pure: grouping per-node details into ranges. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

struct compress_row {
    const char *detail;
    const char *want;
};

static const struct compress_row compress_rows[] = {
    {"n0 kept 2, n1 kept 2, n2 replaced 3, n3 kept 2", "n0-n1,n3 kept 2; n2 replaced 3"},
    {"n0 killed", "n0 killed"},
    {"n5 running height 1 tip ab,n6 running height 1 tip ab,n7 exited height - tip not running",
     "n5-n6 running height 1 tip ab; n7 exited height - tip not running"},
    {"started: 10/s for 1.000s over 3 nodes, in the background",
     "started: 10/s for 1.000s over 3 nodes, in the background"}, /* not a node list: as is */
    {"every link released", "every link released"},
    {"", ""},
    /* a tail of per-node values, as awaits and expects say them */
    {"held after 1.689s (2 polls): n0=1 n1=1 n2=1 n3=2 n5=1",
     "held after 1.689s (2 polls): n0-n2,n5=1 n3=2"},
    {"held: lost 0 on n2", "held: lost 0 on n2"},
    {"n0=3 n1=3", "n0-n1=3"},
    {"held: n0=3 n1", "held: n0=3 n1"}, /* an item of another shape: as is */
};

START_TEST(test_compress)
{
    const struct compress_row *row = &compress_rows[_i];
    struct buf out = BUF_INIT;
    run_compress(row->detail, &out);
    ck_assert_str_eq(out.data ? out.data : "", row->want);
    buf_free(&out);
}
END_TEST

#define ROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *run_suite(void)
{
    Suite *s = suite_create("run");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_compress, 0, ROWS(compress_rows));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(run_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
