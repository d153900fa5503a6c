/* parsepool: a few threads that parse and validate chains, started for the work and gone after.
 *
 * Design: parsing a fetched or stored chain (jansson, then a hash per block) is the one
 * CPU-bound job of the node, and it splits into parts that touch nothing shared (pages,
 * stretches of stored rows). A pool runs such tasks on up to max threads. A thread is started
 * when a task is queued and fewer than max run; it takes tasks until the queue is empty and
 * then exits, so an idle node holds no parser thread (each costs a stack). A task's run()
 * hands its result back itself (for the gossip worker: onto its own list, then a wake-up).
 *
 * Thread-safe: every call may come from any thread. A task is owned by the pool from
 * parsepool_submit() until its run() is called; run() owns it from then on. */
#ifndef CHAINLAB_PARSEPOOL_H
#define CHAINLAB_PARSEPOOL_H

#include <stddef.h>

#define PARSEPOOL_MAX_THREADS 4 /* threads of one pool at most (one per CPU below that) */

struct parsepool;

/* One piece of work, embedded in the caller's own record. */
struct parsepool_task {
    void (*run)(void *arg);      /* called once, on a pool thread (see parsepool_submit()) */
    void *arg;                   /* passed to run */
    struct parsepool_task *next; /* the pool's while queued */
};

/* A pool of at most max threads; 0: one per online CPU, at most PARSEPOOL_MAX_THREADS. No
 * thread runs until work comes. Caller frees with parsepool_free(). */
struct parsepool *parsepool_new(size_t max);
/* Queue t (its run and arg set); run(arg) is called once on a pool thread. When no thread runs
 * and none can be started, run(arg) is called here before returning, rather than never. */
void parsepool_submit(struct parsepool *p, struct parsepool_task *t);
/* Wait until every task submitted so far has run and returned. */
void parsepool_wait(struct parsepool *p);
/* Number of threads running now (they exit when the queue is empty). */
size_t parsepool_threads(struct parsepool *p);
/* Wait for the tasks (parsepool_wait()), then free. NULL is a no-op. */
void parsepool_free(struct parsepool *p);

#endif
