/* partition: the sides and cuts that partition, cut and heal leave. */
#include "partition.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pairset.h"
#include "xalloc.h"

struct partition {
    unsigned n;
    int *side;          /* partition group of each node */
    bool *bridge;       /* bridge nodes reach every side */
    struct pairset cut; /* (a, b) when a -> b is cut */
    bool sides;         /* a partition is in place */
    unsigned cuts;
};

struct partition *partition_new(unsigned n)
{
    struct partition *p = xcalloc(1, sizeof(*p));
    p->n = n;
    p->side = xcalloc(n ? n : 1, sizeof(int));
    p->bridge = xcalloc(n ? n : 1, sizeof(bool));
    return p;
}

void partition_free(struct partition *p)
{
    if (p == NULL)
        return;
    free(p->side);
    free(p->bridge);
    pairset_free(&p->cut);
    free(p);
}

/* Every node on side 0, no bridge. */
static void partition_clear_sides(struct partition *p)
{
    for (unsigned i = 0; i < p->n; i++) {
        p->side[i] = 0;
        p->bridge[i] = false;
    }
    p->sides = false;
}

void partition_apply(struct partition *p, const struct scenario_step *st, struct rng *rng)
{
    unsigned n = p->n;
    int *order = xcalloc(n ? n : 1, sizeof(int));
    for (unsigned i = 0; i < n; i++)
        order[i] = (int)i;
    partition_clear_sides(p);
    p->sides = true;
    switch (st->partition.kind) {
    case SCENARIO_PARTITION_GROUPS:
        for (unsigned i = 0; i < n; i++)
            p->side[i] = (int)st->partition.n_groups; /* the unnamed rest */
        for (size_t g = 0; g < st->partition.n_groups; g++) {
            const struct nodeset *s = &st->partition.groups[g];
            for (int i = nodeset_next(s, -1); i >= 0; i = nodeset_next(s, i))
                p->side[i] = (int)g;
        }
        break;
    case SCENARIO_PARTITION_HALVES:
        for (unsigned i = 0; i < n; i++)
            p->side[i] = i < n / 2 ? 0 : 1;
        break;
    case SCENARIO_PARTITION_RANDOM_HALVES:
    case SCENARIO_PARTITION_MAJORITY: {
        unsigned first = st->partition.kind == SCENARIO_PARTITION_MAJORITY ? n / 2 + 1 : n / 2;
        rng_shuffle(rng, order, n);
        for (unsigned k = 0; k < n; k++)
            p->side[order[k]] = k < first ? 0 : 1;
        break;
    }
    case SCENARIO_PARTITION_BRIDGE: {
        unsigned half = (n - 1) / 2;
        rng_shuffle(rng, order, n);
        for (unsigned k = 0; k < n; k++)
            p->side[order[k]] = k < half ? 0 : 1;
        p->bridge[order[half]] = true;
        break;
    }
    }
    free(order);
}

unsigned partition_cut(struct partition *p, const struct nodeset *from, const struct nodeset *to,
                       bool one_way)
{
    unsigned count = 0;
    for (int a = nodeset_next(from, -1); a >= 0; a = nodeset_next(from, a)) {
        for (int b = nodeset_next(to, -1); b >= 0; b = nodeset_next(to, b)) {
            if (a == b || (unsigned)a >= p->n || (unsigned)b >= p->n)
                continue;
            pairset_put(&p->cut, a, b, 1);
            count++;
            if (!one_way) {
                pairset_put(&p->cut, b, a, 1);
                count++;
            }
        }
    }
    p->cuts += count;
    return count;
}

void partition_heal(struct partition *p)
{
    pairset_clear(&p->cut);
    p->cuts = 0;
    partition_clear_sides(p);
}

bool partition_is_cut(const struct partition *p, unsigned a, unsigned b)
{
    return pairset_get(&p->cut, a, b, NULL);
}

bool partition_across(const struct partition *p, unsigned a, unsigned b)
{
    return p->side[a] != p->side[b] && !p->bridge[a] && !p->bridge[b];
}

bool partition_blocked(const struct partition *p, unsigned a, unsigned b)
{
    return partition_is_cut(p, a, b) || partition_across(p, a, b);
}

bool partition_has_sides(const struct partition *p)
{
    return p->sides;
}

unsigned partition_cuts(const struct partition *p)
{
    return p->cuts;
}

int partition_side(const struct partition *p, unsigned i)
{
    return p->side[i];
}

bool partition_is_bridge(const struct partition *p, unsigned i)
{
    return p->bridge[i];
}

void partition_describe(const struct partition *p, struct buf *out)
{
    size_t start = out->len;
    int max = -1;
    for (unsigned i = 0; i < p->n; i++)
        max = p->side[i] > max && !p->bridge[i] ? p->side[i] : max;
    for (int g = 0; g <= max; g++) {
        struct nodeset s;
        nodeset_clear(&s);
        for (unsigned i = 0; i < p->n; i++) {
            if (p->side[i] == g && !p->bridge[i])
                nodeset_add(&s, i);
        }
        if (nodeset_count(&s) == 0)
            continue;
        buf_append_str(out, out->len > start ? " | " : "");
        nodeset_format(&s, out);
    }
    for (unsigned i = 0; i < p->n; i++) {
        if (p->bridge[i])
            buf_printf(out, " (bridge n%u)", i);
    }
}
