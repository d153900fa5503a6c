/* topology: which node may talk to which; a directed graph over the nodes n0..n<N-1>. */
#ifndef CHAINLAB_TOPOLOGY_H
#define CHAINLAB_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "rng.h"

#define TOPOLOGY_MAX_NODES       16384 /* most nodes a topology holds */
#define TOPOLOGY_ENUMERATE_NODES 1024  /* random: above this, sparse pairs are drawn, not listed */

enum topology_kind {
    TOPOLOGY_NONE,   /* no edges */
    TOPOLOGY_LINE,   /* i <-> i+1 */
    TOPOLOGY_RING,   /* a line plus n<N-1> <-> n0 */
    TOPOLOGY_STAR,   /* ARG (the centre, default 0) <-> every other node */
    TOPOLOGY_MESH,   /* every node <-> every other node */
    TOPOLOGY_TREE,   /* i <-> (i-1)/ARG, ARG the fanout */
    TOPOLOGY_GRID,   /* ARG columns, row-major, 4-neighbour */
    TOPOLOGY_RANDOM, /* connected, average degree as close as possible to ARG, from the rng */
};

struct topology; /* opaque */

/* An edge from -> to; also the cursor of topology_next_edge(). */
struct topology_edge {
    int from;
    int to;
};

#define TOPOLOGY_EDGE_START ((struct topology_edge){0, -1}) /* cursor before the first edge */

/* New topology of n nodes (1..TOPOLOGY_MAX_NODES) and no edges, in *out; caller frees with
 * topology_free(). Returns 0, or -1 with a sentence in err when n is out of range. */
int topology_new(int n, struct topology **out, char *err, size_t errsz);
/* Release t. topology_free(NULL) is a no-op. */
void topology_free(struct topology *t);

/* Parse a kind name as in the scenario language ("line", "ring", ...). Returns 0, or -1 when the
 * name is unknown. */
int topology_kind_parse(const char *name, enum topology_kind *out);
/* The scenario-language name of kind (static string). */
const char *topology_kind_name(enum topology_kind kind);
/* True when kind takes an ARG in the scenario language (star: optional, tree/grid/random:
 * required). */
bool topology_kind_has_arg(enum topology_kind kind);

/* Add the edges of kind to t (edges already there stay), both directions each. arg is the star
 * centre, tree fanout, grid columns or random degree, ignored by the others; rng is used by random
 * only (may be NULL otherwise). Returns 0, or -1 with err on a bad arg (nothing added then). */
int topology_generate(struct topology *t, enum topology_kind kind, double arg, struct rng *rng,
                      char *err, size_t errsz);

/* The generators behind topology_generate(), each adding both directions of every edge. */
void topology_add_line(struct topology *t);
void topology_add_ring(struct topology *t);
void topology_add_mesh(struct topology *t);
/* Returns 0, or -1 with err when centre is not a node. */
int topology_add_star(struct topology *t, int centre, char *err, size_t errsz);
/* Node i > 0 gets parent (i-1)/fanout. Returns 0, or -1 with err when fanout < 1. */
int topology_add_tree(struct topology *t, int fanout, char *err, size_t errsz);
/* Node i sits at row i/columns, column i%columns; links to right and lower neighbours that exist.
 * Returns 0, or -1 with err when columns < 1. */
int topology_add_grid(struct topology *t, int columns, char *err, size_t errsz);
/* A random spanning tree, then random extra node pairs (no duplicates, no self-loops) until the
 * number of connected pairs is round(N*degree/2), clamped to [N-1, N(N-1)/2]; pairs already linked
 * count. Up to TOPOLOGY_ENUMERATE_NODES nodes (and for dense graphs) the extra pairs are drawn
 * from the list of unlinked pairs; above, from random draws that skip linked pairs. The result is
 * connected and fixed by the state of rng. Returns 0, or -1 with err when degree is negative or
 * not a number. */
int topology_add_random(struct topology *t, double degree, struct rng *rng, char *err,
                        size_t errsz);

/* Add edge a -> b, and b -> a when both_ways. Idempotent. Returns 0, or -1 with err when a or b is
 * not a node or a == b. */
int topology_link(struct topology *t, int a, int b, bool both_ways, char *err, size_t errsz);
/* Remove edge a -> b, and b -> a when both_ways; removing an absent edge is not an error. Returns
 * 0, or -1 with err when a or b is not a node. */
int topology_unlink(struct topology *t, int a, int b, bool both_ways, char *err, size_t errsz);

/* Number of nodes. */
int topology_nodes(const struct topology *t);
/* True when the edge a -> b exists (false for nodes out of range). */
bool topology_has_edge(const struct topology *t, int a, int b);
/* Number of directed edges (an edge both ways counts twice). */
size_t topology_edge_count(const struct topology *t);
/* Number of edges leaving / entering node i (0 when i is out of range). */
int topology_out_degree(const struct topology *t, int i);
int topology_in_degree(const struct topology *t, int i);
/* True when every node reaches every other with edge directions ignored (true for one node). */
bool topology_is_connected(const struct topology *t);
/* Iterate directed edges in ascending (from, to) order: start with
 * struct topology_edge e = TOPOLOGY_EDGE_START; while (topology_next_edge(t, &e)) use(e);
 * Returns true with *e set to the next edge after *e, false when there is none. */
bool topology_next_edge(const struct topology *t, struct topology_edge *e);

/* Append t as a Graphviz graph to out: nodes n0..n<N-1>, one undirected edge for each pair linked
 * both ways and an arrow for each one-way edge; name is the graph's label. */
void topology_write_dot(const struct topology *t, const char *name, struct buf *out);

#endif
