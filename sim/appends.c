/* appends: the record of every append of a run. */
#include "appends.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct ack {
    char *data; /* owned */
    unsigned node;
    bool acked;       /* answered 2xx */
    double at_s;      /* when it was sent, since the start */
    double latency_s; /* time to the answer */
};

struct appends {
    pthread_mutex_t lock;
    struct ack *acks;
    size_t n, cap;
    json_t *failures; /* the first APPENDS_FAILURES_KEPT described */
    size_t nfailed;
};

struct appends *appends_new(void)
{
    struct appends *a = xcalloc(1, sizeof(*a));
    pthread_mutex_init(&a->lock, NULL);
    a->failures = json_array();
    return a;
}

void appends_free(struct appends *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n; i++)
        free(a->acks[i].data);
    free(a->acks);
    json_decref(a->failures);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

void appends_record(struct appends *a, unsigned node, const char *data, bool acked, double at_s,
                    double latency_s)
{
    pthread_mutex_lock(&a->lock);
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 256;
        a->acks = xrealloc(a->acks, a->cap * sizeof(*a->acks));
    }
    a->acks[a->n++] = (struct ack){
        .data = xstrdup(data), .node = node, .acked = acked, .at_s = at_s, .latency_s = latency_s};
    pthread_mutex_unlock(&a->lock);
}

void appends_note_failure(struct appends *a, json_t *what)
{
    pthread_mutex_lock(&a->lock);
    if (json_array_size(a->failures) < APPENDS_FAILURES_KEPT)
        json_array_append_new(a->failures, json_deep_copy(what));
    a->nfailed++;
    pthread_mutex_unlock(&a->lock);
}

json_t *appends_failures(struct appends *a)
{
    pthread_mutex_lock(&a->lock);
    json_t *res = json_pack("{s:I, s:o}", "count", (json_int_t)a->nfailed, "first",
                            json_deep_copy(a->failures));
    pthread_mutex_unlock(&a->lock);
    return res;
}

size_t appends_count(struct appends *a)
{
    pthread_mutex_lock(&a->lock);
    size_t n = a->n;
    pthread_mutex_unlock(&a->lock);
    return n;
}

int appends_lost(struct appends *a, size_t upto, appends_has_cb has, void *arg, struct buf *list)
{
    int lost = 0;
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < upto && i < a->n; i++) {
        if (a->acks[i].acked && !has(arg, a->acks[i].data)) {
            if (list && lost < 5)
                buf_printf(list, "%s\"%.40s\"", lost ? ", " : "", a->acks[i].data);
            lost++;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return lost;
}

json_t *appends_lost_list(struct appends *a, size_t upto, appends_has_cb has, void *arg)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&a->lock);
    for (size_t i = 0; i < upto && i < a->n; i++) {
        if (a->acks[i].acked && !has(arg, a->acks[i].data))
            json_array_append_new(arr, json_string(a->acks[i].data));
    }
    pthread_mutex_unlock(&a->lock);
    return arr;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

json_t *appends_summary(struct appends *a)
{
    pthread_mutex_lock(&a->lock);
    size_t k = 0, n = a->n;
    double *lat = xcalloc(n ? n : 1, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        if (a->acks[i].acked)
            lat[k++] = a->acks[i].latency_s * 1000.0;
    }
    pthread_mutex_unlock(&a->lock);
    qsort(lat, k, sizeof(double), cmp_double);
/* Nearest rank: the smallest value with at least p of the samples at or below it. */
#define PCT(p) lat[(size_t)ceil((double)k * (p)) - 1]
    /* with nothing acknowledged there is no latency to report: null, not zeros */
    json_t *latency = k ? json_pack("{s:f, s:f, s:f, s:f}", "p50", PCT(0.50), "p95", PCT(0.95),
                                    "p99", PCT(0.99), "max", lat[k - 1])
                        : json_null();
#undef PCT
    free(lat);
    return json_pack("{s:i, s:i, s:i, s:o}", "sent", (int)n, "acked", (int)k, "failed",
                     (int)(n - k), "latency_ms", latency);
}
