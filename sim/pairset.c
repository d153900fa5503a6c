/* pairset: ordered node pairs in an open-addressing table (linear probing, backward-shift
 * deletion, so no tombstones). */
#include "pairset.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static uint64_t pairset_key(unsigned a, unsigned b)
{
    return ((uint64_t)a + 1) << 32 | b;
}

static size_t pairset_home(const struct pairset *s, uint64_t key)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 32) & (s->cap - 1);
}

/* The slot holding key, or the empty slot where it would go. s->cap > 0. */
static size_t pairset_find(const struct pairset *s, uint64_t key)
{
    size_t i = pairset_home(s, key);
    while (s->slots[i].key != 0 && s->slots[i].key != key)
        i = (i + 1) & (s->cap - 1);
    return i;
}

/* Double the table (or make the first one) and place every pair again. */
static void pairset_grow(struct pairset *s)
{
    struct pairset_slot *old = s->slots;
    size_t old_cap = s->cap;
    s->cap = old_cap ? 2 * old_cap : 64;
    s->slots = xcalloc(s->cap, sizeof(*s->slots));
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key != 0)
            s->slots[pairset_find(s, old[i].key)] = old[i];
    }
    free(old);
}

void pairset_put(struct pairset *s, unsigned a, unsigned b, uint32_t value)
{
    if (2 * (s->count + 1) > s->cap)
        pairset_grow(s);
    uint64_t key = pairset_key(a, b);
    size_t i = pairset_find(s, key);
    if (s->slots[i].key == 0)
        s->count++;
    s->slots[i] = (struct pairset_slot){key, value};
}

bool pairset_get(const struct pairset *s, unsigned a, unsigned b, uint32_t *value)
{
    if (s->cap == 0)
        return false;
    const struct pairset_slot *e = &s->slots[pairset_find(s, pairset_key(a, b))];
    if (e->key == 0)
        return false;
    if (value != NULL)
        *value = e->value;
    return true;
}

bool pairset_del(struct pairset *s, unsigned a, unsigned b)
{
    if (s->cap == 0)
        return false;
    size_t i = pairset_find(s, pairset_key(a, b));
    if (s->slots[i].key == 0)
        return false;
    /* Shift back the entries after i that would no longer be found past the hole. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & (s->cap - 1);
        if (s->slots[j].key == 0)
            break;
        size_t home = pairset_home(s, s->slots[j].key);
        bool between = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!between) {
            s->slots[i] = s->slots[j];
            i = j;
        }
    }
    s->slots[i] = (struct pairset_slot){0, 0};
    s->count--;
    return true;
}

void pairset_clear(struct pairset *s)
{
    if (s->cap > 0)
        memset(s->slots, 0, s->cap * sizeof(*s->slots));
    s->count = 0;
}

void pairset_free(struct pairset *s)
{
    free(s->slots);
    *s = (struct pairset)PAIRSET_INIT;
}
