/* chain: the held chain, kept as its wire encoding, behind a rwlock.
 *
 * Design: the node serves its chain far more often than it inspects it, so the chain is stored as
 * the JSON text of GET /blocks ("[b0, b1, ...") plus the offset of every block in that text and
 * the tip's hash. Serving a slice is one memcpy; validation happens on the way in, and a page
 * received in exactly this encoding (json.dumps') is validated in place and kept as it came.
 *
 * A struct chain may also hold a segment: the consecutive blocks base, base+1, ... of a chain
 * whose earlier blocks are elsewhere (a page of GET /blocks?from=&limit=). A segment knows the
 * prev_hash of its first block, so segments parsed and validated apart (on several threads) are
 * joined into one chain by chain_join(), which checks the links between them. Segments are
 * unshared; they are joined to one another, or to the held chain's prefix by
 * chain_extend_if_longer(). The held chain always starts at genesis (base 0). */
#ifndef CHAINLAB_CHAIN_H
#define CHAINLAB_CHAIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "buf.h"
#include "forkchoice.h"
#include "store.h"

struct chain;

enum chain_offer {
    CHAIN_APPENDED,   /* the block was the valid successor of the tip and is now the tip */
    CHAIN_IGNORED,    /* index <= tip index: nothing to do */
    CHAIN_NEEDS_SYNC, /* ahead of the tip, or one past it without chaining, or (fork choice
                       * longest-lowest-hash) at the tip's index with a lower hash: sync */
    CHAIN_FAILED,     /* the valid successor, but the store could not save it: not appended */
};

/* A chain holding only genesis. Caller frees with chain_free(). */
struct chain *chain_new(void);
void chain_free(struct chain *c);

/* Decode and fully validate a JSON array of blocks (borrowed) into a new unshared chain.
 * Returns NULL with err set when it is not a valid chain starting at genesis. */
struct chain *chain_from_json(const json_t *array, char *err, size_t errsz);
/* Parse text (len bytes) as a JSON chain and validate it as chain_from_json() does. */
struct chain *chain_parse(const char *text, size_t len, char *err, size_t errsz);
/* Parse text (len bytes, with jansson) as a JSON array of consecutive blocks starting at index
 * from, and validate it: every block as block_from_json() does, index == from + position,
 * prev_hash == the previous block's hash inside the array. from == 0 is a whole chain (the first
 * block must be genesis exactly, as chain_parse()); for from > 0 the link to block from-1 is left
 * to chain_join(). Returns a new unshared segment holding at least one block (caller frees with
 * chain_free()), or NULL with err set. Thread-safe: touches nothing shared. */
struct chain *chain_parse_segment(const char *text, size_t len, uint64_t from, char *err,
                                  size_t errsz);
/* chain_parse_segment() of text's bytes. A segment kept as received (the text is exactly what
 * json.dumps writes) takes text's memory rather than a copy: text is then empty. Otherwise text is
 * left as it was. */
struct chain *chain_parse_segment_buf(struct buf *text, uint64_t from, char *err, size_t errsz);
/* Append segment b to a (both unshared): b must start at a's next index and its first block's
 * prev_hash must be a's tip hash. Returns 0, or -1 with err set (a is then unchanged). b is
 * consumed in both cases (freed; the caller must not use it again). */
int chain_join(struct chain *a, struct chain *b, char *err, size_t errsz);

/* Load the chain held by store s and validate it fully: rows contiguous from 0, genesis exact,
 * every link and hash, and every row exactly its block's encoding. Returns a new chain (not yet
 * writing to s: see chain_set_store(); caller frees with chain_free()), or NULL with err set to
 * one sentence naming the first problem. */
struct chain *chain_load(struct store *s, char *err, size_t errsz);
/* From now on every change of c is committed to s (borrowed; it must outlive c) inside c's write
 * lock, before the call that made it returns. c must hold what s holds (chain_load()). */
void chain_set_store(struct chain *c, struct store *s);

/* From now on c keeps a chain offered to it when it wins under rule (forkchoice.h); the
 * default is FORKCHOICE_LONGEST. Call before sharing c. */
void chain_set_fork_choice(struct chain *c, enum forkchoice rule);

/* Append a new block carrying data (len bytes). Appends its JSON to block_json when not NULL.
 * Returns 0, or -1 when the store could not save the block (logged; nothing appended). */
int chain_append_data(struct chain *c, const char *data, size_t len, struct buf *block_json);
/* Offer a validated block (its hash verified). Appends its JSON to block_json if appended. */
enum chain_offer chain_offer_block(struct chain *c, const struct block *b, struct buf *block_json);
/* Replace c's contents with cand's when cand is strictly longer, or as long with a winning tip
 * under c's fork choice (cand then holds c's old chain, coherent and still owned by the caller).
 * Returns
 * true when replaced; appends the new tip's JSON to tip_json when not NULL. cand stays owned by
 * the caller and must not be shared. A segment that does not start at genesis is never adopted.
 * With a store, only the blocks after the common prefix are rewritten, in one transaction; when
 * it fails (logged) c is kept and false is returned. */
bool chain_adopt_if_longer(struct chain *c, struct chain *cand, struct buf *tip_json);

/* Make c the chain [c's blocks 0 .. seg->base-1] + seg when that wins over c (strictly longer,
 * or as long with a winning tip under c's fork choice) and seg links to it: seg is a segment (base
 * > 0) whose first block's prev_hash is the hash of c's block base-1. This is the chain of a peer
 * that shares c's blocks up to base-1 (hash-linked prefixes are equal), fetched without that
 * prefix. Returns true when c changed; appends the new tip's JSON to tip_json when not NULL. seg
 * stays owned by the caller (its contents are left as they were: free it). With a store, the blocks
 * from base on are rewritten in one transaction; when that fails (logged) c is kept and false is
 * returned. */
bool chain_extend_if_longer(struct chain *c, struct chain *seg, struct buf *tip_json);
/* Whether c holds block index - 1 and its hash is prev (BLOCK_HASH_HEX characters): a segment
 * starting at index with that base prev_hash would link to c. False for index 0. */
bool chain_links_at(struct chain *c, uint64_t index, const char *prev);
/* Whether c holds block index and its hash is hash (BLOCK_HASH_HEX characters). */
bool chain_has_block(struct chain *c, uint64_t index, const char *hash);
/* Whether a block of c carries data (len bytes) as its data: a search of c's text for the data
 * field json.dumps writes for it, which nothing else in a chain can match. */
bool chain_contains_data(struct chain *c, const char *data, size_t len);
/* A segment's base index and the prev_hash of its first block ("" for a chain from genesis). */
uint64_t chain_base(const struct chain *c, char prev[BLOCK_HASH_HEX + 1]);

/* Tip index and hash (hash may be NULL). For a segment too: the index of its last block. */
uint64_t chain_tip(struct chain *c, char hash[BLOCK_HASH_HEX + 1]);
/* Number of bytes of the full JSON encoding (the GET /blocks body). */
size_t chain_json_size(struct chain *c);
/* Append the JSON array of blocks held with index in [from, from+limit) to out ("[]" when
 * empty). */
void chain_write_json(struct chain *c, uint64_t from, uint64_t limit, struct buf *out);
/* Append the JSON of the tip block to out. */
void chain_write_tip(struct chain *c, struct buf *out);

#endif
