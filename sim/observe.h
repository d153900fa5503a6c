/* observe: what the sim sees of its nodes: snapshots of tips and chains over HTTP (directly,
 * never through links, in parallel), the conditions of await and expect, the node table, and
 * the `observe` events that record each look. */
#ifndef CHAINLAB_OBSERVE_H
#define CHAINLAB_OBSERVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "block.h"
#include "buf.h"
#include "run.h"

/* What a look at a node asks it. */
enum observe_look {
    OBSERVE_TIP = 0, /* GET /block: its height and tip */
    OBSERVE_CHAIN,   /* GET /blocks: its height, tip and the data of every block */
    OBSERVE_PEERS,   /* GET /peers: how many peers it has */
};

/* What the sim saw of one node. */
struct snap {
    bool ok; /* answered */
    enum observe_look look;
    uint64_t height; /* OBSERVE_TIP, OBSERVE_CHAIN */
    char tip[BLOCK_HASH_HEX + 1];
    json_t *data;   /* OBSERVE_CHAIN: an object whose keys are the data strings (new ref) */
    uint64_t peers; /* OBSERVE_PEERS: the length of its peer list */
    char err[120];
};

/* Ask every member of set what look says, in parallel. snaps has r->n entries; only members are
 * filled (clear each with observe_snap_clear()). */
void observe_fetch(struct run *r, const struct nodeset *set, enum observe_look look,
                   struct snap *snaps);
/* Free what a snapshot holds and zero it. */
void observe_snap_clear(struct snap *s);
/* True when the chain behind s holds a block with data. */
bool observe_snap_has(const struct snap *s, const char *data);
/* Record an `observe` event of the members of set: via ("sample", "await", ...), line (0: none),
 * their height and tip (or their peer counts, for a look at peers) and the fields of extra
 * (stolen; may be NULL). */
void observe_emit(struct run *r, const struct nodeset *set, const struct snap *snaps,
                  const char *via, unsigned line, json_t *extra);
/* Evaluate c now. Returns true when it holds; seen (cleared first) says what was observed. With
 * line > 0 the look is recorded as an `observe` event via "await". */
bool observe_cond(struct run *r, const struct scenario_cond *c, struct buf *seen, unsigned line);
/* Node i's /status (new reference), or NULL when it has none (another implementation). */
json_t *observe_status(struct run *r, unsigned i);
/* The table of every node (state, height, tip, its /status counters, RSS) as text lines appended
 * to out and, when arr is not NULL, entries appended to arr. */
void observe_table(struct run *r, struct buf *out, json_t *arr);

/* The diagnosis of a failure, made now: {"at_s", "faults" (kinds active), "partition" (the sides,
 * or null), "down" (nodes not running, with their state), "groups" ([{"nodes", "height", "tip"}]
 * of the running nodes by tip), "equal_height_forks" (bool), "note" (why those never resolve, or
 * null), "failed_appends" ({"count", "first"}), "unreachable" ([{"node", "error"}])}. New
 * reference. */
json_t *observe_diagnose(struct run *r);
/* Append the diagnosis d as indented text lines to out. */
void observe_diagnosis_text(json_t *d, struct buf *out);

/* ---- sampling: a thread that records `observe` events of every running node ---- */

#define OBSERVE_SAMPLE_IN_FLIGHT  16   /* requests the sampler has open at once */
#define OBSERVE_SAMPLE_TIMEOUT_MS 1000 /* bound on one sampling request */

/* Start sampling from one thread with its own client: every running node's tip every period_ms
 * (`observe` events) and its GET /metrics every metrics_ms (`metrics` events, one per node that
 * serves them); 0 turns either off. At most OBSERVE_SAMPLE_IN_FLIGHT requests are open at once,
 * and a round that takes longer than half its period is followed by a pause as long as itself,
 * so sampling never takes more than about half of a core. Sets r->sampler. Returns 0, or -1 with
 * err when the thread cannot start. */
int observe_sampler_start(struct run *r, long period_ms, long metrics_ms, char *err, size_t errsz);
/* Tell the sampler which nodes run now (call after anything that starts or stops nodes). No-op
 * without a sampler. */
void observe_sampler_update(struct run *r);
/* Stop and join the sampler, free it and set r->sampler to NULL. No-op without one. */
void observe_sampler_stop(struct run *r);

#endif
