/* store: the node's on-disk store (--db): the chain's blocks and the peer URLs in one SQLite file.
 *
 * Design: a block is kept as its exact wire JSON, one row per index (table blocks), so loading
 * is a scan and writing is one INSERT. The database runs in WAL mode; every write is a committed
 * transaction when the call returns, durable across a process crash with STORE_SYNC_NORMAL and
 * across a power loss with STORE_SYNC_FULL. A new file is built under PATH.new and renamed into
 * place, so a file at PATH is always a whole database: an empty, truncated or foreign file is an
 * error, never a fresh start. The store checks rows (schema, contiguous indexes); validating the
 * blocks themselves is the chain's job (chain_load()). A third table, own_appends, keeps the
 * appends acknowledged here that --reappend-orphans watches (schema version 2; a version 1 file
 * gets the empty table, in one transaction, when it is opened).
 *
 * Thread-safe: one connection behind a mutex, held from store_replace_begin() until
 * store_replace_commit() or store_replace_abort(). */
#ifndef CHAINLAB_STORE_H
#define CHAINLAB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define STORE_SCHEMA_VERSION 2    /* PRAGMA user_version of the files this code reads and writes */
#define STORE_SCHEMA_OLDEST  1    /* older versions it upgrades in place at open */
#define STORE_BUSY_MS        2000 /* wait this long for another process holding the file */
#define STORE_MAX_BLOCK_JSON (64 * 1024 * 1024) /* bytes of one stored block's JSON */

struct store;

enum store_sync {
    STORE_SYNC_FULL = 0,   /* fsync on every commit: durable across power loss (default) */
    STORE_SYNC_NORMAL = 1, /* fsync at checkpoints only: durable across a process crash */
};

/* Called once per stored peer URL (borrowed, NUL-terminated), in the order they were added. */
typedef void (*store_peer_cb)(void *arg, const char *url);
/* Called once per stored own append, by seq: the block it made (index, hash: NUL-terminated)
 * and its data (len bytes, NUL-terminated after them), all borrowed. */
typedef void (*store_own_cb)(void *arg, uint64_t seq, uint64_t index, const char *hash,
                             const char *data, size_t len);

/* Open the database at path, creating it (genesis only, no peers) when no file exists there.
 * Returns 0 and *out (caller frees with store_close()), or -1 with err set (one sentence naming
 * the problem: not a SQLite file, wrong schema version, unreadable, ...). */
int store_open(const char *path, enum store_sync sync, struct store **out, char *err, size_t errsz);
/* Close the database (the WAL is checkpointed). NULL is a no-op. */
void store_close(struct store *s);
/* Parse "full" or "normal". Returns 0, or -1 when the name is unknown. */
int store_sync_parse(const char *name, enum store_sync *out);

/* Read every stored block: appends "[" b0 ", " b1 ... "]" to text, exactly as GET /blocks would
 * serve the rows, and sets *off (caller frees with free()) to where each row starts in text and
 * *n to the row count. Checks that the indexes are exactly 0, 1, ..., n-1. Returns 0, or -1 with
 * err set (then *off is NULL; text may hold a part). */
int store_read_blocks(struct store *s, struct buf *text, size_t **off, size_t *n, char *err,
                      size_t errsz);
/* Store block index (its JSON, len bytes) in a transaction of its own; index must be new.
 * Returns 0 once committed, or -1 with err set (nothing stored). */
int store_append(struct store *s, uint64_t index, const char *json, size_t len, char *err,
                 size_t errsz);

/* Replace the blocks from index from on, in one transaction: begin deletes them (and takes the
 * store until commit or abort), put adds one block, commit makes it all durable at once. On any
 * failure (err set) the transaction is rolled back: after a failed begin or commit the store is
 * released; after a failed put the caller must still call store_replace_abort(). */
int store_replace_begin(struct store *s, uint64_t from, char *err, size_t errsz);
int store_replace_put(struct store *s, uint64_t index, const char *json, size_t len, char *err,
                      size_t errsz);
int store_replace_commit(struct store *s, char *err, size_t errsz);
/* Roll the replacement back and release the store. */
void store_replace_abort(struct store *s);

/* Call cb for each stored peer URL, with the store's lock released (cb may take locks that are
 * held around store calls). Returns 0, or -1 with err set (then cb was not called). */
int store_read_peers(struct store *s, store_peer_cb cb, void *arg, char *err, size_t errsz);
/* Store a peer URL (a no-op when already stored) or delete one (a no-op when absent); each is
 * committed on return. Returns 0, or -1 with err set. */
int store_peer_add(struct store *s, const char *url, char *err, size_t errsz);
int store_peer_remove(struct store *s, const char *url, char *err, size_t errsz);

/* Call cb for each stored own append (table own_appends), by seq, with the store's lock
 * released. Returns 0, or -1 with err set (then cb was not called). */
int store_read_own(struct store *s, store_own_cb cb, void *arg, char *err, size_t errsz);
/* Store own append seq (a new row, or the row seq replaced): the block index and hash (64 hex
 * chars) that now carry data (len bytes). Committed on return. Returns 0, or -1 with err set. */
int store_own_put(struct store *s, uint64_t seq, uint64_t index, const char *hash, const char *data,
                  size_t len, char *err, size_t errsz);
/* Forget the own appends with seq < below. Committed on return. Returns 0, or -1 with err set. */
int store_own_forget(struct store *s, uint64_t below, char *err, size_t errsz);

#endif
