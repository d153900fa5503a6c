/* orphans: this node's own acknowledged appends, and their re-append when a sync orphaned them
 * (--reappend-orphans).
 *
 * Design: every POST /append acknowledged here is recorded: its data, and the block that
 * carries it (index, hash). After a sync replaced the chain, each record is checked in the order
 * the appends were made: when the chain still holds its block, or any block carrying the same
 * data, it is kept as it is; otherwise its data is appended again on top of the new chain (the
 * caller broadcasts the new block) and the record follows the new block. Only data first appended
 * here is ever re-appended, and never data the chain already holds, so nothing is duplicated.
 * The record is bounded: the last ORPHANS_MAX appends, at most ORPHANS_MAX_BYTES of data; older
 * ones are forgotten. With a store (--db) every change of the record is committed before the
 * call returns (table own_appends), so it survives a restart.
 *
 * Thread-safe (one mutex; lock order: orphans, then the chain, then the store). */
#ifndef CHAINLAB_ORPHANS_H
#define CHAINLAB_ORPHANS_H

#include <stdbool.h>
#include <stddef.h>

#include "chain.h"
#include "store.h"

#define ORPHANS_MAX       1000       /* own appends remembered (the oldest are forgotten) */
#define ORPHANS_MAX_BYTES (16 << 20) /* bytes of their data remembered at most */

struct orphans;

/* A record for chain c (borrowed), kept in s too when s is not NULL (borrowed; its rows are
 * loaded now). Both must outlive it. Returns NULL with err set when s cannot be read. Caller
 * frees with orphans_free(). */
struct orphans *orphans_new(struct chain *c, struct store *s, char *err, size_t errsz);
/* An /append was acknowledged: block_json (len bytes, as chain_append_data() wrote it) carries
 * data (dlen bytes). Returns true when that block is already gone from the chain (a sync replaced
 * it meanwhile): orphans_reappend() is then due. A store failure is logged (the record then
 * lives in memory only). */
bool orphans_record(struct orphans *o, const char *block_json, size_t len, const char *data,
                    size_t dlen);
/* Re-append the data of every record the chain no longer holds (see above). Each new block's
 * JSON is handed to sent(arg, json, len). Returns how many were appended again. */
size_t orphans_reappend(struct orphans *o, void (*sent)(void *arg, const char *json, size_t len),
                        void *arg);
/* Records held. */
size_t orphans_count(struct orphans *o);
/* Free. NULL is a no-op. */
void orphans_free(struct orphans *o);

#endif
