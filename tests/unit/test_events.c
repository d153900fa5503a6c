/* test_events: the run's record: stamps, order, the file, reads after T, waiting readers. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"

START_TEST(test_stamps_and_since)
{
    struct events *ev = events_new();
    double t1 = events_emit(ev, "step", json_pack("{s:s}", "action", "start"));
    double t2 = events_emit(ev, "step", json_pack("{s:s}", "action", "end"));
    ck_assert(t1 >= 0 && t2 >= t1);
    json_t *all = events_since(ev, -1, 0, 0);
    ck_assert_uint_eq(json_array_size(all), 2);
    json_t *e = json_array_get(all, 0);
    ck_assert_str_eq(json_string_value(json_object_get(e, "kind")), "step");
    ck_assert_str_eq(json_string_value(json_object_get(e, "action")), "start");
    const char *wall = json_string_value(json_object_get(e, "wall"));
    ck_assert_uint_eq(strlen(wall), 24); /* 2026-11-30T10:08:47.651Z */
    ck_assert(wall[10] == 'T' && wall[19] == '.' && wall[23] == 'Z');
    json_decref(all);
    json_t *later = events_since(ev, t1, 0, 0);
    ck_assert_uint_le(json_array_size(later), 1);
    json_decref(later);
    json_t *one = events_since(ev, -1, 1, 0);
    ck_assert_uint_eq(json_array_size(one), 1);
    json_decref(one);
    events_free(ev);
}
END_TEST

START_TEST(test_file_in_time_order)
{
    char dir[] = "/tmp/test-events-XXXXXX";
    char err[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct events *ev = events_new();
    events_emit(ev, "node", json_pack("{s:s}", "action", "started")); /* before the file */
    ck_assert_int_eq(events_attach(ev, dir, err, sizeof(err)), 0);
    for (int i = 0; i < 100; i++)
        events_emit(ev, "observe", json_pack("{s:i}", "i", i));
    events_log(ev, "two\nlines");
    events_free(ev);
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, EVENTS_FILE);
    json_t *evs = events_load(path, err, sizeof(err));
    ck_assert_ptr_nonnull(evs);
    ck_assert_uint_eq(json_array_size(evs), 101);
    double prev = -1;
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e)
    {
        double t = json_number_value(json_object_get(e, "t"));
        ck_assert(t >= prev);
        prev = t;
    }
    json_decref(evs);
    snprintf(path, sizeof(path), "%s/%s", dir, EVENTS_LOG_FILE);
    FILE *f = fopen(path, "r");
    char line[256];
    int lines = 0;
    while (fgets(line, sizeof(line), f)) {
        ck_assert(strstr(line, "[sim ") != NULL && line[2] == ':' && line[8] == '.');
        lines++;
    }
    fclose(f);
    ck_assert_int_eq(lines, 2);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    ck_assert_int_eq(system(path), 0);
}
END_TEST

static void *emit_later(void *arg)
{
    struct events *ev = arg;
    usleep(50 * 1000);
    events_emit(ev, "load", json_pack("{s:s}", "action", "begin"));
    return NULL;
}

/* A reader waiting for events after T wakes when one comes. */
START_TEST(test_wait_for_new)
{
    struct events *ev = events_new();
    double t = events_emit(ev, "step", NULL);
    pthread_t th;
    pthread_create(&th, NULL, emit_later, ev);
    json_t *got = events_since(ev, t, 0, 20000);
    ck_assert_uint_eq(json_array_size(got), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(got, 0), "kind")), "load");
    json_decref(got);
    pthread_join(th, NULL);
    /* Nothing new: an empty answer after the wait; at once after events_end(). */
    got = events_since(ev, 1e9, 0, 30);
    ck_assert_uint_eq(json_array_size(got), 0);
    json_decref(got);
    events_end(ev);
    got = events_since(ev, 1e9, 0, 60000);
    ck_assert_uint_eq(json_array_size(got), 0);
    json_decref(got);
    events_free(ev);
}
END_TEST

static Suite *events_suite(void)
{
    Suite *s = suite_create("events");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_stamps_and_since);
    tcase_add_test(tc, test_file_in_time_order);
    tcase_add_test(tc, test_wait_for_new);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(events_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
