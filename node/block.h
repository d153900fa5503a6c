/* block: one block of the chain, its hash, its wire encoding and its validation. */
#ifndef CHAINLAB_BLOCK_H
#define CHAINLAB_BLOCK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define BLOCK_HASH_HEX     64                  /* hex characters in a hash */
#define BLOCK_INDEX_MAX    9007199254740991ULL /* 2^53-1: largest index accepted from the wire */
#define BLOCK_GENESIS_HASH "6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c"
#define BLOCK_SHORT_HASH   12 /* hex characters of a hash in log lines */
#define BLOCK_LABEL_SIZE   48 /* bytes for block_label(): "INDEX SHORTHASH" */

struct block {
    uint64_t index;
    char *data;      /* owned, NUL-terminated after data_len; NULL only in genesis */
    size_t data_len; /* bytes of data (may contain NULs) */
    bool has_prev;   /* false only in genesis (prev_hash is JSON null) */
    char prev_hash[BLOCK_HASH_HEX + 1];
    char hash[BLOCK_HASH_HEX + 1];
};

/* hash = hex SHA-256 of decimal(index) ++ S(data) ++ S(prev_hash), S(NULL) = "None".
 * data and prev_hash may be NULL. Writes 64 lowercase hex chars and a NUL into out. */
void block_hash_compute(uint64_t index, const char *data, size_t data_len, const char *prev_hash,
                        char out[BLOCK_HASH_HEX + 1]);
/* Make the successor of prev carrying data (copied). Caller frees with block_clear(). */
void block_make_next(uint64_t prev_index, const char *prev_hash, const char *data, size_t len,
                     struct block *out);
/* Append the block as Python's json.dumps writes it: keys index, data, prev_hash, hash. */
void block_encode(const struct block *b, struct buf *out);
/* Append a block as block_encode() writes it, from its fields with its data already written as
 * JSON (data_json, data_json_len bytes: what pyjson_write_string() writes, or "null"); prev_hash
 * NULL is written as null; hash and a non-NULL prev_hash are BLOCK_HASH_HEX characters. */
void block_encode_fields(uint64_t index, const char *data_json, size_t data_json_len,
                         const char *prev_hash, const char *hash, struct buf *out);
/* Validate a decoded JSON value as a block: an object with exactly the four keys, the types and
 * ranges of DESIGN.md, genesis exactly when index is 0, and a hash that verifies.
 * Returns 0 and fills out (caller frees with block_clear()), or -1 with err set. obj is borrowed.
 */
int block_from_json(const json_t *obj, struct block *out, char *err, size_t errsz);
/* Parse text (len bytes) as one JSON block and validate it as block_from_json() does. */
int block_parse(const char *text, size_t len, struct block *out, char *err, size_t errsz);
/* Whether text (len bytes) begins with a block exactly as block_encode() writes it (json.dumps)
 * that block_from_json() accepts, with index `index` and, when prev is not NULL, prev_hash prev
 * (BLOCK_HASH_HEX characters): its data decoded by jansson, its hash verified, index 0 only as
 * genesis (prev NULL). Returns the length of that block's text and copies its prev_hash ("" for
 * genesis) and hash into prev_out and hash; returns 0 when text does not begin with such a block
 * (it may still be valid in another formatting: block_parse() decides and says why not).
 * scratch is working space, reused across calls (caller frees). Thread-safe. */
size_t block_match_encoded(const char *text, size_t len, uint64_t index, const char *prev,
                           char prev_out[BLOCK_HASH_HEX + 1], char hash[BLOCK_HASH_HEX + 1],
                           struct buf *scratch);
/* Read the index and hash of a block's JSON as block_encode() writes it (index first, hash
 * last) without parsing the rest: json (len bytes) must come from block_encode(). Returns 0, or
 * -1 when it does not look like such a block. */
int block_json_id(const char *json, size_t len, uint64_t *index, char hash[BLOCK_HASH_HEX + 1]);
/* "INDEX SHORTHASH" (the index, a space, the first BLOCK_SHORT_HASH hex characters of the hash)
 * of a block's JSON as block_encode() writes it, for log lines; "?" when json (len bytes) is not
 * such a block. Writes into out (always NUL-terminated) and returns it. */
const char *block_label(const char *json, size_t len, char out[BLOCK_LABEL_SIZE]);
/* The genesis block (static; do not free). */
const struct block *block_genesis(void);
/* True when s is exactly 64 lowercase hex characters. */
bool block_hash_is_hex(const char *s, size_t len);
/* Release data; b becomes empty. NULL is a no-op. */
void block_clear(struct block *b);

#endif
