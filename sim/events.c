/* events: the record of one run (events.jsonl, sim.log) and its clock. */
#include "events.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xalloc.h"

/* One line of events.jsonl: compact, keys in order, times to the microsecond. */
#define EVENTS_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

struct kept {
    double t;
    json_t *ev;   /* new reference */
    size_t bytes; /* encoded size */
};

struct events {
    pthread_mutex_t lock;
    pthread_cond_t grown; /* signalled on every event and at events_end() */
    struct timespec t0;   /* monotonic start */
    struct timespec w0;   /* wall-clock start */
    FILE *file;           /* events.jsonl, or NULL */
    FILE *log;            /* sim.log, or NULL */
    char *path;           /* of events.jsonl (owned), or NULL */
    struct kept *ring;    /* a circular buffer of kept events */
    size_t cap, head, count, bytes;
    bool dropped; /* some events left memory (they are in the file) */
    double last_dropped_t;
    bool ended;
};

struct events *events_new(void)
{
    struct events *ev = xcalloc(1, sizeof(*ev));
    pthread_mutex_init(&ev->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ev->grown, &ca);
    pthread_condattr_destroy(&ca);
    clock_gettime(CLOCK_MONOTONIC, &ev->t0);
    clock_gettime(CLOCK_REALTIME, &ev->w0);
    return ev;
}

void events_free(struct events *ev)
{
    if (ev == NULL)
        return;
    for (size_t k = 0; k < ev->count; k++)
        json_decref(ev->ring[(ev->head + k) % ev->cap].ev);
    free(ev->ring);
    if (ev->file)
        fclose(ev->file);
    if (ev->log)
        fclose(ev->log);
    free(ev->path);
    pthread_cond_destroy(&ev->grown);
    pthread_mutex_destroy(&ev->lock);
    free(ev);
}

int events_attach(struct events *ev, const char *dir, char *err, size_t errsz)
{
    char *path = xasprintf("%s/%s", dir, EVENTS_FILE);
    char *logpath = xasprintf("%s/%s", dir, EVENTS_LOG_FILE);
    FILE *f = fopen(path, "w");
    FILE *l = f ? fopen(logpath, "w") : NULL;
    int rc = 0;
    if (f == NULL || l == NULL) {
        snprintf(err, errsz, "cannot write %s: %s", f ? logpath : path, strerror(errno));
        if (f)
            fclose(f);
        free(path);
        rc = -1;
    } else {
        pthread_mutex_lock(&ev->lock);
        ev->file = f;
        ev->log = l;
        ev->path = path;
        /* What was recorded before the files existed goes first. */
        for (size_t k = 0; k < ev->count; k++) {
            json_dumpf(ev->ring[(ev->head + k) % ev->cap].ev, f, EVENTS_JSON_FLAGS);
            fputc('\n', f);
        }
        fflush(f);
        pthread_mutex_unlock(&ev->lock);
    }
    free(logpath);
    return rc;
}

static double since_start(const struct events *ev, const struct timespec *now)
{
    return (double)(now->tv_sec - ev->t0.tv_sec) + (double)(now->tv_nsec - ev->t0.tv_nsec) / 1e9;
}

double events_now(const struct events *ev)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return since_start(ev, &now);
}

double events_epoch(const struct events *ev, double t)
{
    return (double)ev->w0.tv_sec + (double)ev->w0.tv_nsec / 1e9 + t;
}

void events_wall(const struct events *ev, double t, char out[EVENTS_WALL_SZ])
{
    double e = events_epoch(ev, t);
    time_t secs = (time_t)e;
    long ms = (long)((e - (double)secs) * 1000.0);
    if (ms > 999)
        ms = 999;
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[24];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, EVENTS_WALL_SZ, "%.19s.%03dZ", day, (int)ms);
}

/* Drop the oldest kept events until the kept bytes fit. Called with the lock held. */
static void events_trim(struct events *ev)
{
    while (ev->count > 1 && ev->bytes > EVENTS_KEEP_BYTES) {
        struct kept *k = &ev->ring[ev->head];
        ev->bytes -= k->bytes;
        ev->last_dropped_t = k->t;
        ev->dropped = true;
        json_decref(k->ev);
        ev->head = (ev->head + 1) % ev->cap;
        ev->count--;
    }
}

/* Keep ev_json (a new reference) at the end of the ring. Called with the lock held. */
static void events_keep(struct events *ev, double t, json_t *obj, size_t bytes)
{
    if (ev->count == ev->cap) {
        size_t ncap = ev->cap ? ev->cap * 2 : 1024;
        struct kept *nr = xcalloc(ncap, sizeof(*nr));
        for (size_t k = 0; k < ev->count; k++)
            nr[k] = ev->ring[(ev->head + k) % ev->cap];
        free(ev->ring);
        ev->ring = nr;
        ev->cap = ncap;
        ev->head = 0;
    }
    ev->ring[(ev->head + ev->count) % ev->cap] = (struct kept){t, obj, bytes};
    ev->count++;
    ev->bytes += bytes;
    events_trim(ev);
}

void events_deadline(struct timespec *ts, double ms)
{
    long add = ms > 0 ? (long)ms : 0;
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += add / 1000;
    ts->tv_nsec += (add % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

double events_emit(struct events *ev, const char *kind, json_t *fields)
{
    char wall[EVENTS_WALL_SZ];
    json_t *obj = json_object();
    pthread_mutex_lock(&ev->lock);
    double t = events_now(ev); /* under the lock: the file is in time order */
    events_wall(ev, t, wall);
    json_object_set_new(obj, "t", json_real(t));
    json_object_set_new(obj, "wall", json_string(wall));
    json_object_set_new(obj, "kind", json_string(kind));
    if (fields)
        json_object_update(obj, fields);
    char *line = json_dumps(obj, EVENTS_JSON_FLAGS);
    size_t bytes = line ? strlen(line) + 1 : 0;
    if (ev->file && line) {
        fputs(line, ev->file);
        fputc('\n', ev->file);
        fflush(ev->file);
    }
    free(line);
    events_keep(ev, t, obj, bytes);
    pthread_cond_broadcast(&ev->grown);
    pthread_mutex_unlock(&ev->lock);
    json_decref(fields);
    return t;
}

/* Add to arr the events of the file with t > since and t <= upto. Called with the lock held. */
static void events_from_file(struct events *ev, double since, double upto, size_t max, json_t *arr)
{
    char err[256];
    json_t *all = events_load(ev->path, err, sizeof(err));
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e)
    {
        double t = json_number_value(json_object_get(e, "t"));
        if (t > since && t <= upto && (max == 0 || json_array_size(arr) < max))
            json_array_append(arr, e);
    }
    json_decref(all);
}

json_t *events_since(struct events *ev, double since, size_t max, long wait_ms)
{
    json_t *arr = json_array();
    struct timespec until;
    events_deadline(&until, (double)wait_ms);
    pthread_mutex_lock(&ev->lock);
    for (;;) {
        if (ev->dropped && since < ev->last_dropped_t && ev->path)
            events_from_file(ev, since, ev->last_dropped_t, max, arr);
        for (size_t k = 0; k < ev->count && (max == 0 || json_array_size(arr) < max); k++) {
            struct kept *kp = &ev->ring[(ev->head + k) % ev->cap];
            if (kp->t > since)
                json_array_append(arr, kp->ev);
        }
        if (json_array_size(arr) > 0 || wait_ms <= 0 || ev->ended)
            break;
        if (pthread_cond_timedwait(&ev->grown, &ev->lock, &until) == ETIMEDOUT)
            wait_ms = 0; /* one last look */
    }
    pthread_mutex_unlock(&ev->lock);
    return arr;
}

void events_end(struct events *ev)
{
    pthread_mutex_lock(&ev->lock);
    ev->ended = true;
    pthread_cond_broadcast(&ev->grown);
    pthread_mutex_unlock(&ev->lock);
}

void events_log(struct events *ev, const char *text)
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tm);
    pthread_mutex_lock(&ev->lock);
    if (ev->log) {
        const char *p = text;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            fprintf(ev->log, "%02d:%02d:%02d.%03ld [sim %ld] info: %.*s\n", tm.tm_hour, tm.tm_min,
                    tm.tm_sec, now.tv_nsec / 1000000L, (long)getpid(), (int)len, p);
            p += len + (nl ? 1 : 0);
        }
        fflush(ev->log);
    }
    pthread_mutex_unlock(&ev->lock);
}

int events_each(const char *path, void (*cb)(json_t *e, void *arg), void *arg, char *err,
                size_t errsz)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_t *e = json_loadb(line, (size_t)n, 0, NULL);
        if (json_is_object(e))
            cb(e, arg);
        json_decref(e);
    }
    free(line);
    fclose(f);
    return 0;
}

static void events_collect_cb(json_t *e, void *arg)
{
    json_array_append(arg, e);
}

json_t *events_load(const char *path, char *err, size_t errsz)
{
    json_t *arr = json_array();
    if (events_each(path, events_collect_cb, arr, err, errsz) < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}
