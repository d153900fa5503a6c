/* nodeset: a set of cluster nodes (n0..n1023) or "all", as written in scenarios. */
#ifndef CHAINLAB_NODESET_H
#define CHAINLAB_NODESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SIM_MAX_NODES  16384                /* most nodes a scenario may declare */
#define NODESET_WORDS  (SIM_MAX_NODES / 64) /* 64-bit words in the bitset */
#define NODESET_ERR_SZ 320                  /* room for any nodeset error message */

struct nodeset {
    uint64_t bits[NODESET_WORDS]; /* bit i set: node ni is a member */
    bool all; /* "all": every running node, resolved at run time; bits are then empty */
};

/* Make s empty (no members, all false). */
void nodeset_clear(struct nodeset *s);
/* Make s exactly n0..n<n-1> (n is capped at SIM_MAX_NODES; all false). */
void nodeset_fill(struct nodeset *s, unsigned n);
/* Add / remove node i; ignored when i >= SIM_MAX_NODES. */
void nodeset_add(struct nodeset *s, unsigned i);
void nodeset_remove(struct nodeset *s, unsigned i);
/* True when node i is an explicit member (the all flag is not consulted). */
bool nodeset_has(const struct nodeset *s, unsigned i);
/* Number of explicit members (0 for a set that is only "all"). */
unsigned nodeset_count(const struct nodeset *s);
/* Lowest explicit member greater than prev (pass -1 to start), or -1 when there is none:
 * for (int i = nodeset_next(s, -1); i >= 0; i = nodeset_next(s, i)). */
int nodeset_next(const struct nodeset *s, int prev);
/* dst gets every member of src too / loses every member of src (explicit members only). */
void nodeset_union(struct nodeset *dst, const struct nodeset *src);
void nodeset_subtract(struct nodeset *dst, const struct nodeset *src);
/* True when a and b share an explicit member. */
bool nodeset_intersects(const struct nodeset *a, const struct nodeset *b);
/* out = running when s is "all", else a copy of s; out may alias s. out->all is false. */
void nodeset_resolve(const struct nodeset *s, const struct nodeset *running, struct nodeset *out);

/* Parse a node set: "n3", "n2-n5" (inclusive), a comma list of those ("n0,n3-n5"), or "all".
 * Names must be below n_nodes. Returns 0 with *out set, or -1 with a sentence in err (no
 * position prefix) and *err_off (may be NULL) = offset in text of the offending part. */
int nodeset_parse(const char *text, size_t len, unsigned n_nodes, struct nodeset *out,
                  size_t *err_off, char *err, size_t errsz);
/* Parse exactly one node name "nK" with K < n_nodes. Returns 0 with *out = K, or -1 with err. */
int nodeset_parse_node(const char *text, size_t len, unsigned n_nodes, unsigned *out, char *err,
                       size_t errsz);
/* Append the canonical text of s to out: "all", "n3", "n0,n3-n5"; nothing for the empty set. */
void nodeset_format(const struct nodeset *s, struct buf *out);

#endif
