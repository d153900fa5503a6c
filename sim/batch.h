/* batch: runs a list of scenario runs, J at a time. With J = 1 the runs go one after the other in
 * this process; with more, each run is a child process on ports of its own, whose output is held
 * back and printed whole when it ends (so the lines of two runs never mix). */
#ifndef CHAINLAB_BATCH_H
#define CHAINLAB_BATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runner.h"
#include "scenario.h"

#define BATCH_MAX_JOBS 64 /* most runs at once (-j) */

struct batch_item {
    const struct scenario *sc; /* borrowed */
    const char *run_dir;       /* borrowed; NULL: the runner's default folder under runs_root */
    bool seed_given;           /* run with seed, whatever --seed and the file say */
    uint64_t seed;
    /* filled by batch_run(): */
    bool done;      /* the run ended (false when it was never started: interrupted) */
    int code;       /* the runner's exit code (RUNNER_*) */
    json_t *result; /* new reference, caller decrefs: the runner's report (with "params" when
                     * the scenario has parameters), or NULL when the run's process ended
                     * without one */
    char why[96];   /* when result is NULL: how the process ended ("killed by signal 9") */
};

/* Called in this process as each run ends, in the order they end; index into the items. */
typedef void (*batch_done_cb)(void *arg, size_t index, struct batch_item *item);

/* Run items[0..n), jobs (1..BATCH_MAX_JOBS) at a time, with the options of base (run_dir and
 * seed are each item's). With base->base_port_fixed and jobs > 1, run k starts after the nodes
 * of the runs before it. Calls done (may be NULL) as runs end. Starts nothing more once
 * *base->interrupted is set. Returns the worst exit code of the runs (RUNNER_INTERRUPTED when
 * interrupted, unless base->keep: then Ctrl-C only ended the wait after the last step), or
 * RUNNER_BAD with err set when those ports do not fit below 65536, RUNNER_CLUSTER when a temporary
 * folder cannot be made. */
int batch_run(struct batch_item *items, size_t n, const struct runner_opts *base, unsigned jobs,
              batch_done_cb done, void *arg, char *err, size_t errsz);
/* Release every item's result. */
void batch_clear(struct batch_item *items, size_t n);
/* Rank of an exit code when picking the worst of several: pass < fail < bad scenario < cluster
 * < anything else. */
int batch_severity(int code);

#endif
