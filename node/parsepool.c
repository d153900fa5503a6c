/* parsepool: parser threads that exist while there is work (see parsepool.h). */
#include "parsepool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

struct parsepool {
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t idle;  /* signalled when the last task has run and when a thread exits */
    struct parsepool_task *queue, *queue_tail;
    size_t max;     /* threads at most */
    size_t threads; /* threads alive */
    size_t pending; /* tasks submitted and not yet returned from run() */
    bool warned;    /* a failed pthread_create() was logged */
};

struct parsepool *parsepool_new(size_t max)
{
    struct parsepool *p = xcalloc(1, sizeof(*p));
    if (max == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        max = cpus < 1 ? 1 : (size_t)cpus;
    }
    p->max = max > PARSEPOOL_MAX_THREADS ? PARSEPOOL_MAX_THREADS : max;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->idle, NULL);
    return p;
}

/* Take the first queued task (caller holds the lock), or NULL. */
static struct parsepool_task *parsepool_take(struct parsepool *p)
{
    struct parsepool_task *t = p->queue;
    if (t) {
        p->queue = t->next;
        if (p->queue == NULL)
            p->queue_tail = NULL;
        t->next = NULL;
    }
    return t;
}

/* One task has returned from run(): wake the waiters when it was the last (lock held). */
static void parsepool_done_locked(struct parsepool *p)
{
    if (--p->pending == 0)
        pthread_cond_broadcast(&p->idle);
}

/* A pool thread: run tasks until the queue is empty, then exit. */
static void *parsepool_main(void *arg)
{
    struct parsepool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (struct parsepool_task *t; (t = parsepool_take(p)) != NULL;) {
        pthread_mutex_unlock(&p->lock);
        t->run(t->arg); /* no lock held: this is the long part */
        pthread_mutex_lock(&p->lock);
        parsepool_done_locked(p);
    }
    p->threads--;
    pthread_cond_broadcast(&p->idle);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Start a detached thread (caller holds the lock). Returns 0, or -1 when none could start. */
static int parsepool_spawn(struct parsepool *p)
{
    pthread_attr_t attr;
    pthread_t tid;
    int rc = -1;
    if (pthread_attr_init(&attr) != 0)
        return -1;
    if (pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
        pthread_create(&tid, &attr, parsepool_main, p) == 0) {
        p->threads++;
        rc = 0;
    }
    pthread_attr_destroy(&attr);
    return rc;
}

void parsepool_submit(struct parsepool *p, struct parsepool_task *t)
{
    bool here = false;
    t->next = NULL;
    pthread_mutex_lock(&p->lock);
    p->pending++;
    if (p->threads < p->max && parsepool_spawn(p) < 0 && p->threads == 0) {
        here = true; /* no thread at all: run it on the caller's rather than never */
        if (!p->warned)
            log_warn("cannot start a parser thread: parsing on the calling thread");
        p->warned = true;
    } else {
        if (p->queue_tail)
            p->queue_tail->next = t;
        else
            p->queue = t;
        p->queue_tail = t;
    }
    pthread_mutex_unlock(&p->lock);
    if (here) {
        t->run(t->arg);
        pthread_mutex_lock(&p->lock);
        parsepool_done_locked(p);
        pthread_mutex_unlock(&p->lock);
    }
}

void parsepool_wait(struct parsepool *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->pending > 0)
        pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

size_t parsepool_threads(struct parsepool *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->threads;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void parsepool_free(struct parsepool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    while (p->pending > 0 || p->threads > 0)
        pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
