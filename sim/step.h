/* step: carries out the statements of a scenario against the live cluster of a run: appends,
 * loads, syncs, peers, partitions and link faults, node faults, waits, awaits and expects. Each
 * step is recorded in r->steps and as `step` events, its effects as `append`, `load`, `fault` and
 * `node` events. */
#ifndef CHAINLAB_STEP_H
#define CHAINLAB_STEP_H

#include "run.h"

/* Run st. Returns 0, or -1 when it failed (r->code, r->failure or r->error say how). */
int step_run(struct run *r, const struct scenario_step *st);
/* Wait for every background load to end; appends each one's record to r->loads_done and frees
 * it. */
void step_loads_join(struct run *r);

#endif
