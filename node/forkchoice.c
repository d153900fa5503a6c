/* forkchoice: the chain comparison of --fork-choice (see forkchoice.h). */
#include "forkchoice.h"

#include <string.h>

#include "block.h"

int forkchoice_parse(const char *name, enum forkchoice *out)
{
    if (strcmp(name, "longest") == 0)
        *out = FORKCHOICE_LONGEST;
    else if (strcmp(name, "longest-lowest-hash") == 0)
        *out = FORKCHOICE_LOWEST_HASH;
    else
        return -1;
    return 0;
}

const char *forkchoice_name(enum forkchoice rule)
{
    return rule == FORKCHOICE_LOWEST_HASH ? "longest-lowest-hash" : "longest";
}

bool forkchoice_wins(enum forkchoice rule, uint64_t height, const char *hash, uint64_t held_height,
                     const char *held_hash)
{
    if (height != held_height)
        return height > held_height;
    if (rule != FORKCHOICE_LOWEST_HASH || hash == NULL || held_hash == NULL ||
        strnlen(hash, BLOCK_HASH_HEX + 1) != BLOCK_HASH_HEX ||
        strnlen(held_hash, BLOCK_HASH_HEX + 1) != BLOCK_HASH_HEX)
        return false;
    return memcmp(hash, held_hash, BLOCK_HASH_HEX) < 0;
}
