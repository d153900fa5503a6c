/* generate: seeded random scenarios for fault-injection experiments (chainlab-sim --generate).
 * The same seed, node count and step count always give the same text; a failing seed is a
 * reproducible bug report. */
#ifndef CHAINLAB_GENERATE_H
#define CHAINLAB_GENERATE_H

#include <stdint.h>

#include "buf.h"

#define GENERATE_NODES 5  /* nodes when not given */
#define GENERATE_STEPS 25 /* random steps when not given (the closing steps come on top) */

/* Append a scenario to out: a topology, then `steps` random steps mixing appends, load,
 * partitions, cuts, link faults and node faults, then clear, heal, restart and resume whatever is
 * down, sync, one more append and `await converged`. nodes is 2..64. */
void generate_scenario(uint64_t seed, unsigned nodes, unsigned steps, struct buf *out);

#endif
