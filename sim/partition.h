/* partition: which node may reach which, as the partition, cut and heal statements leave it.
 *
 * Pure state, no I/O: the runner applies partition_blocked() to the links. A partition puts every
 * node on a side (bridge nodes reach every side); cuts are single directions a -> b; both stay
 * until partition_heal(). A new partition replaces the sides and keeps the cuts. */
#ifndef CHAINLAB_PARTITION_H
#define CHAINLAB_PARTITION_H

#include <stdbool.h>

#include "buf.h"
#include "rng.h"
#include "scenario.h"

struct partition; /* opaque */

/* A partition state for n nodes where every node reaches every other. Caller frees with
 * partition_free(). */
struct partition *partition_new(unsigned n);
/* Free p. NULL is a no-op. */
void partition_free(struct partition *p);
/* Replace the sides with those of a `partition` step (random patterns draw from rng). */
void partition_apply(struct partition *p, const struct scenario_step *st, struct rng *rng);
/* Cut a -> b (and b -> a unless one_way) for every a in from and b in to (explicit members),
 * a != b. Returns the number of directions cut. */
unsigned partition_cut(struct partition *p, const struct nodeset *from, const struct nodeset *to,
                       bool one_way);
/* Undo every side and cut. */
void partition_heal(struct partition *p);
/* True when a -> b is cut. */
bool partition_is_cut(const struct partition *p, unsigned a, unsigned b);
/* True when the partition puts a and b on different sides (and neither is a bridge). */
bool partition_across(const struct partition *p, unsigned a, unsigned b);
/* True when a cannot reach b (cut, or across the partition). */
bool partition_blocked(const struct partition *p, unsigned a, unsigned b);
/* True when a partition (sides) is in place. */
bool partition_has_sides(const struct partition *p);
/* Number of directions cut since the last heal (counted again when cut twice). */
unsigned partition_cuts(const struct partition *p);
/* Append the sides, e.g. "n0-n2 | n3-n5 (bridge n6)", to out. */
void partition_describe(const struct partition *p, struct buf *out);
/* The side of node i (0 when there is no partition; bridge nodes keep their side). */
int partition_side(const struct partition *p, unsigned i);
/* True when node i is a bridge. */
bool partition_is_bridge(const struct partition *p, unsigned i);

#endif
