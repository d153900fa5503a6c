/* chain: the held chain, kept as its wire encoding, behind a rwlock. */
#include "chain.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parsepool.h"
#include "pyjson.h"
#include "xalloc.h"

#define CHAIN_LOAD_PART 5000 /* blocks parsed at a time when loading a stored chain */
#define CHAIN_SPIN      100  /* tries of a taken write lock before sleeping on it */

struct chain {
    pthread_rwlock_t lock;
    struct buf json; /* "[" b0 ", " b1 ... without the closing "]" */
    size_t *off;     /* off[i]: where block base+i starts in json */
    size_t n;        /* blocks held; at least 1 (genesis, or a segment's first block) */
    size_t cap;      /* entries allocated in off */
    uint64_t base;   /* index of the first block held: 0 for a chain, more for a segment */
    char base_prev[BLOCK_HASH_HEX + 1]; /* prev_hash of the first block; "" when base is 0 */
    char tip_hash[BLOCK_HASH_HEX + 1];
    struct store *store;  /* borrowed; NULL: the chain lives in memory only */
    enum forkchoice fork; /* which offered chain wins (chain_set_fork_choice()) */
};

static struct chain *chain_alloc(void)
{
    struct chain *c = xcalloc(1, sizeof(*c));
    if (pthread_rwlock_init(&c->lock, NULL) != 0)
        abort();
    buf_append_char(&c->json, '[');
    return c;
}

/* Take c's write lock. Appends hold it for a hash and a copy, well under a microsecond, so a
 * writer that finds it taken tries again CHAIN_SPIN times before it sleeps: two HTTP threads
 * appending at once would otherwise put each other to sleep and wake each other through the
 * kernel on most collisions. */
static void chain_wrlock(struct chain *c)
{
    for (int i = 0; i < CHAIN_SPIN; i++) {
        if (pthread_rwlock_trywrlock(&c->lock) == 0)
            return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    pthread_rwlock_wrlock(&c->lock);
}

/* Count one more block, its JSON starting at byte at of c's text (caller holds the write lock or
 * owns c alone). */
static void push_offset(struct chain *c, size_t at)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->off = xrealloc(c->off, c->cap * sizeof(*c->off));
    }
    c->off[c->n++] = at;
}

/* Start block n of c's text: the ", " separator and its offset (caller holds the write lock or
 * owns c alone). The caller then appends the block's JSON and sets tip_hash. */
static void push_start(struct chain *c)
{
    if (c->n > 0)
        buf_append(&c->json, ", ", 2);
    push_offset(c, c->json.len);
}

/* Add an encoded block to an unlocked chain (caller holds the write lock or owns c alone). */
static void push_block(struct chain *c, const struct block *b)
{
    push_start(c);
    block_encode(b, &c->json);
    memcpy(c->tip_hash, b->hash, sizeof(c->tip_hash));
}

/* Bytes [start, end) of block i's JSON. */
static void block_span(const struct chain *c, size_t i, size_t *start, size_t *end)
{
    *start = c->off[i];
    *end = i + 1 < c->n ? c->off[i + 1] - 2 : c->json.len;
}

/* Undo the last push_block() (caller holds the write lock); prev_tip: the tip hash before it. */
static void pop_block(struct chain *c, const char prev_tip[BLOCK_HASH_HEX + 1])
{
    c->n--;
    c->json.len = c->off[c->n] - (c->n > 0 ? 2 : 0);
    c->json.data[c->json.len] = '\0';
    memcpy(c->tip_hash, prev_tip, sizeof(c->tip_hash));
}

/* The hash of block i, read from the end of its JSON ('"hash": "<64 hex>"}'). Not terminated. */
static const char *hash_at(const struct chain *c, size_t i)
{
    size_t start, end;
    block_span(c, i, &start, &end);
    return c->json.data + end - 2 - BLOCK_HASH_HEX;
}

/* Commit the block just pushed to the store, if any (caller holds the write lock). On failure
 * the block is popped again (prev_tip: the tip hash before the push) and -1 returned. */
static int store_tip_locked(struct chain *c, const char prev_tip[BLOCK_HASH_HEX + 1])
{
    char err[300];
    size_t start, end;
    if (c->store == NULL)
        return 0;
    block_span(c, c->n - 1, &start, &end);
    if (store_append(c->store, c->base + c->n - 1, c->json.data + start, end - start, err,
                     sizeof(err)) == 0)
        return 0;
    log_error("store: block %llu was not appended: %s", (unsigned long long)(c->base + c->n - 1),
              err);
    pop_block(c, prev_tip);
    return -1;
}

/* Number of leading blocks a and b (both starting at genesis, both valid) have in common. The
 * hashes chain, so equal hashes at i mean equal blocks up to i: a binary search suffices. */
static size_t common_prefix(const struct chain *a, const struct chain *b)
{
    size_t lo = 1, hi = a->n < b->n ? a->n : b->n; /* genesis is always shared */
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (memcmp(hash_at(a, mid - 1), hash_at(b, mid - 1), BLOCK_HASH_HEX) == 0)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* Rewrite the stored blocks from cand's position from on (index cand->base + from) with cand's,
 * in one transaction. */
static int store_suffix(struct store *s, const struct chain *cand, size_t from, char *err,
                        size_t errsz)
{
    if (store_replace_begin(s, cand->base + from, err, errsz) < 0)
        return -1;
    for (size_t i = from; i < cand->n; i++) {
        size_t start, end;
        block_span(cand, i, &start, &end);
        if (store_replace_put(s, cand->base + i, cand->json.data + start, end - start, err, errsz) <
            0) {
            store_replace_abort(s);
            return -1;
        }
    }
    return store_replace_commit(s, err, errsz);
}

struct chain *chain_new(void)
{
    struct chain *c = chain_alloc();
    push_block(c, block_genesis());
    return c;
}

void chain_free(struct chain *c)
{
    if (c == NULL)
        return;
    pthread_rwlock_destroy(&c->lock);
    buf_free(&c->json);
    free(c->off);
    free(c);
}

/* Decode and validate the JSON array (borrowed) as the blocks from, from+1, ... (see
 * chain_parse_segment()). text_len, when known, sizes the text buffer up front (0: unknown).
 * Returns a new unshared chain, or NULL with err set. */
static struct chain *segment_from_json(const json_t *array, uint64_t from, size_t text_len,
                                       char *err, size_t errsz)
{
    struct chain *c = NULL;
    char why[200];
    if (!json_is_array(array)) {
        snprintf(err, errsz, "a chain must be a JSON array of blocks");
        goto out;
    }
    size_t n = json_array_size(array);
    if (n == 0 && from == 0) {
        snprintf(err, errsz, "a chain must start with the genesis block; this one is empty");
        goto out;
    }
    if (n == 0) {
        snprintf(err, errsz, "no blocks from index %llu (the chain is shorter)",
                 (unsigned long long)from);
        goto out;
    }
    c = chain_alloc();
    c->base = from;
    c->cap = n;
    c->off = xmalloc(n * sizeof(*c->off));
    buf_reserve(&c->json, text_len); /* the re-encoding is as long as json.dumps' text */
    for (size_t i = 0; i < n; i++) {
        struct block b;
        unsigned long long at = (unsigned long long)(from + i);
        if (block_from_json(json_array_get(array, i), &b, why, sizeof(why)) < 0) {
            snprintf(err, errsz, "block %llu: %s", at, why);
            goto fail;
        }
        if (i == 0 && from > 0 && b.index != from) {
            snprintf(err, errsz, "block %llu: the blocks from index %llu start with index %llu", at,
                     at, (unsigned long long)b.index);
            block_clear(&b);
            goto fail;
        }
        if (b.index != from + i ||
            (i > 0 && memcmp(b.prev_hash, c->tip_hash, BLOCK_HASH_HEX) != 0)) {
            snprintf(err, errsz, "block %llu: does not chain to block %llu (index %llu)", at,
                     i ? at - 1 : at, (unsigned long long)b.index);
            block_clear(&b);
            goto fail;
        }
        if (i == 0 && from > 0)
            memcpy(c->base_prev, b.prev_hash, sizeof(c->base_prev));
        push_block(c, &b);
        block_clear(&b);
    }
    goto out;
fail:
    chain_free(c);
    c = NULL;
out:
    return c;
}

/* The segment in text (len bytes) when it is exactly "[" b0 ", " b1 ... "]" with every block as
 * block_encode() writes it (as json.dumps does), each valid (block_match_encoded()) and chained as
 * chain_parse_segment() requires. Such a text is the segment's wire encoding as it stands: it is
 * kept, not decoded into a tree and written again; when owner is not NULL (it holds text), its
 * memory is taken rather than copied. Returns a new unshared segment, or NULL when the text is
 * anything else (it may be valid in another formatting: the full decoding decides). */
static struct chain *segment_match(const char *text, size_t len, uint64_t from, struct buf *owner)
{
    struct chain *c = NULL;
    struct buf scratch = BUF_INIT;
    size_t pos = 1, end = len - 1; /* blocks lie in [1, end); text[end] is the closing ']' */
    if (len < 2 || text[0] != '[' || text[end] != ']')
        goto out;
    c = chain_alloc();
    c->base = from;
    for (;;) {
        char prev[BLOCK_HASH_HEX + 1];
        size_t n = block_match_encoded(text + pos, end - pos, from + c->n,
                                       c->n > 0 ? c->tip_hash : NULL, prev, c->tip_hash, &scratch);
        if (n == 0)
            goto fail;
        if (c->n == 0 && from > 0)
            memcpy(c->base_prev, prev, sizeof(c->base_prev));
        push_offset(c, pos);
        pos += n;
        if (pos == end)
            break;
        if (end - pos < 2 || text[pos] != ',' || text[pos + 1] != ' ')
            goto fail;
        pos += 2;
    }
    if (owner != NULL) { /* "[" b0 ", " ... as it is, less the closing "]" */
        buf_free(&c->json);
        c->json = *owner;
        *owner = (struct buf)BUF_INIT;
        c->json.len = end;
        c->json.data[end] = '\0';
    } else {
        buf_append(&c->json, text + 1, end - 1); /* after the "[" chain_alloc() wrote */
    }
    goto out;
fail:
    chain_free(c);
    c = NULL;
out:
    buf_free(&scratch);
    return c;
}

struct chain *chain_from_json(const json_t *array, char *err, size_t errsz)
{
    return segment_from_json(array, 0, 0, err, errsz);
}

/* chain_parse_segment() of text (len bytes), held by owner when owner is not NULL. */
static struct chain *parse_segment(const char *text, size_t len, uint64_t from, struct buf *owner,
                                   char *err, size_t errsz)
{
    struct chain *c = segment_match(text, len, from, owner);
    if (c != NULL)
        return c;
    json_error_t jerr;
    json_t *root =
        json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        snprintf(err, errsz, "malformed JSON at byte %d: %s", jerr.position, jerr.text);
        return NULL;
    }
    c = segment_from_json(root, from, len, err, errsz);
    json_decref(root);
    return c;
}

struct chain *chain_parse_segment(const char *text, size_t len, uint64_t from, char *err,
                                  size_t errsz)
{
    return parse_segment(text, len, from, NULL, err, errsz);
}

struct chain *chain_parse_segment_buf(struct buf *text, uint64_t from, char *err, size_t errsz)
{
    return parse_segment(text->data ? text->data : "", text->len, from, text, err, errsz);
}

struct chain *chain_parse(const char *text, size_t len, char *err, size_t errsz)
{
    return chain_parse_segment(text, len, 0, err, errsz);
}

int chain_join(struct chain *a, struct chain *b, char *err, size_t errsz)
{
    int rc = -1;
    uint64_t next = a->base + a->n;
    if (b->base != next) {
        snprintf(err, errsz, "the blocks from index %llu do not follow block %llu",
                 (unsigned long long)b->base, (unsigned long long)(next - 1));
        goto out;
    }
    if (memcmp(b->base_prev, a->tip_hash, BLOCK_HASH_HEX) != 0) {
        snprintf(err, errsz, "block %llu: its prev_hash is not the hash of block %llu",
                 (unsigned long long)b->base, (unsigned long long)(next - 1));
        goto out;
    }
    /* b->json is "[" b0 ", " b1 ...: a's text gets ", " b0 ", " b1 ... */
    size_t shift = a->json.len + 2 - 1;
    if (a->n + b->n > a->cap) {
        a->cap = a->cap * 2 > a->n + b->n ? a->cap * 2 : a->n + b->n;
        a->off = xrealloc(a->off, a->cap * sizeof(*a->off));
    }
    for (size_t i = 0; i < b->n; i++)
        a->off[a->n + i] = b->off[i] + shift;
    buf_reserve(&a->json, b->json.len + 1);
    buf_append(&a->json, ", ", 2);
    buf_append(&a->json, b->json.data + 1, b->json.len - 1);
    a->n += b->n;
    memcpy(a->tip_hash, b->tip_hash, sizeof(a->tip_hash));
    rc = 0;
out:
    chain_free(b);
    return rc;
}

static void write_tip_locked(struct chain *c, struct buf *out)
{
    size_t start, end;
    block_span(c, c->n - 1, &start, &end);
    buf_append(out, c->json.data + start, end - start);
}

int chain_append_data(struct chain *c, const char *data, size_t len, struct buf *block_json)
{
    struct buf data_json = BUF_INIT;
    char prev[BLOCK_HASH_HEX + 1], hash[BLOCK_HASH_HEX + 1];
    uint64_t index;
    int rc = 0;
    pyjson_write_string(&data_json, data, len); /* the part that grows with data: unlocked */
    chain_wrlock(c);
    index = c->base + c->n;
    memcpy(prev, c->tip_hash, sizeof(prev));
    block_hash_compute(index, data, len, prev, hash);
    push_start(c);
    block_encode_fields(index, data_json.data, data_json.len, prev, hash, &c->json);
    memcpy(c->tip_hash, hash, sizeof(c->tip_hash));
    if (c->store != NULL)
        rc = store_tip_locked(c, prev);
    pthread_rwlock_unlock(&c->lock);
    if (rc == 0 && block_json) /* the same bytes, written again rather than read back locked */
        block_encode_fields(index, data_json.data, data_json.len, prev, hash, block_json);
    buf_free(&data_json);
    return rc;
}

void chain_set_fork_choice(struct chain *c, enum forkchoice rule)
{
    pthread_rwlock_wrlock(&c->lock);
    c->fork = rule;
    pthread_rwlock_unlock(&c->lock);
}

enum chain_offer chain_offer_block(struct chain *c, const struct block *b, struct buf *block_json)
{
    enum chain_offer r;
    chain_wrlock(c);
    uint64_t tip = c->base + c->n - 1;
    if (b->index == tip && forkchoice_wins(c->fork, b->index, b->hash, tip, c->tip_hash)) {
        r = CHAIN_NEEDS_SYNC; /* a tie the sender's chain wins */
    } else if (b->index <= tip) {
        r = CHAIN_IGNORED;
    } else if (b->index == tip + 1 && b->has_prev &&
               memcmp(b->prev_hash, c->tip_hash, BLOCK_HASH_HEX) == 0) {
        push_block(c, b);
        if (c->store != NULL && store_tip_locked(c, b->prev_hash) < 0) {
            r = CHAIN_FAILED;
        } else {
            if (block_json)
                write_tip_locked(c, block_json);
            r = CHAIN_APPENDED;
        }
    } else {
        r = CHAIN_NEEDS_SYNC;
    }
    pthread_rwlock_unlock(&c->lock);
    return r;
}

bool chain_adopt_if_longer(struct chain *c, struct chain *cand, struct buf *tip_json)
{
    bool replaced = false;
    pthread_rwlock_wrlock(&c->lock);
    if (cand->base == 0 &&
        forkchoice_wins(c->fork, cand->n - 1, cand->tip_hash, c->base + c->n - 1, c->tip_hash)) {
        char err[300];
        size_t keep = c->store ? common_prefix(c, cand) : 0;
        if (c->store != NULL && store_suffix(c->store, cand, keep, err, sizeof(err)) < 0) {
            log_error("store: the longer chain was not adopted: %s", err);
            goto out;
        }
        struct buf json = c->json;
        size_t *off = c->off;
        size_t n = c->n, cap = c->cap;
        uint64_t base = c->base;
        char tip[BLOCK_HASH_HEX + 1], prev[BLOCK_HASH_HEX + 1];
        memcpy(tip, c->tip_hash, sizeof(tip));
        memcpy(prev, c->base_prev, sizeof(prev));
        c->json = cand->json;
        c->off = cand->off;
        c->n = cand->n;
        c->cap = cand->cap;
        c->base = cand->base;
        memcpy(c->tip_hash, cand->tip_hash, sizeof(c->tip_hash));
        memcpy(c->base_prev, cand->base_prev, sizeof(c->base_prev));
        cand->json = json;
        cand->off = off;
        cand->n = n;
        cand->cap = cap;
        cand->base = base;
        memcpy(cand->tip_hash, tip, sizeof(tip));
        memcpy(cand->base_prev, prev, sizeof(prev));
        if (tip_json)
            write_tip_locked(c, tip_json);
        replaced = true;
    }
out:
    pthread_rwlock_unlock(&c->lock);
    return replaced;
}

bool chain_links_at(struct chain *c, uint64_t index, const char *prev)
{
    pthread_rwlock_rdlock(&c->lock);
    bool ok = c->base == 0 && index > 0 && index <= c->n &&
              memcmp(hash_at(c, (size_t)index - 1), prev, BLOCK_HASH_HEX) == 0;
    pthread_rwlock_unlock(&c->lock);
    return ok;
}

bool chain_has_block(struct chain *c, uint64_t index, const char *hash)
{
    pthread_rwlock_rdlock(&c->lock);
    bool has = index >= c->base && index - c->base < c->n &&
               memcmp(hash_at(c, (size_t)(index - c->base)), hash, BLOCK_HASH_HEX) == 0;
    pthread_rwlock_unlock(&c->lock);
    return has;
}

bool chain_contains_data(struct chain *c, const char *data, size_t len)
{
    /* ", "data": <string>, "prev_hash": ": a quote inside data is escaped, so this sequence
     * only occurs where a block's data field is exactly this string */
    struct buf field = BUF_INIT;
    buf_append_str(&field, ", \"data\": ");
    pyjson_write_string(&field, data, len);
    buf_append_str(&field, ", \"prev_hash\": ");
    pthread_rwlock_rdlock(&c->lock);
    bool found = memmem(c->json.data, c->json.len, field.data, field.len) != NULL;
    pthread_rwlock_unlock(&c->lock);
    buf_free(&field);
    return found;
}

uint64_t chain_base(const struct chain *c, char prev[BLOCK_HASH_HEX + 1])
{
    if (prev)
        memcpy(prev, c->base_prev, BLOCK_HASH_HEX + 1);
    return c->base;
}

bool chain_extend_if_longer(struct chain *c, struct chain *seg, struct buf *tip_json)
{
    bool extended = false;
    pthread_rwlock_wrlock(&c->lock);
    size_t keep = (size_t)seg->base; /* blocks of c kept: 0 .. base-1 */
    if (c->base != 0 || seg->base == 0 || keep > c->n ||
        !forkchoice_wins(c->fork, keep + seg->n - 1, seg->tip_hash, c->n - 1, c->tip_hash) ||
        memcmp(hash_at(c, keep - 1), seg->base_prev, BLOCK_HASH_HEX) != 0)
        goto out;
    char err[300];
    if (c->store != NULL && store_suffix(c->store, seg, 0, err, sizeof(err)) < 0) {
        log_error("store: the longer chain was not adopted: %s", err);
        goto out;
    }
    /* Cut c back to its first keep blocks (at least genesis), then append seg's text. */
    size_t start, end;
    block_span(c, keep - 1, &start, &end);
    c->json.len = end;
    c->json.data[end] = '\0';
    c->n = keep;
    size_t shift = c->json.len + 2 - 1;
    if (c->n + seg->n > c->cap) {
        c->cap = c->n + seg->n;
        c->off = xrealloc(c->off, c->cap * sizeof(*c->off));
    }
    for (size_t i = 0; i < seg->n; i++)
        c->off[c->n + i] = seg->off[i] + shift;
    buf_reserve(&c->json, seg->json.len + 1);
    buf_append(&c->json, ", ", 2);
    buf_append(&c->json, seg->json.data + 1, seg->json.len - 1);
    c->n += seg->n;
    memcpy(c->tip_hash, seg->tip_hash, sizeof(c->tip_hash));
    if (tip_json)
        write_tip_locked(c, tip_json);
    extended = true;
out:
    pthread_rwlock_unlock(&c->lock);
    return extended;
}

uint64_t chain_tip(struct chain *c, char hash[BLOCK_HASH_HEX + 1])
{
    pthread_rwlock_rdlock(&c->lock);
    uint64_t tip = c->base + c->n - 1;
    if (hash)
        memcpy(hash, c->tip_hash, BLOCK_HASH_HEX + 1);
    pthread_rwlock_unlock(&c->lock);
    return tip;
}

size_t chain_json_size(struct chain *c)
{
    pthread_rwlock_rdlock(&c->lock);
    size_t n = c->json.len + 1;
    pthread_rwlock_unlock(&c->lock);
    return n;
}

void chain_write_json(struct chain *c, uint64_t from, uint64_t limit, struct buf *out)
{
    pthread_rwlock_rdlock(&c->lock);
    /* blocks held are [base, base+n); the ones asked for are [from, from+limit) */
    uint64_t lo = from > c->base ? from : c->base;
    uint64_t end_held = c->base + c->n;
    uint64_t end_asked = limit > UINT64_MAX - from ? UINT64_MAX : from + limit;
    uint64_t hi = end_asked < end_held ? end_asked : end_held;
    if (lo < hi) {
        size_t start, end, ignored;
        block_span(c, (size_t)(lo - c->base), &start, &ignored);
        block_span(c, (size_t)(hi - 1 - c->base), &ignored, &end);
        buf_reserve(out, end - start + 2);
        buf_append_char(out, '[');
        buf_append(out, c->json.data + start, end - start);
        buf_append_char(out, ']');
    } else {
        buf_append(out, "[]", 2);
    }
    pthread_rwlock_unlock(&c->lock);
}

void chain_write_tip(struct chain *c, struct buf *out)
{
    pthread_rwlock_rdlock(&c->lock);
    write_tip_locked(c, out);
    pthread_rwlock_unlock(&c->lock);
}

/* A stored chain being parsed in parts of CHAIN_LOAD_PART rows on a parse pool: small parts
 * keep each JSON tree in the cache, so this is faster than one parse even on one CPU. */
struct load {
    const struct buf *text; /* "[" r0 ", " r1 ... "]" */
    const size_t *off;      /* row i starts at off[i] */
    size_t n;               /* rows */
};

/* Part k of a load: rows [k * CHAIN_LOAD_PART, ...), parsed on a pool thread. */
struct load_part {
    struct parsepool_task task;
    const struct load *load;
    size_t k;
    struct chain *seg; /* the part parsed, or NULL with err set */
    char err[256];
};

/* Parse part k of the load (a parse pool task). */
static void load_part_run(void *arg)
{
    struct load_part *part = arg;
    const struct load *l = part->load;
    struct buf piece = BUF_INIT;
    size_t first = part->k * CHAIN_LOAD_PART;
    size_t last = first + CHAIN_LOAD_PART < l->n ? first + CHAIN_LOAD_PART : l->n;
    size_t end = last < l->n ? l->off[last] - 2 : l->text->len - 1;
    buf_reserve(&piece, end - l->off[first] + 2);
    buf_append_char(&piece, '[');
    buf_append(&piece, l->text->data + l->off[first], end - l->off[first]);
    buf_append_char(&piece, ']');
    part->seg = chain_parse_segment_buf(&piece, first, part->err, sizeof(part->err));
    buf_free(&piece);
}

/* Part k failed: when its first row is a block that does not chain to c (parts 0..k-1 joined),
 * that is the first problem by index; say so in err and return true. */
static bool first_row_breaks_link(struct chain *c, const struct load *l, size_t k, char *err,
                                  size_t errsz)
{
    size_t i = k * CHAIN_LOAD_PART;
    size_t end = i + 1 < l->n ? l->off[i + 1] - 2 : l->text->len - 1;
    struct block b;
    if (block_parse(l->text->data + l->off[i], end - l->off[i], &b, NULL, 0) < 0)
        return false;
    bool breaks = memcmp(b.prev_hash, c->tip_hash, BLOCK_HASH_HEX) != 0;
    block_clear(&b);
    if (breaks)
        snprintf(err, errsz, "block %zu: its prev_hash is not the hash of block %zu", i, i - 1);
    return breaks;
}

/* Parse and validate the n rows in text ("[" r0 ", " r1 ... "]", row i at off[i]) as a chain, in
 * parts on a parse pool, joined in order. Returns a new chain, or NULL with err set to the first
 * problem by index. */
static struct chain *parse_rows(const struct buf *text, const size_t *off, size_t n, char *err,
                                size_t errsz)
{
    struct load l = {.text = text, .off = off, .n = n};
    size_t nparts = (n + CHAIN_LOAD_PART - 1) / CHAIN_LOAD_PART;
    struct load_part *parts = xcalloc(nparts, sizeof(*parts));
    struct parsepool *pool = parsepool_new(0);
    struct chain *c = NULL;

    for (size_t k = 0; k < nparts; k++) {
        parts[k] = (struct load_part){.load = &l, .k = k};
        parts[k].task = (struct parsepool_task){.run = load_part_run, .arg = &parts[k]};
        parsepool_submit(pool, &parts[k].task);
    }
    parsepool_free(pool); /* waits for every part */
    for (size_t k = 0; k < nparts; k++) {
        if (parts[k].seg == NULL) {
            if (k == 0 || !first_row_breaks_link(c, &l, k, err, errsz))
                snprintf(err, errsz, "%s", parts[k].err);
            goto fail;
        }
        struct chain *seg = parts[k].seg;
        parts[k].seg = NULL;
        if (k == 0)
            c = seg;
        else if (chain_join(c, seg, err, errsz) < 0) /* seg is consumed */
            goto fail;
    }
    goto out;
fail:
    chain_free(c);
    c = NULL;
    for (size_t k = 0; k < nparts; k++)
        chain_free(parts[k].seg);
out:
    free(parts);
    return c;
}

struct chain *chain_load(struct store *s, char *err, size_t errsz)
{
    struct buf text = BUF_INIT;
    size_t *off = NULL, n = 0;
    struct chain *c = NULL;
    char why[256];
    if (store_read_blocks(s, &text, &off, &n, err, errsz) < 0)
        goto out;
    c = parse_rows(&text, off, n, why, sizeof(why));
    if (c == NULL) {
        snprintf(err, errsz, "the stored chain is invalid: %s", why);
        goto out;
    }
    /* Each row must be exactly its block's encoding, the bytes GET /blocks will serve. */
    for (size_t i = 0; i < n; i++) {
        size_t start = 0, end = 0, row_end = i + 1 < n ? off[i + 1] - 2 : text.len - 1;
        if (i < c->n)
            block_span(c, i, &start, &end);
        if (i >= c->n || end - start != row_end - off[i] ||
            memcmp(c->json.data + start, text.data + off[i], end - start) != 0) {
            snprintf(err, errsz,
                     "the stored chain is invalid: block %zu: its stored JSON is not the block's "
                     "exact encoding",
                     i);
            chain_free(c);
            c = NULL;
            goto out;
        }
    }
out:
    buf_free(&text);
    free(off);
    return c;
}

void chain_set_store(struct chain *c, struct store *s)
{
    pthread_rwlock_wrlock(&c->lock);
    c->store = s;
    pthread_rwlock_unlock(&c->lock);
}
