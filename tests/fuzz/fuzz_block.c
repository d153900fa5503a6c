/* fuzz_block: block_parse() on arbitrary bytes; a block it accepts must survive a round trip
 * through block_encode() unchanged, and the raw bytes go through the hash and UTF-8 checks.
 * block_match_encoded() (the sync's way to keep a page as received) must take exactly the blocks
 * block_parse() accepts that are written as block_encode() writes them.
 * Input: the bytes of one JSON block, as a peer would POST them. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "block.h"
#include "buf.h"
#include "pyjson.h"

#define ERR_SZ 256 /* error sentence buffer, as the node uses */

static bool block_equal(const struct block *a, const struct block *b)
{
    if (a->index != b->index || a->has_prev != b->has_prev || a->data_len != b->data_len)
        return false;
    if ((a->data == NULL) != (b->data == NULL))
        return false;
    if (a->data != NULL && memcmp(a->data, b->data, a->data_len) != 0)
        return false;
    return strcmp(a->prev_hash, b->prev_hash) == 0 && strcmp(a->hash, b->hash) == 0;
}

/* A valid UTF-8 string written by pyjson must decode (with jansson) to the same bytes. */
static void check_pyjson_string(const char *s, size_t len)
{
    struct buf out = BUF_INIT;
    json_error_t jerr;

    pyjson_write_string(&out, s, len);
    json_t *v = json_loadb(out.data, out.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (v == NULL || !json_is_string(v) || json_string_length(v) != len ||
        memcmp(json_string_value(v), s, len) != 0)
        fuzz_fail(__LINE__);
    json_decref(v);
    buf_free(&out);
}

/* The index an input written as block_encode() would carry: the digits after '{"index": '. */
static uint64_t index_guess(const char *text, size_t size)
{
    uint64_t index = 0;
    if (size > 10 && memcmp(text, "{\"index\": ", 10) == 0)
        for (size_t i = 10; i < size && i < 26 && text[i] >= '0' && text[i] <= '9'; i++)
            index = index * 10 + (uint64_t)(text[i] - '0');
    return index;
}

/* What block_match_encoded() takes of text, if anything, is a block block_parse() accepts, written
 * exactly as block_encode() writes it, with the hashes it reports. Returns the bytes taken. */
static size_t check_match(const char *text, size_t size, uint64_t index)
{
    char prev[BLOCK_HASH_HEX + 1], hash[BLOCK_HASH_HEX + 1], err[ERR_SZ];
    struct buf scratch = BUF_INIT, enc = BUF_INIT;
    struct block b;
    size_t n = block_match_encoded(text, size, index, NULL, prev, hash, &scratch);
    if (n > size)
        fuzz_fail(__LINE__);
    if (n > 0) {
        if (block_parse(text, n, &b, err, sizeof(err)) < 0)
            fuzz_fail(__LINE__);
        block_encode(&b, &enc);
        if (b.index != index || enc.len != n || memcmp(enc.data, text, n) != 0 ||
            strcmp(b.hash, hash) != 0 || strcmp(b.has_prev ? b.prev_hash : "", prev) != 0)
            fuzz_fail(__LINE__);
        block_clear(&b);
    }
    buf_free(&scratch);
    buf_free(&enc);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char err[ERR_SZ];
    struct block b, again;
    struct buf enc = BUF_INIT, enc2 = BUF_INIT;

    if (block_hash_is_hex(text, size) && size != BLOCK_HASH_HEX)
        fuzz_fail(__LINE__);
    if (pyjson_utf8_valid(text, size))
        check_pyjson_string(text, size);
    check_match(text, size, index_guess(text, size));

    if (block_parse(text, size, &b, err, sizeof(err)) < 0) {
        if (err[0] == '\0' || b.data != NULL)
            fuzz_fail(__LINE__); /* a failure names its reason and leaves nothing to free */
        return 0;
    }
    if (!block_hash_is_hex(b.hash, strlen(b.hash)) ||
        (b.has_prev && !block_hash_is_hex(b.prev_hash, strlen(b.prev_hash))) ||
        (b.data != NULL && !pyjson_utf8_valid(b.data, b.data_len)))
        fuzz_fail(__LINE__);

    block_encode(&b, &enc);
    if (enc.len == size && memcmp(enc.data, text, size) == 0 &&
        check_match(text, size, b.index) != size)
        fuzz_fail(__LINE__); /* written as block_encode() writes it: taken whole */
    if (block_parse(enc.data, enc.len, &again, err, sizeof(err)) < 0)
        fuzz_fail(__LINE__); /* our own encoding of a valid block must be valid */
    if (!block_equal(&b, &again))
        fuzz_fail(__LINE__);
    block_encode(&again, &enc2);
    if (enc.len != enc2.len || memcmp(enc.data, enc2.data, enc.len) != 0)
        fuzz_fail(__LINE__); /* the encoding is canonical: a fixed point */

    block_clear(&again);
    block_clear(&b);
    buf_free(&enc);
    buf_free(&enc2);
    return 0;
}
