/* fuzz_chain: chain_parse() and chain_parse_segment() on arbitrary bytes, then the operations a
 * node applies to a chain it accepted: serving it (whole and by page), offering it a block and
 * joining a segment to it.
 *
 * Input: one byte F, then the chain text A, then optionally a NUL byte and a second text B.
 * (A raw NUL never occurs in valid JSON text, so splitting there loses no chain.)
 *   - A is parsed as a whole chain and as a segment starting at index F.
 *   - When A is a valid chain: its GET /blocks body must re-parse to the same chain, and the page
 *     [F, F+2) must parse as a segment from F (or be "[]" past the tip).
 *   - When B is given: B parsed as one block is offered to the chain, and B parsed as a segment
 *     from the tip's successor is joined to a second copy of the chain. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "block.h"
#include "buf.h"
#include "chain.h"
#include "log.h"

#define ERR_SZ     300 /* error sentence buffer, as the node uses */
#define PAGE_LIMIT 2   /* blocks per page in the paging check */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_threshold = LOG_ERROR; /* without a store, chain.c logs nothing at this level */
    return 0;
}

/* The full JSON of c, as GET /blocks serves it. Caller frees with buf_free(). */
static void write_all(struct chain *c, struct buf *out)
{
    chain_write_json(c, 0, UINT64_MAX, out);
    if (out->len != chain_json_size(c))
        fuzz_fail(__LINE__); /* chain_json_size() is the body's length */
}

/* c's body must parse to a chain with the same tip, hash and bytes. */
static void check_round_trip(struct chain *c)
{
    char err[ERR_SZ], hash[BLOCK_HASH_HEX + 1], hash2[BLOCK_HASH_HEX + 1];
    struct buf body = BUF_INIT, body2 = BUF_INIT;

    write_all(c, &body);
    struct chain *again = chain_parse(body.data, body.len, err, sizeof(err));
    if (again == NULL)
        fuzz_fail(__LINE__);
    if (chain_tip(again, hash2) != chain_tip(c, hash) || strcmp(hash, hash2) != 0 ||
        chain_json_size(again) != chain_json_size(c))
        fuzz_fail(__LINE__);
    write_all(again, &body2);
    if (body.len != body2.len || memcmp(body.data, body2.data, body.len) != 0)
        fuzz_fail(__LINE__);
    chain_free(again);
    buf_free(&body);
    buf_free(&body2);
}

/* The page [from, from+PAGE_LIMIT) of c must be a valid segment from `from`, ending where the
 * page or the chain ends; past the tip it is "[]". */
static void check_page(struct chain *c, uint64_t from)
{
    char err[ERR_SZ];
    struct buf page = BUF_INIT;
    uint64_t tip = chain_tip(c, NULL);

    chain_write_json(c, from, PAGE_LIMIT, &page);
    if (from > tip) {
        if (page.len != 2 || memcmp(page.data, "[]", 2) != 0)
            fuzz_fail(__LINE__);
    } else {
        struct chain *seg = chain_parse_segment(page.data, page.len, from, err, sizeof(err));
        uint64_t want = from + PAGE_LIMIT - 1 < tip ? from + PAGE_LIMIT - 1 : tip;
        if (seg == NULL || chain_tip(seg, NULL) != want)
            fuzz_fail(__LINE__);
        chain_free(seg);
    }
    buf_free(&page);
}

/* Offer block b to c and check the outcome against c's tip. */
static void check_offer(struct chain *c, const struct block *b)
{
    char hash[BLOCK_HASH_HEX + 1], after[BLOCK_HASH_HEX + 1];
    struct buf tip_json = BUF_INIT, enc = BUF_INIT;
    uint64_t tip = chain_tip(c, hash);
    size_t size = chain_json_size(c);

    enum chain_offer r = chain_offer_block(c, b, &tip_json);
    bool successor =
        b->index == tip + 1 && b->has_prev && memcmp(b->prev_hash, hash, BLOCK_HASH_HEX) == 0;
    if (b->index <= tip) {
        if (r != CHAIN_IGNORED || tip_json.len != 0)
            fuzz_fail(__LINE__);
    } else if (!successor) {
        if (r != CHAIN_NEEDS_SYNC || tip_json.len != 0)
            fuzz_fail(__LINE__);
    } else {
        block_encode(b, &enc);
        if (r != CHAIN_APPENDED || chain_tip(c, after) != b->index || strcmp(after, b->hash) != 0 ||
            tip_json.len != enc.len || memcmp(tip_json.data, enc.data, enc.len) != 0 ||
            chain_json_size(c) != size + 2 + enc.len)
            fuzz_fail(__LINE__);
    }
    check_round_trip(c);
    buf_free(&tip_json);
    buf_free(&enc);
}

/* Join the segment text b (from c's next index) to c, and check the result. */
static void check_join(struct chain *c, const char *text, size_t len)
{
    char err[ERR_SZ], hash[BLOCK_HASH_HEX + 1], seg_hash[BLOCK_HASH_HEX + 1];
    uint64_t tip = chain_tip(c, NULL);

    struct chain *seg = chain_parse_segment(text, len, tip + 1, err, sizeof(err));
    if (seg == NULL)
        return;
    uint64_t seg_tip = chain_tip(seg, seg_hash);
    if (chain_join(c, seg, err, sizeof(err)) == 0) { /* seg is consumed either way */
        if (chain_tip(c, hash) != seg_tip || strcmp(hash, seg_hash) != 0)
            fuzz_fail(__LINE__);
    } else if (chain_tip(c, NULL) != tip) {
        fuzz_fail(__LINE__); /* a failed join leaves c unchanged */
    }
    check_round_trip(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[ERR_SZ];
    struct chain *c = NULL, *seg = NULL, *c2 = NULL;
    struct block b;

    if (size < 1)
        return 0;
    uint64_t from = data[0];
    const char *a = (const char *)data + 1;
    const char *nul = memchr(a, '\0', size - 1);
    size_t a_len = nul ? (size_t)(nul - a) : size - 1;
    const char *b_text = nul ? nul + 1 : NULL;
    size_t b_len = nul ? size - 1 - a_len - 1 : 0;

    seg = chain_parse_segment(a, a_len, from, err, sizeof(err));
    if (seg != NULL) {
        if (chain_tip(seg, NULL) < from)
            fuzz_fail(__LINE__);
        chain_free(seg);
    } else if (err[0] == '\0') {
        fuzz_fail(__LINE__);
    }

    c = chain_parse(a, a_len, err, sizeof(err));
    if (c == NULL) {
        if (err[0] == '\0')
            fuzz_fail(__LINE__);
        return 0;
    }
    check_round_trip(c);
    check_page(c, from);
    if (b_text != NULL) {
        if (block_parse(b_text, b_len, &b, err, sizeof(err)) == 0) {
            check_offer(c, &b);
            block_clear(&b);
        }
        c2 = chain_parse(a, a_len, err, sizeof(err));
        if (c2 == NULL)
            fuzz_fail(__LINE__); /* the same text parsed twice */
        check_join(c2, b_text, b_len);
        chain_free(c2);
    }
    chain_free(c);
    return 0;
}
