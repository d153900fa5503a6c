/* generate: seeded random scenarios for fault-injection experiments.
 *
 * Design: every step is drawn so that the scenario must pass on a correct implementation: only
 * statements whose outcome does not depend on timing are asserted (`expect alive` of a node the
 * generator knows is up), and the closing steps bring the network to one chain whatever happened:
 * after every fault is undone, N rounds of `sync all` carry the longest chain across any connected
 * topology, and an append on n0 makes n0's chain strictly the longest, which every node adopts. */
#include "generate.h"

#include <inttypes.h>
#include <stdbool.h>

#include "rng.h"

enum up_state { UP, PAUSED, DOWN };

struct gen {
    struct rng rng;
    unsigned n;
    enum up_state *state;
    struct buf *out;
    unsigned appends;
    bool loaded;
};

static unsigned count_up(const struct gen *g)
{
    unsigned k = 0;
    for (unsigned i = 0; i < g->n; i++)
        k += g->state[i] == UP;
    return k;
}

/* A node in state want, or -1 when there is none. */
static int pick(struct gen *g, enum up_state want)
{
    unsigned k = 0;
    for (unsigned i = 0; i < g->n; i++)
        k += g->state[i] == want;
    if (k == 0)
        return -1;
    unsigned at = (unsigned)rng_below(&g->rng, k);
    for (unsigned i = 0; i < g->n; i++) {
        if (g->state[i] == want && at-- == 0)
            return (int)i;
    }
    return -1;
}

static unsigned any_node(struct gen *g)
{
    return (unsigned)rng_below(&g->rng, g->n);
}

static void links_arg(struct gen *g)
{
    switch (rng_below(&g->rng, 3)) {
    case 0:
        buf_append_str(g->out, "all");
        break;
    case 1:
        buf_printf(g->out, "n%u", any_node(g));
        break;
    default: {
        unsigned a = any_node(g), b = (a + 1 + (unsigned)rng_below(&g->rng, g->n - 1)) % g->n;
        buf_printf(g->out, "n%u -> n%u", a, b);
    }
    }
}

static void partition(struct gen *g)
{
    static const char *const patterns[] = {"halves", "random-halves", "majority", "bridge"};
    unsigned kind = (unsigned)rng_below(&g->rng, g->n >= 3 ? 5 : 3);
    if (kind < 4 && (kind != 3 || g->n >= 3)) {
        buf_printf(g->out, "partition %s\n", patterns[kind]);
        return;
    }
    /* Explicit groups: a random cut of a shuffled order into two or three groups; nodes left
     * out form one more group. */
    int order[64];
    for (unsigned i = 0; i < g->n; i++)
        order[i] = (int)i;
    rng_shuffle(&g->rng, order, g->n);
    unsigned first = 1 + (unsigned)rng_below(&g->rng, g->n - 1);
    buf_append_str(g->out, "partition ");
    for (unsigned i = 0; i < first; i++)
        buf_printf(g->out, "%sn%d", i ? "," : "", order[i]);
    buf_append_str(g->out, " | ");
    unsigned second = first + 1 + (unsigned)rng_below(&g->rng, g->n - first);
    for (unsigned i = first; i < second; i++)
        buf_printf(g->out, "%sn%d", i > first ? "," : "", order[i]);
    buf_append_char(g->out, '\n');
}

static void step(struct gen *g, unsigned k)
{
    unsigned roll = (unsigned)rng_below(&g->rng, 100);
    int up = pick(g, UP);
    if (roll < 24 && up >= 0) {
        buf_printf(g->out, "append n%d \"g%u\"\n", up, ++g->appends);
    } else if (roll < 30 && up >= 0) {
        buf_printf(g->out, "append n%d %u\n", up, 2 + (unsigned)rng_below(&g->rng, 4));
    } else if (roll < 35) {
        buf_printf(g->out, "load %u/s for %ums\n", 20 + (unsigned)rng_below(&g->rng, 81),
                   300 + 100 * (unsigned)rng_below(&g->rng, 8));
        g->loaded = true;
    } else if (roll < 40) {
        buf_append_str(g->out, "sync all\n");
    } else if (roll < 48) {
        partition(g);
    } else if (roll < 53) {
        unsigned a = any_node(g), b = (a + 1 + (unsigned)rng_below(&g->rng, g->n - 1)) % g->n;
        buf_printf(g->out, "cut n%u %sn%u\n", a, rng_below(&g->rng, 2) ? "-> " : "", b);
    } else if (roll < 61) {
        buf_append_str(g->out, "heal\n");
    } else if (roll < 65) {
        buf_append_str(g->out, "latency ");
        links_arg(g);
        buf_printf(g->out, " %ums", 5 + 5 * (unsigned)rng_below(&g->rng, 20));
        if (rng_below(&g->rng, 2))
            buf_printf(g->out, " jitter %ums", 1 + (unsigned)rng_below(&g->rng, 20));
        buf_append_char(g->out, '\n');
    } else if (roll < 68) {
        buf_append_str(g->out, "loss ");
        links_arg(g);
        buf_printf(g->out, " %u%%\n", 10 * (1 + (unsigned)rng_below(&g->rng, 5)));
    } else if (roll < 71) {
        buf_append_str(g->out, "bandwidth ");
        links_arg(g);
        buf_printf(g->out, " %uKB/s\n", 64u << rng_below(&g->rng, 5));
    } else if (roll < 73) {
        buf_append_str(g->out, "reset ");
        links_arg(g);
        buf_append_char(g->out, '\n');
    } else if (roll < 77) {
        buf_append_str(g->out, "clear\n");
    } else if (roll < 81 && count_up(g) > 1) {
        buf_printf(g->out, "%s n%d\n", rng_below(&g->rng, 3) ? "kill" : "stop", up);
        g->state[up] = DOWN;
    } else if (roll < 86) {
        int down = pick(g, DOWN);
        int who = down >= 0 ? down : (int)any_node(g);
        buf_printf(g->out, "restart n%d\n", who);
        g->state[who] = UP;
    } else if (roll < 89 && count_up(g) > 1) {
        buf_printf(g->out, "pause n%d\n", up);
        g->state[up] = PAUSED;
    } else if (roll < 94 && pick(g, PAUSED) >= 0) {
        int p = pick(g, PAUSED);
        buf_printf(g->out, "resume n%d\n", p);
        g->state[p] = UP;
    } else if (roll < 98) {
        buf_printf(g->out, "sleep %ums\n", 50 + 50 * (unsigned)rng_below(&g->rng, 6));
    } else if (up >= 0) {
        buf_printf(g->out, "expect alive n%d\n", up);
    } else {
        buf_printf(g->out, "log \"step %u\"\n", k);
    }
}

void generate_scenario(uint64_t seed, unsigned nodes, unsigned steps, struct buf *out)
{
    static const char *const topologies[] = {"line", "ring", "star", "mesh", "tree 2", "grid 2"};
    enum up_state state[64] = {UP};
    struct gen g = {.n = nodes < 2 ? 2 : nodes > 64 ? 64 : nodes, .state = state, .out = out};
    rng_seed(&g.rng, seed);
    for (unsigned i = 0; i < g.n; i++)
        state[i] = UP;

    buf_printf(out,
               "# Generated by: chainlab-sim --generate %" PRIu64 " --nodes %u --steps %u\n"
               "# Random appends, load, partitions, cuts, link and node faults; then every fault\n"
               "# is undone and the network must converge. The same seed gives this same file.\n",
               seed, g.n, steps);
    buf_printf(out, "nodes %u\n", g.n);
    unsigned t = (unsigned)rng_below(&g.rng, g.n >= 4 ? 7 : 6);
    if (t == 6)
        buf_printf(out, "topology random %u\n", 2 + (unsigned)rng_below(&g.rng, g.n / 2 - 1));
    else
        buf_printf(out, "topology %s\n", topologies[t]);
    buf_printf(out, "seed %" PRIu64 "\ntimeout 120s\n", seed);
    buf_append_str(out, "node-args --broadcast-wait 200 --timeout 1000 --connect-timeout 300\n\n");

    for (unsigned k = 0; k < steps; k++)
        step(&g, k);

    buf_append_str(out, "\n# Undo every fault, then the network must agree on one chain.\n");
    if (g.loaded)
        buf_append_str(out, "sleep 1200ms\n"); /* let the last load finish */
    buf_append_str(out, "clear\nheal\n");
    for (unsigned i = 0; i < g.n; i++) {
        if (state[i] == PAUSED)
            buf_printf(out, "resume n%u\n", i);
        else if (state[i] == DOWN)
            buf_printf(out, "restart n%u\n", i);
    }
    for (unsigned i = 0; i < g.n; i++)
        buf_append_str(out, "sync all\n");
    buf_printf(out, "append n0 \"final-%" PRIu64 "\"\nsync all\nawait converged within 30s\n",
               seed);
    buf_printf(out, "expect contains \"final-%" PRIu64 "\"\nexpect alive all\n", seed);
}
