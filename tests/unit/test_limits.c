/* test_limits: what a run of many nodes needs from the machine, planned from what it has. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"

#define MIB (1024ULL * 1024)

static const struct {
    const char *name;
    struct limits_need need;
    struct limits_have have;
    int rc;
    uint64_t pid_max, threads_max, nproc; /* what to set (0: as it is) */
    const char *err;                      /* part of the refusal */
} rows[] = {
    {"fits as it is",
     {100, 5, MIB},
     {32768, 192730, UINT64_MAX, UINT64_MAX, 400, 8192 * MIB},
     0,
     0,
     0,
     0,
     NULL},
    /* 10,000 nodes x 5 + 400 running + 2,000 slack = 52,400 tasks: pid_max doubled to fit */
    {"pid_max raised",
     {10000, 5, MIB},
     {32768, 192730, UINT64_MAX, UINT64_MAX, 400, 24000 * MIB},
     0,
     104800,
     0,
     0,
     NULL},
    {"threads-max raised too",
     {10000, 5, 0},
     {32768, 40000, UINT64_MAX, UINT64_MAX, 400, 0},
     0,
     104800,
     104800,
     0,
     NULL},
    {"over the largest pid_max",
     {1000000, 5, 0},
     {32768, 192730, UINT64_MAX, UINT64_MAX, 400, 0},
     -1,
     0,
     0,
     0,
     "over the kernel's largest pid_max"},
    {"RLIMIT_NPROC soft limit raised to the hard one",
     {1000, 5, 0},
     {32768, 192730, 4000, 100000, 400, 0},
     0,
     0,
     0,
     100000,
     NULL},
    {"RLIMIT_NPROC hard limit too low",
     {1000, 5, 0},
     {32768, 192730, 4000, 5000, 400, 0},
     -1,
     0,
     0,
     0,
     "ulimit -Hu: 5000"},
    {"not enough memory",
     {10000, 5, MIB},
     {32768, 192730, UINT64_MAX, UINT64_MAX, 400, 4096 * MIB},
     -1,
     0,
     0,
     0,
     "need about 10000 MiB of memory and 4096 MiB are available"},
    {"memory not checked for other implementations",
     {10000, 5, 0},
     {131072, 192730, UINT64_MAX, UINT64_MAX, 400, 0},
     0,
     0,
     0,
     0,
     NULL},
};

START_TEST(test_plan)
{
    uint64_t pid_max = 1, threads_max = 1, nproc = 1;
    char err[512] = "";
    int rc = limits_plan(&rows[_i].need, &rows[_i].have, &pid_max, &threads_max, &nproc, err,
                         sizeof(err));
    ck_assert_msg(rc == rows[_i].rc, "%s: rc %d (%s)", rows[_i].name, rc, err);
    if (rc == 0) {
        ck_assert_uint_eq(pid_max, rows[_i].pid_max);
        ck_assert_uint_eq(threads_max, rows[_i].threads_max);
        ck_assert_uint_eq(nproc, rows[_i].nproc);
    } else {
        ck_assert_msg(strstr(err, rows[_i].err) != NULL, "%s: %s", rows[_i].name, err);
    }
}
END_TEST

START_TEST(test_read_this_machine)
{
    struct limits_have have;
    char err[256] = "";
    ck_assert_msg(limits_read(&have, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_gt(have.pid_max, 0);
    ck_assert_uint_gt(have.threads_max, 0);
    ck_assert_uint_gt(have.tasks, 0);
    ck_assert_uint_gt(have.mem_available, 0);
    ck_assert_int_eq(limits_raise_nofile(err, sizeof(err)), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_plan, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, test_read_this_machine);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
