/* block: one block of the chain, its hash, its wire encoding and its validation. */
#include "block.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyjson.h"
#include "xalloc.h"

static EVP_MD *sha256_md;

/* Write v in decimal into out (at least 21 bytes, not NUL-terminated); returns the length. */
static size_t format_u64(uint64_t v, char *out)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static pthread_key_t sha256_ctx_key; /* each thread's EVP_MD_CTX, freed when the thread ends */

static void ctx_free_cb(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void sha256_init_cb(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (sha256_md == NULL || pthread_key_create(&sha256_ctx_key, ctx_free_cb) != 0)
        abort();
}

void block_hash_compute(uint64_t index, const char *data, size_t data_len, const char *prev_hash,
                        char out[BLOCK_HASH_HEX + 1])
{
    static const char hex[] = "0123456789abcdef";
    char num[24];
    unsigned char md[32];
    unsigned int mdlen = 0;
    size_t n = format_u64(index, num);

    pthread_once(&sha256_once, sha256_init_cb);
    EVP_MD_CTX *ctx = pthread_getspecific(sha256_ctx_key); /* reused: hashing is on hot paths */
    if (ctx == NULL) {
        ctx = EVP_MD_CTX_new();
        pthread_setspecific(sha256_ctx_key, ctx);
    }
    if (ctx == NULL || !EVP_DigestInit_ex2(ctx, sha256_md, NULL) ||
        !EVP_DigestUpdate(ctx, num, n) ||
        !EVP_DigestUpdate(ctx, data ? data : "None", data ? data_len : 4) ||
        !EVP_DigestUpdate(ctx, prev_hash ? prev_hash : "None", prev_hash ? strlen(prev_hash) : 4) ||
        !EVP_DigestFinal_ex(ctx, md, &mdlen))
        abort(); /* only on allocation failure inside OpenSSL */
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[BLOCK_HASH_HEX] = '\0';
}

void block_make_next(uint64_t prev_index, const char *prev_hash, const char *data, size_t len,
                     struct block *out)
{
    out->index = prev_index + 1;
    out->data = xmemdup(data, len);
    out->data_len = len;
    out->has_prev = true;
    memcpy(out->prev_hash, prev_hash, BLOCK_HASH_HEX + 1);
    block_hash_compute(out->index, out->data, len, out->prev_hash, out->hash);
}

#define ENCODE_HEAD_MAX 40 /* bytes of '{"index": N, "data": ' at most (N: 20 digits) */
#define ENCODE_TAIL_MAX (15 + 2 + BLOCK_HASH_HEX + 10 + 2 + BLOCK_HASH_HEX + 2) /* after data */

/* Append '{"index": N, "data": ' (what comes before a block's data). */
static void encode_head(uint64_t index, struct buf *out)
{
    char num[24];
    buf_append(out, "{\"index\": ", 10);
    buf_append(out, num, format_u64(index, num));
    buf_append(out, ", \"data\": ", 10);
}

/* Append ', "prev_hash": P, "hash": "H"}' (what follows a block's data); P is null for NULL. */
static void encode_tail(const char *prev_hash, const char *hash, struct buf *out)
{
    buf_reserve(out, ENCODE_TAIL_MAX);
    buf_append(out, ", \"prev_hash\": ", 15);
    if (prev_hash) {
        buf_append_char(out, '"');
        buf_append(out, prev_hash, BLOCK_HASH_HEX);
        buf_append_char(out, '"');
    } else {
        buf_append(out, "null", 4);
    }
    buf_append(out, ", \"hash\": \"", 11);
    buf_append(out, hash, BLOCK_HASH_HEX);
    buf_append(out, "\"}", 2);
}

void block_encode(const struct block *b, struct buf *out)
{
    encode_head(b->index, out);
    if (b->data)
        pyjson_write_string(out, b->data, b->data_len);
    else
        buf_append(out, "null", 4);
    encode_tail(b->has_prev ? b->prev_hash : NULL, b->hash, out);
}

void block_encode_fields(uint64_t index, const char *data_json, size_t data_json_len,
                         const char *prev_hash, const char *hash, struct buf *out)
{
    buf_reserve(out, ENCODE_HEAD_MAX + data_json_len + ENCODE_TAIL_MAX); /* one allocation */
    encode_head(index, out);
    buf_append(out, data_json, data_json_len);
    encode_tail(prev_hash, hash, out);
}

bool block_hash_is_hex(const char *s, size_t len)
{
    if (len != BLOCK_HASH_HEX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

const struct block *block_genesis(void)
{
    static const struct block genesis = {.index = 0,
                                         .data = NULL,
                                         .data_len = 0,
                                         .has_prev = false,
                                         .prev_hash = "",
                                         .hash = BLOCK_GENESIS_HASH};
    return &genesis;
}

static int fail(char *err, size_t errsz, const char *msg)
{
    if (err && errsz)
        snprintf(err, errsz, "%s", msg);
    return -1;
}

/* Copy a hash field: a string of 64 lowercase hex chars, or null when nullable. */
static int take_hash(const json_t *v, const char *name, bool allow_null, bool *present,
                     char out[BLOCK_HASH_HEX + 1], char *err, size_t errsz)
{
    if (json_is_null(v) && allow_null) {
        *present = false;
        out[0] = '\0';
        return 0;
    }
    if (!json_is_string(v) || !block_hash_is_hex(json_string_value(v), json_string_length(v))) {
        if (err && errsz)
            snprintf(err, errsz, "%s must be a string of 64 lowercase hex characters", name);
        return -1;
    }
    *present = true;
    memcpy(out, json_string_value(v), BLOCK_HASH_HEX + 1);
    return 0;
}

int block_from_json(const json_t *obj, struct block *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj))
        return fail(err, errsz, "a block must be a JSON object");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        if (strcmp(key, "index") != 0 && strcmp(key, "data") != 0 &&
            strcmp(key, "prev_hash") != 0 && strcmp(key, "hash") != 0) {
            if (err && errsz)
                snprintf(err, errsz,
                         "unexpected field '%.48s' (a block has index, data, prev_hash, hash)",
                         key);
            return -1;
        }
    }
    const json_t *index = json_object_get(obj, "index");
    const json_t *data = json_object_get(obj, "data");
    const json_t *prev = json_object_get(obj, "prev_hash");
    const json_t *hash = json_object_get(obj, "hash");
    if (!index || !data || !prev || !hash)
        return fail(err, errsz, "a block needs the fields index, data, prev_hash and hash");
    if (!json_is_integer(index) || json_integer_value(index) < 0 ||
        (uint64_t)json_integer_value(index) > BLOCK_INDEX_MAX)
        return fail(err, errsz, "index must be an integer from 0 to 2^53-1");
    out->index = (uint64_t)json_integer_value(index);
    bool genesis = out->index == 0;
    bool has_hash;
    if (take_hash(prev, "prev_hash", genesis, &out->has_prev, out->prev_hash, err, errsz) < 0 ||
        take_hash(hash, "hash", false, &has_hash, out->hash, err, errsz) < 0)
        return -1;
    if (genesis) {
        if (!json_is_null(data) || out->has_prev || strcmp(out->hash, BLOCK_GENESIS_HASH) != 0)
            return fail(err, errsz, "a block with index 0 must be exactly the genesis block");
        return 0;
    }
    if (!json_is_string(data))
        return fail(err, errsz, "data must be a string");
    out->data_len = json_string_length(data);
    out->data = xmemdup(json_string_value(data), out->data_len);
    char want[BLOCK_HASH_HEX + 1];
    block_hash_compute(out->index, out->data, out->data_len, out->prev_hash, want);
    if (memcmp(want, out->hash, BLOCK_HASH_HEX) != 0) {
        block_clear(out);
        return fail(err, errsz, "hash does not match sha256(index + data + prev_hash)");
    }
    return 0;
}

int block_parse(const char *text, size_t len, struct block *out, char *err, size_t errsz)
{
    json_error_t jerr;
    memset(out, 0, sizeof(*out));
    json_t *root =
        json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        if (err && errsz)
            snprintf(err, errsz, "malformed JSON at byte %d: %s", jerr.position, jerr.text);
        return -1;
    }
    int rc = block_from_json(root, out, err, errsz);
    json_decref(root);
    return rc;
}

/* The genesis block as block_encode() writes it. */
#define GENESIS_TEXT                                                                               \
    "{\"index\": 0, \"data\": null, \"prev_hash\": null, \"hash\": \"" BLOCK_GENESIS_HASH "\"}"

/* Whether text (len bytes) begins with the n bytes of lit; advances *pos past them if so. */
static bool match_bytes(const char *text, size_t len, size_t *pos, const char *lit, size_t n)
{
    if (len - *pos < n || memcmp(text + *pos, lit, n) != 0)
        return false;
    *pos += n;
    return true;
}

/* Match the JSON string at text[*pos] when it is exactly what pyjson_write_string() writes for
 * the string jansson decodes from it. Returns the decoded string (new reference) and advances
 * *pos past it, or NULL. scratch: working space. */
static json_t *match_data(const char *text, size_t len, size_t *pos, struct buf *scratch)
{
    json_error_t jerr;
    if (*pos >= len || text[*pos] != '"')
        return NULL;
    /* one value, read up to its closing quote; position then says how many bytes that was (an
     * int: were it ever cut, the length compared below would differ) */
    json_t *v = json_loadb(text + *pos, len - *pos,
                           JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &jerr);
    if (v == NULL || !json_is_string(v) || jerr.position <= 0 || (size_t)jerr.position > len - *pos)
        goto fail;
    size_t n = (size_t)jerr.position;
    buf_clear(scratch);
    pyjson_write_string(scratch, json_string_value(v), json_string_length(v));
    if (scratch->len != n || memcmp(scratch->data, text + *pos, n) != 0)
        goto fail;
    *pos += n;
    return v;
fail:
    json_decref(v);
    return NULL;
}

/* Match '"<64 lowercase hex>"' at text[*pos], equal to want when want is not NULL; copy the hex
 * into out. */
static bool match_hash(const char *text, size_t len, size_t *pos, const char *want,
                       char out[BLOCK_HASH_HEX + 1])
{
    size_t at = *pos;
    if (len - at < BLOCK_HASH_HEX + 2 || text[at] != '"' || text[at + 1 + BLOCK_HASH_HEX] != '"')
        return false;
    const char *h = text + at + 1;
    if (want ? memcmp(h, want, BLOCK_HASH_HEX) != 0 : !block_hash_is_hex(h, BLOCK_HASH_HEX))
        return false;
    memcpy(out, h, BLOCK_HASH_HEX);
    out[BLOCK_HASH_HEX] = '\0';
    *pos = at + BLOCK_HASH_HEX + 2;
    return true;
}

size_t block_match_encoded(const char *text, size_t len, uint64_t index, const char *prev,
                           char prev_out[BLOCK_HASH_HEX + 1], char hash[BLOCK_HASH_HEX + 1],
                           struct buf *scratch)
{
    size_t pos = 0;
    char num[24], want[BLOCK_HASH_HEX + 1];
    json_t *data = NULL;
    if (index == 0) {
        if (prev != NULL || !match_bytes(text, len, &pos, GENESIS_TEXT, sizeof(GENESIS_TEXT) - 1))
            return 0;
        prev_out[0] = '\0';
        memcpy(hash, BLOCK_GENESIS_HASH, BLOCK_HASH_HEX + 1);
        return pos;
    }
    if (index > BLOCK_INDEX_MAX || !match_bytes(text, len, &pos, "{\"index\": ", 10) ||
        !match_bytes(text, len, &pos, num, format_u64(index, num)) ||
        !match_bytes(text, len, &pos, ", \"data\": ", 10) ||
        (data = match_data(text, len, &pos, scratch)) == NULL ||
        !match_bytes(text, len, &pos, ", \"prev_hash\": ", 15) ||
        !match_hash(text, len, &pos, prev, prev_out) ||
        !match_bytes(text, len, &pos, ", \"hash\": ", 10))
        goto fail;
    block_hash_compute(index, json_string_value(data), json_string_length(data), prev_out, want);
    if (!match_hash(text, len, &pos, want, hash) || !match_bytes(text, len, &pos, "}", 1))
        goto fail;
    json_decref(data);
    return pos;
fail:
    json_decref(data);
    return 0;
}

void block_clear(struct block *b)
{
    if (b == NULL)
        return;
    free(b->data);
    memset(b, 0, sizeof(*b));
}

int block_json_id(const char *json, size_t len, uint64_t *index, char hash[BLOCK_HASH_HEX + 1])
{
    static const char head[] = "{\"index\": ";
    size_t head_len = sizeof(head) - 1, i = head_len;
    uint64_t n = 0;
    /* index first, then at the end: ..., "hash": "<64 hex>"} */
    if (len < head_len + 2 + BLOCK_HASH_HEX || memcmp(json, head, head_len) != 0 ||
        memcmp(json + len - 2, "\"}", 2) != 0)
        return -1;
    for (; i < len && i < head_len + 16 && json[i] >= '0' && json[i] <= '9'; i++)
        n = n * 10 + (uint64_t)(json[i] - '0');
    const char *h = json + len - 2 - BLOCK_HASH_HEX;
    if (i == head_len || json[i] != ',' || !block_hash_is_hex(h, BLOCK_HASH_HEX))
        return -1;
    *index = n;
    memcpy(hash, h, BLOCK_HASH_HEX);
    hash[BLOCK_HASH_HEX] = '\0';
    return 0;
}

const char *block_label(const char *json, size_t len, char out[BLOCK_LABEL_SIZE])
{
    uint64_t index;
    char hash[BLOCK_HASH_HEX + 1];
    if (block_json_id(json, len, &index, hash) < 0)
        snprintf(out, BLOCK_LABEL_SIZE, "?");
    else
        snprintf(out, BLOCK_LABEL_SIZE, "%" PRIu64 " %.*s", index, BLOCK_SHORT_HASH, hash);
    return out;
}
