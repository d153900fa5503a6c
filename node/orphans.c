/* orphans: the record of own appends and their re-append (see orphans.h). */
#include "orphans.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

/* One append acknowledged here. */
struct own {
    uint64_t seq;                  /* its place in the record (the store's key) */
    uint64_t index;                /* the block that carries its data now */
    char hash[BLOCK_HASH_HEX + 1]; /* that block's hash */
    char *data;                    /* owned, NUL-terminated after len */
    size_t len;
};

struct orphans {
    pthread_mutex_t lock; /* guards everything below */
    struct chain *chain;
    struct store *store;
    struct own *own; /* a ring of ORPHANS_MAX, oldest at head */
    size_t head, n;
    size_t bytes;      /* data held */
    uint64_t next_seq; /* the seq of the next record */
};

/* Record i, counted from the oldest. */
static struct own *own_at(struct orphans *o, size_t i)
{
    return &o->own[(o->head + i) % ORPHANS_MAX];
}

/* Forget the oldest records until one more of len bytes fits (caller holds the lock). */
static void orphans_make_room(struct orphans *o, size_t len)
{
    bool forgot = false;
    while (o->n > 0 && (o->n == ORPHANS_MAX || o->bytes + len > ORPHANS_MAX_BYTES)) {
        struct own *old = own_at(o, 0);
        o->bytes -= old->len;
        free(old->data);
        o->head = (o->head + 1) % ORPHANS_MAX;
        o->n--;
        forgot = true;
    }
    char err[300];
    if (forgot && o->store &&
        store_own_forget(o->store, o->n ? own_at(o, 0)->seq : o->next_seq, err, sizeof(err)) < 0)
        log_error("store: forgotten own appends stay in the database: %s", err);
}

/* Add a record (caller holds the lock). Returns it. */
static struct own *orphans_add(struct orphans *o, uint64_t seq, uint64_t index, const char *hash,
                               const char *data, size_t len)
{
    orphans_make_room(o, len);
    struct own *w = own_at(o, o->n++);
    w->seq = seq;
    w->index = index;
    memcpy(w->hash, hash, BLOCK_HASH_HEX);
    w->hash[BLOCK_HASH_HEX] = '\0';
    w->data = xmemdup(data, len);
    w->len = len;
    o->bytes += len;
    if (seq >= o->next_seq)
        o->next_seq = seq + 1;
    return w;
}

/* Commit record w to the store, if any (caller holds the lock). */
static void orphans_save(struct orphans *o, const struct own *w)
{
    char err[300];
    if (o->store &&
        store_own_put(o->store, w->seq, w->index, w->hash, w->data, w->len, err, sizeof(err)) < 0)
        log_error("store: own append %" PRIu64 " lives in memory only: %s", w->seq, err);
}

static void orphans_load_cb(void *arg, uint64_t seq, uint64_t index, const char *hash,
                            const char *data, size_t len)
{
    struct orphans *o = arg;
    if (len <= ORPHANS_MAX_BYTES)
        orphans_add(o, seq, index, hash, data, len);
}

struct orphans *orphans_new(struct chain *c, struct store *s, char *err, size_t errsz)
{
    struct orphans *o = xcalloc(1, sizeof(*o));
    pthread_mutex_init(&o->lock, NULL);
    o->chain = c;
    o->own = xcalloc(ORPHANS_MAX, sizeof(*o->own));
    if (s && store_read_own(s, orphans_load_cb, o, err, errsz) < 0) {
        orphans_free(o);
        return NULL;
    }
    o->store = s; /* after loading: the rows read are not written back */
    return o;
}

bool orphans_record(struct orphans *o, const char *block_json, size_t len, const char *data,
                    size_t dlen)
{
    uint64_t index;
    char hash[BLOCK_HASH_HEX + 1];
    if (dlen > ORPHANS_MAX_BYTES || block_json_id(block_json, len, &index, hash) < 0)
        return false;
    pthread_mutex_lock(&o->lock);
    struct own *w = orphans_add(o, o->next_seq, index, hash, data, dlen);
    orphans_save(o, w);
    bool gone = !chain_has_block(o->chain, index, hash);
    pthread_mutex_unlock(&o->lock);
    return gone;
}

size_t orphans_reappend(struct orphans *o, void (*sent)(void *arg, const char *json, size_t len),
                        void *arg)
{
    size_t again = 0;
    struct buf json = BUF_INIT;
    pthread_mutex_lock(&o->lock);
    for (size_t i = 0; i < o->n; i++) {
        struct own *w = own_at(o, i);
        if (chain_has_block(o->chain, w->index, w->hash) ||
            chain_contains_data(o->chain, w->data, w->len))
            continue;
        buf_clear(&json);
        uint64_t was = w->index;
        if (chain_append_data(o->chain, w->data, w->len, &json) < 0 ||
            block_json_id(json.data, json.len, &w->index, w->hash) < 0)
            continue; /* the store failed (logged): tried again after the next replacement */
        orphans_save(o, w);
        log_info("reappend: block %" PRIu64 " %.*s carries again the data acknowledged in block "
                 "%" PRIu64 ", which a sync replaced",
                 w->index, BLOCK_SHORT_HASH, w->hash, was);
        sent(arg, json.data, json.len);
        again++;
    }
    pthread_mutex_unlock(&o->lock);
    buf_free(&json);
    return again;
}

size_t orphans_count(struct orphans *o)
{
    pthread_mutex_lock(&o->lock);
    size_t n = o->n;
    pthread_mutex_unlock(&o->lock);
    return n;
}

void orphans_free(struct orphans *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->n; i++)
        free(own_at(o, i)->data);
    free(o->own);
    pthread_mutex_destroy(&o->lock);
    free(o);
}
