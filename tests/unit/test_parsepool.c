/* test_parsepool: every task runs once, at most max at a time, and no thread outlives the work. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "parsepool.h"

#define TASKS 200

struct counter {
    int ran;     /* tasks run (atomic) */
    int running; /* tasks running now (atomic) */
    int most;    /* the most running at once (atomic max) */
};

struct task {
    struct parsepool_task t;
    struct counter *c;
    int runs; /* how often this one ran */
};

static void task_run_cb(void *arg)
{
    struct task *k = arg;
    int now = __atomic_add_fetch(&k->c->running, 1, __ATOMIC_SEQ_CST);
    int most = __atomic_load_n(&k->c->most, __ATOMIC_SEQ_CST);
    while (now > most && !__atomic_compare_exchange_n(&k->c->most, &most, now, false,
                                                      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        ;
    struct timespec ts = {0, 200000}; /* 0.2 ms: long enough for tasks to overlap */
    nanosleep(&ts, NULL);
    k->runs++;
    __atomic_sub_fetch(&k->c->running, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&k->c->ran, 1, __ATOMIC_SEQ_CST);
}

/* Poll until the pool has no thread left (they exit once the queue is empty); 10 s at most. */
static size_t threads_after_work(struct parsepool *p)
{
    for (int i = 0; i < 10000 && parsepool_threads(p) > 0; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return parsepool_threads(p);
}

static const size_t max_rows[] = {1, 2, 3, PARSEPOOL_MAX_THREADS, 100};

START_TEST(test_every_task_once_within_max)
{
    size_t max = max_rows[_i];
    struct counter c = {0};
    struct task *tasks = calloc(TASKS, sizeof(*tasks));
    struct parsepool *p = parsepool_new(max);
    ck_assert_uint_eq(parsepool_threads(p), 0); /* nothing runs before work comes */
    for (int round = 0; round < 2; round++) {
        for (int i = round * TASKS / 2; i < (round + 1) * TASKS / 2; i++) {
            tasks[i] = (struct task){.t = {.run = task_run_cb, .arg = &tasks[i]}, .c = &c};
            parsepool_submit(p, &tasks[i].t);
        }
        parsepool_wait(p);
        ck_assert_int_eq(__atomic_load_n(&c.ran, __ATOMIC_SEQ_CST), (round + 1) * TASKS / 2);
        ck_assert_uint_eq(threads_after_work(p), 0); /* and none stays idle */
    }
    for (int i = 0; i < TASKS; i++)
        ck_assert_int_eq(tasks[i].runs, 1);
    size_t cap = max < PARSEPOOL_MAX_THREADS ? max : PARSEPOOL_MAX_THREADS;
    ck_assert_int_le(c.most, (int)cap); /* (how many ran side by side depends on the load) */
    parsepool_free(p);
    free(tasks);
}
END_TEST

START_TEST(test_default_size_and_free)
{
    struct counter c = {0};
    struct task k = {.t = {.run = task_run_cb, .arg = &k}, .c = &c};
    struct parsepool *p = parsepool_new(0); /* one per CPU, at most PARSEPOOL_MAX_THREADS */
    parsepool_submit(p, &k.t);
    parsepool_free(p); /* waits for the task */
    ck_assert_int_eq(k.runs, 1);
    parsepool_free(NULL);
}
END_TEST

static Suite *parsepool_suite(void)
{
    Suite *s = suite_create("parsepool");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_every_task_once_within_max, 0,
                        (int)(sizeof(max_rows) / sizeof(max_rows[0])));
    tcase_add_test(tc, test_default_size_and_free);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(parsepool_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
