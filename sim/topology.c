/* topology: a directed graph over up to TOPOLOGY_MAX_NODES nodes, stored as an adjacency bit
 * matrix. */
#include "topology.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "xalloc.h"

struct topology {
    int n;          /* nodes */
    size_t words;   /* 64-bit words per row of the matrix */
    size_t edges;   /* directed edges set in the matrix */
    uint64_t *bits; /* row-major n x n bits: bit (from, to) is set when from -> to exists */
};

static const char *const topology_kind_names[] = {
    [TOPOLOGY_NONE] = "none", [TOPOLOGY_LINE] = "line",     [TOPOLOGY_RING] = "ring",
    [TOPOLOGY_STAR] = "star", [TOPOLOGY_MESH] = "mesh",     [TOPOLOGY_TREE] = "tree",
    [TOPOLOGY_GRID] = "grid", [TOPOLOGY_RANDOM] = "random",
};

#define TOPOLOGY_KINDS (sizeof(topology_kind_names) / sizeof(topology_kind_names[0]))

static bool topology_valid_node(const struct topology *t, int i)
{
    return i >= 0 && i < t->n;
}

static uint64_t *topology_word(const struct topology *t, int a, int b)
{
    return &t->bits[(size_t)a * t->words + (size_t)b / 64];
}

static uint64_t topology_mask(int b)
{
    return (uint64_t)1 << (b % 64);
}

/* Set a -> b; both nodes valid, a != b. */
static void topology_set(struct topology *t, int a, int b)
{
    uint64_t *w = topology_word(t, a, b);
    if ((*w & topology_mask(b)) == 0) {
        *w |= topology_mask(b);
        t->edges++;
    }
}

static void topology_clear(struct topology *t, int a, int b)
{
    uint64_t *w = topology_word(t, a, b);
    if ((*w & topology_mask(b)) != 0) {
        *w &= ~topology_mask(b);
        t->edges--;
    }
}

/* Set a <-> b; both nodes valid, a != b. */
static void topology_set_pair(struct topology *t, int a, int b)
{
    topology_set(t, a, b);
    topology_set(t, b, a);
}

static bool topology_pair_linked(const struct topology *t, int a, int b)
{
    return topology_has_edge(t, a, b) || topology_has_edge(t, b, a);
}

int topology_new(int n, struct topology **out, char *err, size_t errsz)
{
    *out = NULL;
    if (n < 1 || n > TOPOLOGY_MAX_NODES) {
        err_set(err, errsz, "a topology needs 1 to %d nodes, not %d", TOPOLOGY_MAX_NODES, n);
        return -1;
    }
    struct topology *t = xcalloc(1, sizeof(*t));
    t->n = n;
    t->words = ((size_t)n + 63) / 64;
    t->bits = xcalloc((size_t)n * t->words, sizeof(uint64_t));
    *out = t;
    return 0;
}

void topology_free(struct topology *t)
{
    if (t == NULL)
        return;
    free(t->bits);
    free(t);
}

int topology_kind_parse(const char *name, enum topology_kind *out)
{
    for (size_t i = 0; i < TOPOLOGY_KINDS; i++) {
        if (strcmp(name, topology_kind_names[i]) == 0) {
            *out = (enum topology_kind)i;
            return 0;
        }
    }
    return -1;
}

const char *topology_kind_name(enum topology_kind kind)
{
    if ((size_t)kind >= TOPOLOGY_KINDS)
        return "unknown";
    return topology_kind_names[kind];
}

bool topology_kind_has_arg(enum topology_kind kind)
{
    return kind == TOPOLOGY_STAR || kind == TOPOLOGY_TREE || kind == TOPOLOGY_GRID ||
           kind == TOPOLOGY_RANDOM;
}

/* Convert an ARG that must be a whole number; returns 0, or -1 with err. */
static int topology_whole_arg(double arg, const char *what, int *out, char *err, size_t errsz)
{
    if (!(arg >= -2147483648.0 && arg <= 2147483647.0) || arg != floor(arg)) {
        err_set(err, errsz, "the %s must be a whole number, not %g", what, arg);
        return -1;
    }
    *out = (int)arg;
    return 0;
}

int topology_generate(struct topology *t, enum topology_kind kind, double arg, struct rng *rng,
                      char *err, size_t errsz)
{
    int whole = 0;
    int rc = 0;

    switch (kind) {
    case TOPOLOGY_NONE:
        break;
    case TOPOLOGY_LINE:
        topology_add_line(t);
        break;
    case TOPOLOGY_RING:
        topology_add_ring(t);
        break;
    case TOPOLOGY_MESH:
        topology_add_mesh(t);
        break;
    case TOPOLOGY_STAR:
        rc = topology_whole_arg(arg, "star centre", &whole, err, errsz);
        if (rc == 0)
            rc = topology_add_star(t, whole, err, errsz);
        break;
    case TOPOLOGY_TREE:
        rc = topology_whole_arg(arg, "tree fanout", &whole, err, errsz);
        if (rc == 0)
            rc = topology_add_tree(t, whole, err, errsz);
        break;
    case TOPOLOGY_GRID:
        rc = topology_whole_arg(arg, "grid column count", &whole, err, errsz);
        if (rc == 0)
            rc = topology_add_grid(t, whole, err, errsz);
        break;
    case TOPOLOGY_RANDOM:
        if (rng == NULL) {
            err_set(err, errsz, "a random topology needs a seeded generator");
            rc = -1;
            break;
        }
        rc = topology_add_random(t, arg, rng, err, errsz);
        break;
    default:
        err_set(err, errsz, "unknown topology kind %d", (int)kind);
        rc = -1;
        break;
    }
    return rc;
}

void topology_add_line(struct topology *t)
{
    for (int i = 0; i + 1 < t->n; i++)
        topology_set_pair(t, i, i + 1);
}

void topology_add_ring(struct topology *t)
{
    topology_add_line(t);
    if (t->n > 2)
        topology_set_pair(t, t->n - 1, 0);
}

void topology_add_mesh(struct topology *t)
{
    for (int a = 0; a < t->n; a++) {
        for (int b = a + 1; b < t->n; b++)
            topology_set_pair(t, a, b);
    }
}

int topology_add_star(struct topology *t, int centre, char *err, size_t errsz)
{
    if (!topology_valid_node(t, centre)) {
        err_set(err, errsz, "star centre n%d is not one of the %d nodes", centre, t->n);
        return -1;
    }
    for (int i = 0; i < t->n; i++) {
        if (i != centre)
            topology_set_pair(t, centre, i);
    }
    return 0;
}

int topology_add_tree(struct topology *t, int fanout, char *err, size_t errsz)
{
    if (fanout < 1) {
        err_set(err, errsz, "tree fanout must be at least 1, not %d", fanout);
        return -1;
    }
    for (int i = 1; i < t->n; i++)
        topology_set_pair(t, i, (i - 1) / fanout);
    return 0;
}

int topology_add_grid(struct topology *t, int columns, char *err, size_t errsz)
{
    if (columns < 1) {
        err_set(err, errsz, "grid needs at least 1 column, not %d", columns);
        return -1;
    }
    for (int i = 0; i < t->n; i++) {
        if (i % columns + 1 < columns && i + 1 < t->n)
            topology_set_pair(t, i, i + 1);
        if (i + columns < t->n)
            topology_set_pair(t, i, i + columns);
    }
    return 0;
}

int topology_add_random(struct topology *t, double degree, struct rng *rng, char *err, size_t errsz)
{
    int n = t->n;
    int *order = NULL;
    int *free_pairs = NULL;
    int rc = -1;

    if (!(degree >= 0)) {
        err_set(err, errsz, "random degree must be a number >= 0, not %g", degree);
        goto out;
    }

    /* Random spanning tree: shuffle the nodes, hang each on a random earlier one. */
    order = xmalloc((size_t)n * sizeof(*order));
    for (int i = 0; i < n; i++)
        order[i] = i;
    rng_shuffle(rng, order, (size_t)n);
    for (int i = 1; i < n; i++)
        topology_set_pair(t, order[i], order[rng_below(rng, (uint64_t)i)]);

    /* Target number of linked pairs, clamped between a tree and the mesh. */
    double max_pairs = (double)n * (n - 1) / 2;
    double want = floor((double)n * degree / 2 + 0.5);
    if (want > max_pairs)
        want = max_pairs;
    if (want < n - 1)
        want = n - 1;

    size_t linked = 0;
    if (n > TOPOLOGY_ENUMERATE_NODES) {
        /* Too many pairs to list: draw pairs and keep the unlinked ones. With a degree well
         * under N the draws rarely miss; a dense graph is listed instead, whatever N. */
        if (want <= max_pairs / 4) {
            struct topology_edge e = TOPOLOGY_EDGE_START;
            while (topology_next_edge(t, &e))
                linked += e.from < e.to || !topology_has_edge(t, e.to, e.from);
            while ((double)linked < want) {
                int a = (int)rng_below(rng, (uint64_t)n), b = (int)rng_below(rng, (uint64_t)n);
                if (a == b || topology_pair_linked(t, a, b))
                    continue;
                topology_set_pair(t, a, b);
                linked++;
            }
            rc = 0;
            goto out;
        }
    }
    /* Enumerate the unlinked pairs in a fixed order, then draw from them without repeats (a
     * partial Fisher-Yates); each pair encoded as a*n+b. */
    linked = 0;
    size_t nfree = 0;
    free_pairs = xmalloc(((size_t)max_pairs + 1) * sizeof(*free_pairs));
    for (int a = 0; a < n; a++) {
        for (int b = a + 1; b < n; b++) {
            if (topology_pair_linked(t, a, b))
                linked++;
            else
                free_pairs[nfree++] = a * n + b;
        }
    }
    for (size_t i = 0; (double)linked < want && i < nfree; i++, linked++) {
        size_t j = i + (size_t)rng_below(rng, nfree - i);
        int pick = free_pairs[j];
        free_pairs[j] = free_pairs[i];
        free_pairs[i] = pick;
        topology_set_pair(t, pick / n, pick % n);
    }
    rc = 0;
out:
    free(order);
    free(free_pairs);
    return rc;
}

/* Check both nodes of an edge statement; returns 0, or -1 with err. */
static int topology_check_pair(const struct topology *t, int a, int b, char *err, size_t errsz)
{
    if (!topology_valid_node(t, a) || !topology_valid_node(t, b)) {
        err_set(err, errsz, "edge n%d -> n%d names a node outside n0..n%d", a, b, t->n - 1);
        return -1;
    }
    return 0;
}

int topology_link(struct topology *t, int a, int b, bool both_ways, char *err, size_t errsz)
{
    if (topology_check_pair(t, a, b, err, errsz) < 0)
        return -1;
    if (a == b) {
        err_set(err, errsz, "n%d cannot be linked to itself", a);
        return -1;
    }
    topology_set(t, a, b);
    if (both_ways)
        topology_set(t, b, a);
    return 0;
}

int topology_unlink(struct topology *t, int a, int b, bool both_ways, char *err, size_t errsz)
{
    if (topology_check_pair(t, a, b, err, errsz) < 0)
        return -1;
    topology_clear(t, a, b);
    if (both_ways)
        topology_clear(t, b, a);
    return 0;
}

int topology_nodes(const struct topology *t)
{
    return t->n;
}

bool topology_has_edge(const struct topology *t, int a, int b)
{
    if (!topology_valid_node(t, a) || !topology_valid_node(t, b))
        return false;
    return (*topology_word(t, a, b) & topology_mask(b)) != 0;
}

size_t topology_edge_count(const struct topology *t)
{
    return t->edges;
}

int topology_out_degree(const struct topology *t, int i)
{
    if (!topology_valid_node(t, i))
        return 0;
    int d = 0;
    for (size_t w = 0; w < t->words; w++)
        d += __builtin_popcountll(t->bits[(size_t)i * t->words + w]);
    return d;
}

int topology_in_degree(const struct topology *t, int i)
{
    if (!topology_valid_node(t, i))
        return 0;
    int d = 0;
    for (int a = 0; a < t->n; a++)
        d += topology_has_edge(t, a, i);
    return d;
}

bool topology_is_connected(const struct topology *t)
{
    int n = t->n;
    bool *seen = xcalloc((size_t)n, sizeof(*seen));
    int *stack = xmalloc((size_t)n * sizeof(*stack));
    int top = 0;
    int reached = 1;

    seen[0] = true;
    stack[top++] = 0;
    while (top > 0) {
        int a = stack[--top];
        for (int b = 0; b < n; b++) {
            if (!seen[b] && topology_pair_linked(t, a, b)) {
                seen[b] = true;
                reached++;
                stack[top++] = b;
            }
        }
    }
    free(seen);
    free(stack);
    return reached == n;
}

bool topology_next_edge(const struct topology *t, struct topology_edge *e)
{
    int a = e->from < 0 ? 0 : e->from;
    int b = e->from < 0 ? 0 : e->to + 1;

    if (b < 0)
        b = 0;
    for (; a < t->n; a++, b = 0) {
        while (b < t->n) {
            uint64_t w = *topology_word(t, a, b) >> (b % 64);
            if (w == 0) {
                b = (b / 64 + 1) * 64; /* rest of this word is empty */
                continue;
            }
            b += __builtin_ctzll(w);
            if (b >= t->n)
                break;
            e->from = a;
            e->to = b;
            return true;
        }
    }
    return false;
}

void topology_write_dot(const struct topology *t, const char *name, struct buf *out)
{
    int n = topology_nodes(t);
    buf_printf(out, "digraph chainlab {\n    label=\"%s\";\n    labelloc=t;\n", name);
    buf_printf(out, "    graph [overlap=false];\n");
    buf_printf(out, "    node [shape=circle, fontsize=10, width=0.3, style=filled, "
                    "fillcolor=\"#dbe9f6\"];\n");
    for (int i = 0; i < n; i++)
        buf_printf(out, "    n%d;\n", i);
    struct topology_edge e = TOPOLOGY_EDGE_START;
    while (topology_next_edge(t, &e)) {
        bool back = topology_has_edge(t, e.to, e.from);
        if (back && e.to < e.from)
            continue; /* drawn once, from the lower node */
        buf_printf(out, "    n%d -> n%d%s;\n", e.from, e.to, back ? " [dir=none]" : "");
    }
    buf_append_str(out, "}\n");
}
