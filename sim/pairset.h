/* pairset: a set of ordered node pairs (a, b), each with a small value; memory in the number of
 * pairs held, not in the square of the number of nodes. Not thread-safe. */
#ifndef CHAINLAB_PAIRSET_H
#define CHAINLAB_PAIRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pairset_slot {
    uint64_t key; /* ((uint64_t)a + 1) << 32 | b; 0: empty */
    uint32_t value;
};

struct pairset {
    struct pairset_slot *slots;
    size_t cap; /* a power of two, or 0 */
    size_t count;
};

#define PAIRSET_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Add (a, b) with value, or set the value of a pair held. */
void pairset_put(struct pairset *s, unsigned a, unsigned b, uint32_t value);
/* True when (a, b) is held; its value goes to *value when value is not NULL. */
bool pairset_get(const struct pairset *s, unsigned a, unsigned b, uint32_t *value);
/* Remove (a, b). Returns true when it was held. */
bool pairset_del(struct pairset *s, unsigned a, unsigned b);
/* Remove every pair (the memory is kept). */
void pairset_clear(struct pairset *s);
/* Release the memory; s is empty and usable again. */
void pairset_free(struct pairset *s);

#endif
