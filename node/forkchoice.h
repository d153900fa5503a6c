/* forkchoice: which of two valid chains a node keeps (--fork-choice), from their tips alone.
 *
 * longest: a chain replaces the held one only when it is strictly longer (the original's rule;
 * equal-height forks never merge). longest-lowest-hash: also when it is as long and its tip hash
 * is lower (the two 64-hex strings compared byte by byte), so equal-height forks converge on the
 * fork with the lowest tip. Both are strict total orders on (height, hash): every node decides a
 * tie the same way, a chain never replaces itself, and no node flips back. Pure: no I/O. */
#ifndef CHAINLAB_FORKCHOICE_H
#define CHAINLAB_FORKCHOICE_H

#include <stdbool.h>
#include <stdint.h>

enum forkchoice {
    FORKCHOICE_LONGEST = 0,     /* "longest" (default) */
    FORKCHOICE_LOWEST_HASH = 1, /* "longest-lowest-hash" */
};

/* Parse "longest" or "longest-lowest-hash". Returns 0, or -1 when the name is unknown. */
int forkchoice_parse(const char *name, enum forkchoice *out);
/* The rule's name as --fork-choice takes it. */
const char *forkchoice_name(enum forkchoice rule);
/* Whether a chain whose tip is (height, hash) replaces the held one whose tip is (held_height,
 * held_hash) under rule. Hashes are BLOCK_HASH_HEX lowercase hex characters; hash may be NULL
 * or "" when unknown (it then wins only by height). */
bool forkchoice_wins(enum forkchoice rule, uint64_t height, const char *hash, uint64_t held_height,
                     const char *held_hash);

#endif
