/* Unit tests for node/block.c: the hash, the json.dumps encoding and every validation rule.
 *
 * Expected JSON text in these tables was produced by /usr/bin/python3 json.dumps (the original
 * node's encoder) and pasted here as literals; hashes by hashlib.sha256. */
#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "buf.h"
#include "pyjson.h"
#include "vectors.h"
#include "xalloc.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ERR_SZ       256

#define G  BLOCK_GENESIS_HASH
#define H1 "c5b34da1295ca493a86ef64217ee58fbcd692adabab7f586762aad1693d2ad8a"
#define H2 "1cebe68f13b54fdb86732f8ddd2c83e32e2b9261e8d81392862b21bc5d4c9d05"

#define X10   "xxxxxxxxxx"
#define X100  X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define X1000 X100 X100 X100 X100 X100 X100 X100 X100 X100 X100

static void assert_encodes_to(const struct block *b, const char *want)
{
    struct buf out = BUF_INIT;
    block_encode(b, &out);
    ck_assert_uint_eq(out.len, strlen(want));
    ck_assert_str_eq(out.data, want);
    buf_free(&out);
}

/* ---- hashing ------------------------------------------------------------------------------ */

static const struct {
    uint64_t index;
    const char *data; /* NULL: JSON null, hashed as "None" */
    size_t data_len;
    const char *prev_hash; /* NULL: JSON null */
    const char *hash;
} hash_rows[] = {
    {0ULL, NULL, 0, NULL, "6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c"},
    {1ULL, "hello world", 11, G,
     "c5b34da1295ca493a86ef64217ee58fbcd692adabab7f586762aad1693d2ad8a"},
    {0ULL, "", 0, NULL, "3da2cca61846a285ee7e014a0b2affce3ba44efd20569e9e1e773e5e81d9bdfe"},
    {5ULL, NULL, 0, G, "d60b40a5f84ff406d5e9d10f5dad5c43b81e85f1ee1a2691e86645e7a8c9acda"},
    /* the string "None" hashes like null: the original's str() makes them the same bytes */
    {7ULL, "None", 4, "16211c7f21940f0a5d93e9ed1a7ffd8918da6b66de5866425d7adf2d59beab49",
     "6c88b917491d4cfa8d78bfbc345e7cb049622f8033fc490d7c9a16b149b64e1c"},
    {1ULL, "a\000b", 3, G, "ec5f6a6b9355888d72c5c3b5a38ebdb404da37f1acca1d65e323d87ce707fa00"},
    {9007199254740991ULL, "x", 1, G,
     "dff7f71fb9c2544404accbe45b38daa4d86573357d8478edec6dacee01eef52b"},
    {18446744073709551615ULL, "x", 1, G,
     "db59028ad9a325ecb353df492b7f2850663707e32796c6a9b7d8f57e92ad5cc2"},
    {3ULL, "caf\303\251 \342\230\203 \360\237\230\200", 14,
     "1cebe68f13b54fdb86732f8ddd2c83e32e2b9261e8d81392862b21bc5d4c9d05",
     "6c18d800831000ae72be4b9bd1173a4dc99e9beeb5218cf95f8d1ab34f329791"},
};

START_TEST(test_hash_compute)
{
    char out[BLOCK_HASH_HEX + 1];
    memset(out, 'Z', sizeof(out));
    block_hash_compute(hash_rows[_i].index, hash_rows[_i].data, hash_rows[_i].data_len,
                       hash_rows[_i].prev_hash, out);
    ck_assert_str_eq(out, hash_rows[_i].hash);
}
END_TEST

static const struct {
    const char *name;
    const char *s;
    size_t len;
    bool hex;
} hex_rows[] = {
    {"genesis hash", G, 64, true},
    {"all digits", "0123456789012345678901234567890123456789012345678901234567890123", 64, true},
    {"uppercase", "6B6124D09063C27D7BD62C714759C465C55F5C93C826A3B1CCE5F046C0FD463C", 64, false},
    {"one uppercase", "6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463C", 64,
     false},
    {"63 chars", "6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463", 63, false},
    {"65 chars", "6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463cc", 65, false},
    {"non-hex g", "6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463g", 64, false},
    {"space", "6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463 ", 64, false},
    {"NUL inside", "6b6124d09063c27d7bd62c714759c465\0005f5c93c826a3b1cce5f046c0fd463c", 64, false},
    {"empty", "", 0, false},
};

START_TEST(test_hash_is_hex)
{
    ck_assert_msg(block_hash_is_hex(hex_rows[_i].s, hex_rows[_i].len) == hex_rows[_i].hex, "%s",
                  hex_rows[_i].name);
}
END_TEST

START_TEST(test_genesis)
{
    const struct block *g = block_genesis();
    char hash[BLOCK_HASH_HEX + 1];

    ck_assert_uint_eq(g->index, 0);
    ck_assert_ptr_null(g->data);
    ck_assert(!g->has_prev);
    ck_assert_str_eq(g->hash, G);
    block_hash_compute(0, NULL, 0, NULL, hash);
    ck_assert_str_eq(hash, G);
    assert_encodes_to(g, "{\"index\": 0, \"data\": null, \"prev_hash\": null, \"hash\": "
                         "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\"}");
}
END_TEST

/* ---- the seed chain: json.dumps(block) of every block -------------------------------------- */

static const struct {
    uint64_t index;
    const char *json;
} vector_rows[] = {
    {0, "{\"index\": 0, \"data\": null, \"prev_hash\": null, \"hash\": "
        "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\"}"},
    {1, "{\"index\": 1, \"data\": \"hello world\", \"prev_hash\": "
        "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", \"hash\": "
        "\"c5b34da1295ca493a86ef64217ee58fbcd692adabab7f586762aad1693d2ad8a\"}"},
    {2, "{\"index\": 2, \"data\": \"\", \"prev_hash\": "
        "\"c5b34da1295ca493a86ef64217ee58fbcd692adabab7f586762aad1693d2ad8a\", \"hash\": "
        "\"1cebe68f13b54fdb86732f8ddd2c83e32e2b9261e8d81392862b21bc5d4c9d05\"}"},
    {3, "{\"index\": 3, \"data\": \"caf\\u00e9 \\u2603 \\ud83d\\ude00\", \"prev_hash\": "
        "\"1cebe68f13b54fdb86732f8ddd2c83e32e2b9261e8d81392862b21bc5d4c9d05\", \"hash\": "
        "\"6c18d800831000ae72be4b9bd1173a4dc99e9beeb5218cf95f8d1ab34f329791\"}"},
    {4, "{\"index\": 4, \"data\": \"line1\\nline2\\ttab\", \"prev_hash\": "
        "\"6c18d800831000ae72be4b9bd1173a4dc99e9beeb5218cf95f8d1ab34f329791\", \"hash\": "
        "\"5ca8de479191c37ca56de834d53f66540c9b89780b8319fcd2c9836f433401c5\"}"},
    {5, "{\"index\": 5, \"data\": \"{\\\"json\\\": [1,2,3]}\", \"prev_hash\": "
        "\"5ca8de479191c37ca56de834d53f66540c9b89780b8319fcd2c9836f433401c5\", \"hash\": "
        "\"f9aaf9ab033d2a5471bb45e0e9c35b079239711a22dc94b185ff2bd8046c77e3\"}"},
    {6, "{\"index\": 6, \"data\": \"quote \\\" backslash \\\\ slash /\", \"prev_hash\": "
        "\"f9aaf9ab033d2a5471bb45e0e9c35b079239711a22dc94b185ff2bd8046c77e3\", \"hash\": "
        "\"16211c7f21940f0a5d93e9ed1a7ffd8918da6b66de5866425d7adf2d59beab49\"}"},
    {7, "{\"index\": 7, \"data\": \"None\", \"prev_hash\": "
        "\"16211c7f21940f0a5d93e9ed1a7ffd8918da6b66de5866425d7adf2d59beab49\", \"hash\": "
        "\"6c88b917491d4cfa8d78bfbc345e7cb049622f8033fc490d7c9a16b149b64e1c\"}"},
    {8, "{\"index\": 8, \"data\": \"" X1000 "\", \"prev_hash\": "
        "\"6c88b917491d4cfa8d78bfbc345e7cb049622f8033fc490d7c9a16b149b64e1c\", \"hash\": "
        "\"61483ca809ff3ce9452ad9630c58086ec0ad72ba72981f67804bd652f758b1a9\"}"},
    {9, "{\"index\": 9, \"data\": \"12\", \"prev_hash\": "
        "\"61483ca809ff3ce9452ad9630c58086ec0ad72ba72981f67804bd652f758b1a9\", \"hash\": "
        "\"31b4098f9fea878bd388324ae882d2b6f4cf1b0d06e4e4ea662e8e76aecbe819\"}"},
    {10, "{\"index\": 10, \"data\": \"3abc\", \"prev_hash\": "
         "\"31b4098f9fea878bd388324ae882d2b6f4cf1b0d06e4e4ea662e8e76aecbe819\", \"hash\": "
         "\"7a7fdc6f9cd436fda183afad8807226114e13864b0623964cedb332bee0b5fb3\"}"},
};

START_TEST(test_vector_count)
{
    json_t *root = vectors_load();
    json_t *chain = json_object_get(root, "chain");
    struct block b;
    char err[ERR_SZ] = "";

    ck_assert_msg(json_is_array(chain), "the vectors file has no \"chain\" array");
    ck_assert_uint_eq(json_array_size(chain), ARRAY_LEN(vector_rows));
    ck_assert_msg(block_from_json(json_object_get(root, "genesis"), &b, err, sizeof(err)) == 0,
                  "%s", err);
    assert_encodes_to(&b, vector_rows[0].json);
    block_clear(&b);
    json_decref(root);
}
END_TEST

/* Every block of the seed chain validates, its hash verifies, block_make_next() rebuilds it from
 * its predecessor, and it encodes to exactly the bytes json.dumps wrote for it. */
START_TEST(test_vector_block)
{
    json_t *root = vectors_load();
    json_t *chain = json_object_get(root, "chain");
    struct block b, again, next;
    char err[ERR_SZ] = "";
    char hash[BLOCK_HASH_HEX + 1];

    ck_assert_uint_lt(_i, json_array_size(chain));
    ck_assert_msg(block_from_json(json_array_get(chain, _i), &b, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(b.index, vector_rows[_i].index);
    block_hash_compute(b.index, b.data, b.data_len, b.has_prev ? b.prev_hash : NULL, hash);
    ck_assert_str_eq(hash, b.hash);
    assert_encodes_to(&b, vector_rows[_i].json);

    /* the Python bytes parse back to the same block */
    ck_assert_msg(block_parse(vector_rows[_i].json, strlen(vector_rows[_i].json), &again, err,
                              sizeof(err)) == 0,
                  "%s", err);
    assert_encodes_to(&again, vector_rows[_i].json);

    if (_i > 0) {
        struct block prev;
        ck_assert_int_eq(block_from_json(json_array_get(chain, _i - 1), &prev, err, sizeof(err)),
                         0);
        block_make_next(prev.index, prev.hash, b.data, b.data_len, &next);
        assert_encodes_to(&next, vector_rows[_i].json);
        block_clear(&next);
        block_clear(&prev);
    }
    block_clear(&again);
    block_clear(&b);
    json_decref(root);
}
END_TEST

/* ---- block_encode: block_make_next(0, genesis, data) vs json.dumps --------------------------- */

static const struct {
    const char *name;
    const char *data;
    size_t len;
    const char *json;
} encode_rows[] = {
    {"empty", "", 0,
     "{\"index\": 1, \"data\": \"\", \"prev_hash\": "
     "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", \"hash\": "
     "\"8342553f3baf8d278852214f5650cb609594fb6b458934b16bb8f54575ed11f3\"}"},
    {"plain ASCII", "hello world", 11,
     "{\"index\": 1, \"data\": \"hello world\", \"prev_hash\": "
     "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", \"hash\": "
     "\"c5b34da1295ca493a86ef64217ee58fbcd692adabab7f586762aad1693d2ad8a\"}"},
    {"printable ASCII kept", " !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~", 37,
     "{\"index\": 1, \"data\": \" !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~\", \"prev_hash\": "
     "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", \"hash\": "
     "\"8507a62a2963cc310ce33555ba5d3706f403906e00a6b35faa890ddc790bebb5\"}"},
    {"quote and backslash", "a\"b\\c", 5,
     "{\"index\": 1, \"data\": \"a\\\"b\\\\c\", \"prev_hash\": "
     "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", \"hash\": "
     "\"052f6023584aca0de97f60a9cd0a5f464d8002e44c94909dd97dd31b6f543afb\"}"},
    {"short escapes", "\012\015\011\010\014", 5,
     "{\"index\": 1, \"data\": \"\\n\\r\\t\\b\\f\", \"prev_hash\": "
     "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", \"hash\": "
     "\"ca27ffd0e3539718d2e5b50d70376e03accdef0864338d71c80059c0c949b0de\"}"},
    {"NUL byte", "a\000b", 3,
     "{\"index\": 1, \"data\": \"a\\u0000b\", \"prev_hash\": "
     "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", \"hash\": "
     "\"ec5f6a6b9355888d72c5c3b5a38ebdb404da37f1acca1d65e323d87ce707fa00\"}"},
    {"all C0 controls",
     "\000\001\002\003\004\005\006\007\010\011\012\013\014\015\016\017\020\021\022\023\024\025\026"
     "\027\030\031\032\033\034\035\036\037",
     32,
     "{\"index\": 1, \"data\": "
     "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000"
     "f"
     "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c"
     "\\u001d\\u001e\\u001f\", \"prev_hash\": "
     "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", \"hash\": "
     "\"ebbb4fd3bd11580133c12b55f57f99b8d4d5dc48a4f41d2b54699a3774841888\"}"},
    {"DEL", "\177", 1,
     "{\"index\": 1, \"data\": \"\\u007f\", \"prev_hash\": "
     "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", \"hash\": "
     "\"d49b89c768fa29c6b4746c76c78555f07f46e3b7ea18b015b6dbca5f3500205d\"}"},
    {"two-byte UTF-8", "\303\251 \303\237 \303\277 \302\200 \337\277", 14,
     "{\"index\": 1, \"data\": \"\\u00e9 \\u00df \\u00ff \\u0080 \\u07ff\", \"prev_hash\": "
     "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", \"hash\": "
     "\"f9af5bd01ec5abf2a361188084c30a90c4be0b59dd4e54339b983635e88a7c42\"}"},
    {"three-byte UTF-8",
     "\342\202\254 \342\230\203 \340\240\200 \355\237\277 \356\200\200 \357\273\277 \357\277\277",
     27,
     "{\"index\": 1, \"data\": \"\\u20ac \\u2603 \\u0800 \\ud7ff \\ue000 \\ufeff \\uffff\", "
     "\"prev_hash\": \"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", "
     "\"hash\": \"d23dabd7554b880bc3935a093352c615e035a66a8fbded6d0a0d788fd0dfe05d\"}"},
    {"four-byte UTF-8 as surrogate pairs", "\360\237\230\200 \360\220\200\200 \364\217\277\277", 14,
     "{\"index\": 1, \"data\": \"\\ud83d\\ude00 \\ud800\\udc00 \\udbff\\udfff\", \"prev_hash\": "
     "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", \"hash\": "
     "\"103263d0c2fb36da12ce49c886464cc6cf90db5d0281f421bbcfca0bb6ab7038\"}"},
    {"mixed", "tab\011here \"q\" \342\230\203\012\360\237\230\200\177", 22,
     "{\"index\": 1, \"data\": \"tab\\there \\\"q\\\" \\u2603\\n\\ud83d\\ude00\\u007f\", "
     "\"prev_hash\": \"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", "
     "\"hash\": \"365750f6c387ba7d578e021c744b28850b46ed75e8131c50b4b49ec8dc80d978\"}"},
};

START_TEST(test_encode)
{
    struct block b, parsed;
    char err[ERR_SZ] = "";

    block_make_next(0, G, encode_rows[_i].data, encode_rows[_i].len, &b);
    assert_encodes_to(&b, encode_rows[_i].json);

    /* block_encode_fields() of the same fields, with the data already written, agrees */
    struct buf data = BUF_INIT, out = BUF_INIT;
    pyjson_write_string(&data, b.data, b.data_len);
    buf_append_str(&out, "prefix");
    block_encode_fields(b.index, data.data, data.len, b.prev_hash, b.hash, &out);
    ck_assert_str_eq(out.data + 6, encode_rows[_i].json);
    buf_free(&data);
    buf_free(&out);

    /* and json.dumps' bytes decode to the same data, byte for byte */
    ck_assert_msg(block_parse(encode_rows[_i].json, strlen(encode_rows[_i].json), &parsed, err,
                              sizeof(err)) == 0,
                  "%s: %s", encode_rows[_i].name, err);
    ck_assert_uint_eq(parsed.data_len, encode_rows[_i].len);
    ck_assert_mem_eq(parsed.data, encode_rows[_i].data, encode_rows[_i].len);
    ck_assert_int_eq(parsed.data[parsed.data_len], '\0');
    block_clear(&parsed);
    block_clear(&b);
}
END_TEST

START_TEST(test_encode_appends)
{
    struct buf out = BUF_INIT;

    buf_append_str(&out, "[");
    block_encode(block_genesis(), &out);
    buf_append_str(&out, "]");
    ck_assert_str_eq(out.data, "[{\"index\": 0, \"data\": null, \"prev_hash\": null, \"hash\": "
                               "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c"
                               "\"}]");
    buf_clear(&out);
    block_encode_fields(0, "null", 4, NULL, G, &out); /* genesis from its fields */
    ck_assert_str_eq(out.data,
                     "{\"index\": 0, \"data\": null, \"prev_hash\": null, \"hash\": \"" G "\"}");
    buf_free(&out);
}
END_TEST

/* ---- validation: block_parse() and block_from_json() ---------------------------------------- */

#define Q(s) "\"" s "\""
/* A block's text with the four fields in wire order; each argument is JSON text. */
#define BLOCK_TEXT(index, data, prev, hash)                                                        \
    "{\"index\": " index ", \"data\": " data ", \"prev_hash\": " prev ", \"hash\": " hash "}"
#define B1_WITH_INDEX(index) BLOCK_TEXT(index, Q("hello world"), Q(G), Q(H1))
#define B1                   B1_WITH_INDEX("1")
#define GENESIS_TEXT         BLOCK_TEXT("0", "null", "null", Q(G))

#define H_MAX_INDEX "dff7f71fb9c2544404accbe45b38daa4d86573357d8478edec6dacee01eef52b"
#define H_NUL       "ec5f6a6b9355888d72c5c3b5a38ebdb404da37f1acca1d65e323d87ce707fa00"
#define H_SLASH_E   "8844775c86f6573774dfa4113467f8e925a5a84b044a3e2362aec8577a0b8e9a"
#define G_UPPER     "6B6124D09063C27D7BD62C714759C465C55F5C93C826A3B1CCE5F046C0FD463C"
#define G_63        "6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463"
#define G_65        G "0"
#define G_NONHEX    "6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463z"

/* a raw NUL byte inside a JSON string (not the \u0000 escape) */
#define RAW_NUL_TEXT                                                                               \
    "{\"index\": 1, \"data\": \"a\000b\", \"prev_hash\": \"" G "\", \"hash\": \"" H1 "\"}"

#define ERR_OBJECT  "a block must be a JSON object"
#define ERR_FIELDS  "a block needs the fields index, data, prev_hash and hash"
#define ERR_INDEX   "index must be an integer from 0 to 2^53-1"
#define ERR_PREV    "prev_hash must be a string of 64 lowercase hex characters"
#define ERR_HASH    "hash must be a string of 64 lowercase hex characters"
#define ERR_DATA    "data must be a string"
#define ERR_GENESIS "a block with index 0 must be exactly the genesis block"
#define ERR_VERIFY  "hash does not match sha256(index + data + prev_hash)"
#define ERR_JSON    "malformed JSON"

static const struct {
    const char *name;
    const char *text;
    size_t len;        /* 0: strlen(text) */
    const char *err;   /* expected substring of the error; NULL when the block is valid */
    const char *canon; /* valid blocks: what block_encode() writes for them (json.dumps) */
} parse_rows[] = {
    /* valid */
    {"vector block 1", B1, 0, NULL, B1},
    {"genesis", GENESIS_TEXT, 0, NULL, GENESIS_TEXT},
    {"keys in another order",
     "{\"hash\": \"" H1 "\", \"prev_hash\": \"" G "\", \"data\": \"hello world\", \"index\": 1}", 0,
     NULL, B1},
    {"compact, surrounded by white space",
     " \n\t{\"index\":1,\"data\":\"hello world\",\"prev_hash\":\"" G "\",\"hash\":\"" H1 "\"}\r\n ",
     0, NULL, B1},
    {"index -0 is 0", BLOCK_TEXT("-0", "null", "null", Q(G)), 0, NULL, GENESIS_TEXT},
    {"largest index 2^53-1", BLOCK_TEXT("9007199254740991", Q("x"), Q(G), Q(H_MAX_INDEX)), 0, NULL,
     BLOCK_TEXT("9007199254740991", Q("x"), Q(G), Q(H_MAX_INDEX))},
    {"NUL in data via \\u0000 (hashed over the NUL byte)",
     BLOCK_TEXT("1", Q("a\\u0000b"), Q(G), Q(H_NUL)), 0, NULL,
     BLOCK_TEXT("1", Q("a\\u0000b"), Q(G), Q(H_NUL))},
    {"escaped solidus and uppercase \\u escape are re-encoded canonically",
     BLOCK_TEXT("1", Q("\\/\\u00E9"), Q(G), Q(H_SLASH_E)), 0, NULL,
     "{\"index\": 1, \"data\": \"/\\u00e9\", \"prev_hash\": "
     "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", \"hash\": "
     "\"8844775c86f6573774dfa4113467f8e925a5a84b044a3e2362aec8577a0b8e9a\"}"},
    {"raw UTF-8 in data", BLOCK_TEXT("1", Q("/\303\251"), Q(G), Q(H_SLASH_E)), 0, NULL,
     "{\"index\": 1, \"data\": \"/\\u00e9\", \"prev_hash\": "
     "\"6b6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\", \"hash\": "
     "\"8844775c86f6573774dfa4113467f8e925a5a84b044a3e2362aec8577a0b8e9a\"}"},

    /* not JSON */
    {"empty text", "", 0, ERR_JSON, NULL},
    {"white space only", " \n", 0, ERR_JSON, NULL},
    {"truncated object", "{\"index\": 1", 0, ERR_JSON, NULL},
    {"trailing garbage", B1 " x", 0, ERR_JSON, NULL},
    {"two blocks", B1 B1, 0, ERR_JSON, NULL},
    {"single quotes", "{'index': 1}", 0, ERR_JSON, NULL},
    {"trailing comma",
     "{\"index\": 1, \"data\": \"hello world\", \"prev_hash\": \"" G "\", \"hash\": \"" H1 "\",}",
     0, ERR_JSON, NULL},
    {"lone surrogate escape", BLOCK_TEXT("1", Q("\\ud800"), Q(G), Q(H1)), 0, ERR_JSON, NULL},
    {"invalid UTF-8 byte", BLOCK_TEXT("1", Q("\377"), Q(G), Q(H1)), 0, ERR_JSON, NULL},
    {"raw NUL byte in a string", RAW_NUL_TEXT, sizeof(RAW_NUL_TEXT) - 1, ERR_JSON, NULL},
    {"raw newline in a string", BLOCK_TEXT("1", Q("a\nb"), Q(G), Q(H1)), 0, ERR_JSON, NULL},

    /* not an object */
    {"array", "[]", 0, ERR_OBJECT, NULL},
    {"array holding a block", "[" B1 "]", 0, ERR_OBJECT, NULL},
    {"string", "\"hello\"", 0, ERR_OBJECT, NULL},
    {"number", "1", 0, ERR_OBJECT, NULL},
    {"null", "null", 0, ERR_OBJECT, NULL},

    /* fields */
    {"empty object", "{}", 0, ERR_FIELDS, NULL},
    {"no index", "{\"data\": \"hello world\", \"prev_hash\": \"" G "\", \"hash\": \"" H1 "\"}", 0,
     ERR_FIELDS, NULL},
    {"no data", "{\"index\": 1, \"prev_hash\": \"" G "\", \"hash\": \"" H1 "\"}", 0, ERR_FIELDS,
     NULL},
    {"no prev_hash", "{\"index\": 1, \"data\": \"hello world\", \"hash\": \"" H1 "\"}", 0,
     ERR_FIELDS, NULL},
    {"no hash", "{\"index\": 1, \"data\": \"hello world\", \"prev_hash\": \"" G "\"}", 0,
     ERR_FIELDS, NULL},
    {"genesis without data", "{\"index\": 0, \"prev_hash\": null, \"hash\": \"" G "\"}", 0,
     ERR_FIELDS, NULL},
    {"extra field",
     "{\"index\": 1, \"data\": \"hello world\", \"prev_hash\": \"" G "\", \"hash\": \"" H1
     "\", \"nonce\": 0}",
     0, "unexpected field 'nonce'", NULL},
    {"extra field on genesis",
     "{\"index\": 0, \"data\": null, \"prev_hash\": null, \"hash\": \"" G "\", \"x\": null}", 0,
     "unexpected field 'x'", NULL},
    {"field name in another case",
     "{\"Index\": 1, \"data\": \"hello world\", \"prev_hash\": \"" G "\", \"hash\": \"" H1 "\"}", 0,
     "unexpected field 'Index'", NULL},
    {"duplicate key, same value",
     "{\"index\": 1, \"index\": 1, \"data\": \"hello world\", \"prev_hash\": \"" G
     "\", \"hash\": \"" H1 "\"}",
     0, "duplicate", NULL},
    {"duplicate key, other value",
     "{\"index\": 1, \"data\": \"hello world\", \"data\": \"x\", \"prev_hash\": \"" G
     "\", \"hash\": \"" H1 "\"}",
     0, "duplicate", NULL},

    /* index */
    {"index as string", B1_WITH_INDEX("\"1\""), 0, ERR_INDEX, NULL},
    {"index true", B1_WITH_INDEX("true"), 0, ERR_INDEX, NULL},
    {"index null", B1_WITH_INDEX("null"), 0, ERR_INDEX, NULL},
    {"index array", B1_WITH_INDEX("[1]"), 0, ERR_INDEX, NULL},
    {"index object", B1_WITH_INDEX("{}"), 0, ERR_INDEX, NULL},
    {"index negative", B1_WITH_INDEX("-1"), 0, ERR_INDEX, NULL},
    {"index fractional 1.5", B1_WITH_INDEX("1.5"), 0, ERR_INDEX, NULL},
    {"index 1.0", B1_WITH_INDEX("1.0"), 0, ERR_INDEX, NULL},
    {"index 1e0", B1_WITH_INDEX("1e0"), 0, ERR_INDEX, NULL},
    {"index 2^53", B1_WITH_INDEX("9007199254740992"), 0, ERR_INDEX, NULL},
    {"index 2^63-1", B1_WITH_INDEX("9223372036854775807"), 0, ERR_INDEX, NULL},
    {"index 1e30", B1_WITH_INDEX("1e30"), 0, ERR_INDEX, NULL},
    /* past int64: jansson refuses the number itself ("too big integer") */
    {"index 99999999999999999999", B1_WITH_INDEX("99999999999999999999"), 0, "integer", NULL},
    {"index -99999999999999999999", B1_WITH_INDEX("-99999999999999999999"), 0, "integer", NULL},

    /* prev_hash */
    {"prev_hash uppercase", BLOCK_TEXT("1", Q("hello world"), Q(G_UPPER), Q(H1)), 0, ERR_PREV,
     NULL},
    {"prev_hash 63 chars", BLOCK_TEXT("1", Q("hello world"), Q(G_63), Q(H1)), 0, ERR_PREV, NULL},
    {"prev_hash 65 chars", BLOCK_TEXT("1", Q("hello world"), Q(G_65), Q(H1)), 0, ERR_PREV, NULL},
    {"prev_hash not hex", BLOCK_TEXT("1", Q("hello world"), Q(G_NONHEX), Q(H1)), 0, ERR_PREV, NULL},
    {"prev_hash empty", BLOCK_TEXT("1", Q("hello world"), Q(""), Q(H1)), 0, ERR_PREV, NULL},
    {"prev_hash with \\u0000", BLOCK_TEXT("1", Q("hello world"), Q(G_63 "\\u0000"), Q(H1)), 0,
     ERR_PREV, NULL},
    {"prev_hash null after genesis", BLOCK_TEXT("1", Q("hello world"), "null", Q(H1)), 0, ERR_PREV,
     NULL},
    {"prev_hash number", BLOCK_TEXT("1", Q("hello world"), "0", Q(H1)), 0, ERR_PREV, NULL},
    {"prev_hash array", BLOCK_TEXT("1", Q("hello world"), "[]", Q(H1)), 0, ERR_PREV, NULL},

    /* hash */
    {"hash uppercase", BLOCK_TEXT("1", Q("hello world"), Q(G), Q(G_UPPER)), 0, ERR_HASH, NULL},
    {"hash 63 chars", BLOCK_TEXT("1", Q("hello world"), Q(G), Q(G_63)), 0, ERR_HASH, NULL},
    {"hash 65 chars", BLOCK_TEXT("1", Q("hello world"), Q(G), Q(G_65)), 0, ERR_HASH, NULL},
    {"hash not hex", BLOCK_TEXT("1", Q("hello world"), Q(G), Q(G_NONHEX)), 0, ERR_HASH, NULL},
    {"hash null", BLOCK_TEXT("1", Q("hello world"), Q(G), "null"), 0, ERR_HASH, NULL},
    {"hash number", BLOCK_TEXT("1", Q("hello world"), Q(G), "1"), 0, ERR_HASH, NULL},
    {"hash object", BLOCK_TEXT("1", Q("hello world"), Q(G), "{}"), 0, ERR_HASH, NULL},
    {"genesis hash null", BLOCK_TEXT("0", "null", "null", "null"), 0, ERR_HASH, NULL},

    /* hash does not verify */
    {"hash last digit changed",
     BLOCK_TEXT("1", Q("hello world"), Q(G),
                Q("c5b34da1295ca493a86ef64217ee58fbcd692adabab7f586762aad1693d2ad8b")),
     0, ERR_VERIFY, NULL},
    {"hash of another block", BLOCK_TEXT("1", Q("hello world"), Q(G), Q(H2)), 0, ERR_VERIFY, NULL},
    {"data changed", BLOCK_TEXT("1", Q("hello world!"), Q(G), Q(H1)), 0, ERR_VERIFY, NULL},
    {"index changed", BLOCK_TEXT("2", Q("hello world"), Q(G), Q(H1)), 0, ERR_VERIFY, NULL},
    {"prev_hash changed", BLOCK_TEXT("1", Q("hello world"), Q(H2), Q(H1)), 0, ERR_VERIFY, NULL},
    {"NUL dropped from data", BLOCK_TEXT("1", Q("ab"), Q(G), Q(H_NUL)), 0, ERR_VERIFY, NULL},
    {"largest index with another hash", BLOCK_TEXT("9007199254740991", Q("x"), Q(G), Q(H1)), 0,
     ERR_VERIFY, NULL},

    /* data */
    {"data number", BLOCK_TEXT("1", "5", Q(G), Q(H1)), 0, ERR_DATA, NULL},
    {"data null after genesis", BLOCK_TEXT("1", "null", Q(G), Q(H1)), 0, ERR_DATA, NULL},
    {"data object", BLOCK_TEXT("1", "{\"a\": 1}", Q(G), Q(H1)), 0, ERR_DATA, NULL},
    {"data array", BLOCK_TEXT("1", "[\"hello world\"]", Q(G), Q(H1)), 0, ERR_DATA, NULL},
    {"data true", BLOCK_TEXT("1", "true", Q(G), Q(H1)), 0, ERR_DATA, NULL},

    /* index 0 is the genesis block and nothing else */
    {"index 0 with data", BLOCK_TEXT("0", Q("x"), "null", Q(G)), 0, ERR_GENESIS, NULL},
    {"index 0 with empty data", BLOCK_TEXT("0", Q(""), "null", Q(G)), 0, ERR_GENESIS, NULL},
    {"index 0 with data \"None\"", BLOCK_TEXT("0", Q("None"), "null", Q(G)), 0, ERR_GENESIS, NULL},
    {"index 0 with a prev_hash", BLOCK_TEXT("0", "null", Q(G), Q(G)), 0, ERR_GENESIS, NULL},
    {"index 0 with another hash", BLOCK_TEXT("0", "null", "null", Q(H1)), 0, ERR_GENESIS, NULL},
    {"index 0 with its own correct hash",
     BLOCK_TEXT("0", Q(""), "null",
                Q("3da2cca61846a285ee7e014a0b2affce3ba44efd20569e9e1e773e5e81d9bdfe")),
     0, ERR_GENESIS, NULL},
    {"index 0 with a bad prev_hash", BLOCK_TEXT("0", "null", Q(G_UPPER), Q(G)), 0, ERR_PREV, NULL},
};

START_TEST(test_parse)
{
    const char *text = parse_rows[_i].text;
    size_t len = parse_rows[_i].len ? parse_rows[_i].len : strlen(text);
    char err[ERR_SZ] = "";
    struct block b;

    /* an exact-size copy, so reading past len is caught by the sanitizers */
    char *copy = xmalloc(len ? len : 1);
    memcpy(copy, text, len);
    int rc = block_parse(copy, len, &b, err, sizeof(err));
    free(copy);
    if (parse_rows[_i].err == NULL) {
        ck_assert_msg(rc == 0, "%s: rejected: %s", parse_rows[_i].name, err);
        assert_encodes_to(&b, parse_rows[_i].canon);
    } else {
        ck_assert_msg(rc < 0, "%s: accepted", parse_rows[_i].name);
        ck_assert_msg(strstr(err, parse_rows[_i].err) != NULL, "%s: error '%s' lacks '%s'",
                      parse_rows[_i].name, err, parse_rows[_i].err);
        ck_assert_ptr_null(b.data);
    }
    block_clear(&b);
}
END_TEST

/* block_from_json() on a decoded value agrees with block_parse() on its text. */
START_TEST(test_from_json_agrees)
{
    const char *text = parse_rows[_i].text;
    size_t len = parse_rows[_i].len ? parse_rows[_i].len : strlen(text);
    char err[ERR_SZ] = "", perr[ERR_SZ] = "";
    struct block b, pb;
    json_error_t jerr;

    json_t *v =
        json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (v == NULL)
        return; /* not JSON: only block_parse() sees it */
    int rc = block_from_json(v, &b, err, sizeof(err));
    int prc = block_parse(text, len, &pb, perr, sizeof(perr));
    ck_assert_int_eq(rc, prc);
    if (parse_rows[_i].err == NULL) {
        ck_assert_msg(rc == 0, "%s: %s", parse_rows[_i].name, err);
        assert_encodes_to(&b, parse_rows[_i].canon);
    } else {
        ck_assert_msg(strstr(err, parse_rows[_i].err) != NULL, "%s: error '%s' lacks '%s'",
                      parse_rows[_i].name, err, parse_rows[_i].err);
    }
    block_clear(&b);
    block_clear(&pb);
    json_decref(v);
}
END_TEST

/* block_match_encoded() takes a block only when block_parse() does and the text is exactly what
 * block_encode() writes for it (json.dumps); every other row is left to block_parse(). */
START_TEST(test_match_encoded)
{
    const char *text = parse_rows[_i].text;
    size_t len = parse_rows[_i].len ? parse_rows[_i].len : strlen(text);
    bool canonical = parse_rows[_i].err == NULL && strlen(parse_rows[_i].canon) == len &&
                     memcmp(parse_rows[_i].canon, text, len) == 0;
    char prev[BLOCK_HASH_HEX + 1], hash[BLOCK_HASH_HEX + 1], err[ERR_SZ] = "";
    struct buf scratch = BUF_INIT;
    struct block b;
    uint64_t index = 0;

    /* the index the row's own block claims (0 when it has none): the matcher is asked for it */
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (json_is_integer(json_object_get(v, "index")) &&
        json_integer_value(json_object_get(v, "index")) > 0)
        index = (uint64_t)json_integer_value(json_object_get(v, "index"));
    json_decref(v);

    char *copy = xmalloc(len ? len : 1); /* exact size: a read past len is caught */
    memcpy(copy, text, len);
    size_t n = block_match_encoded(copy, len, index, NULL, prev, hash, &scratch);
    ck_assert_msg(canonical ? n == len : n == 0, "%s: matched %zu of %zu bytes",
                  parse_rows[_i].name, n, len);
    if (canonical) {
        ck_assert_int_eq(block_parse(text, len, &b, err, sizeof(err)), 0);
        ck_assert_str_eq(hash, b.hash);
        ck_assert_str_eq(prev, b.has_prev ? b.prev_hash : "");
        /* asked for another index, or for another prev_hash: not this block */
        ck_assert_uint_eq(block_match_encoded(copy, len, index + 1, NULL, prev, hash, &scratch), 0);
        if (index > 0)
            ck_assert_uint_eq(block_match_encoded(copy, len, index, H2, prev, hash, &scratch), 0);
        /* cut anywhere: no block */
        for (size_t cut = 0; cut < len; cut++)
            ck_assert_uint_eq(block_match_encoded(copy, cut, index, NULL, prev, hash, &scratch), 0);
        block_clear(&b);
    }
    free(copy);
    buf_free(&scratch);
}
END_TEST

/* A block followed by more text: its own length; the prev_hash asked for is checked. */
START_TEST(test_match_encoded_in_text)
{
    static const char text[] = B1 ", " B1;
    char prev[BLOCK_HASH_HEX + 1], hash[BLOCK_HASH_HEX + 1];
    struct buf scratch = BUF_INIT;

    ck_assert_uint_eq(block_match_encoded(text, strlen(text), 1, G, prev, hash, &scratch),
                      strlen(B1));
    ck_assert_str_eq(prev, G);
    ck_assert_str_eq(hash, H1);
    ck_assert_uint_eq(block_match_encoded(text, strlen(text), 1, H1, prev, hash, &scratch), 0);
    /* genesis only at index 0 and never with a prev_hash asked for */
    ck_assert_uint_eq(
        block_match_encoded(GENESIS_TEXT, strlen(GENESIS_TEXT), 0, NULL, prev, hash, &scratch),
        strlen(GENESIS_TEXT));
    ck_assert_str_eq(prev, "");
    ck_assert_str_eq(hash, G);
    ck_assert_uint_eq(
        block_match_encoded(GENESIS_TEXT, strlen(GENESIS_TEXT), 0, G, prev, hash, &scratch), 0);
    buf_free(&scratch);
}
END_TEST

static json_t *make_true(void)
{
    return json_true();
}

static json_t *make_real(void)
{
    return json_real(1.5);
}

static json_t *make_array(void)
{
    return json_array();
}

static json_t *make_string(void)
{
    return json_string("block");
}

/* Values built in memory rather than parsed (the path the sync code takes). */
static const struct {
    const char *name;
    json_t *(*make_cb)(void);
} value_rows[] = {
    {"true", make_true},
    {"real", make_real},
    {"array", make_array},
    {"string", make_string},
};

START_TEST(test_from_json_non_object)
{
    char err[ERR_SZ] = "";
    struct block b;
    json_t *v = value_rows[_i].make_cb();

    ck_assert_int_eq(block_from_json(v, &b, err, sizeof(err)), -1);
    ck_assert_str_eq(err, ERR_OBJECT);
    ck_assert_int_eq(block_from_json(NULL, &b, err, sizeof(err)), -1);
    ck_assert_str_eq(err, ERR_OBJECT);
    json_decref(v);
}
END_TEST

START_TEST(test_parse_nul_data)
{
    static const char text[] = BLOCK_TEXT("1", Q("a\\u0000b"), Q(G), Q(H_NUL));
    struct block b;
    char err[ERR_SZ] = "";

    ck_assert_msg(block_parse(text, strlen(text), &b, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_eq(b.index, 1);
    ck_assert_uint_eq(b.data_len, 3);
    ck_assert_mem_eq(b.data, "a\0b", 4);
    ck_assert(b.has_prev);
    ck_assert_str_eq(b.prev_hash, G);
    ck_assert_str_eq(b.hash, H_NUL);
    block_clear(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.data_len, 0);
}
END_TEST

/* Only len bytes are read: a valid block followed by bytes outside len. */
START_TEST(test_parse_reads_only_len)
{
    static const char text[] = B1 "garbage";
    struct block b;
    char err[ERR_SZ] = "";

    ck_assert_msg(block_parse(text, strlen(B1), &b, err, sizeof(err)) == 0, "%s", err);
    block_clear(&b);
    ck_assert_int_eq(block_parse(text, strlen(text), &b, err, sizeof(err)), -1);
    ck_assert_int_eq(block_parse(text, strlen(B1) - 1, &b, err, sizeof(err)), -1);
}
END_TEST

static const struct {
    const char *name;
    const char *text;
    size_t errsz;
} errbuf_rows[] = {
    {"no buffer, JSON error", "{", 0},
    {"no buffer, validation error", "{}", 0},
    {"no buffer, verify error", BLOCK_TEXT("1", Q("x"), Q(G), Q(H1)), 0},
    {"one byte, JSON error", "{", 1},
    {"one byte, field error", BLOCK_TEXT("1", Q("x"), Q(G), "null"), 1},
    {"short, JSON error", "{", 8},
    {"short, extra field", "{\"" X100 "\": 1}", 8},
    {"short, verify error", BLOCK_TEXT("1", Q("x"), Q(G), Q(H1)), 8},
};

/* A small or absent error buffer is never overrun and stays NUL-terminated. */
START_TEST(test_error_buffer)
{
    char err[ERR_SZ];
    struct block b;

    memset(err, '#', sizeof(err));
    size_t errsz = errbuf_rows[_i].errsz;
    int rc = block_parse(errbuf_rows[_i].text, strlen(errbuf_rows[_i].text), &b, errsz ? err : NULL,
                         errsz);
    ck_assert_int_eq(rc, -1);
    if (errsz > 0)
        ck_assert_uint_eq(strlen(err), errsz - 1);
    for (size_t k = errsz; k < sizeof(err); k++)
        ck_assert_int_eq(err[k], '#');
    block_clear(&b);
}
END_TEST

START_TEST(test_clear)
{
    struct block b;

    block_clear(NULL);
    block_make_next(41, G, "data", 4, &b);
    ck_assert_uint_eq(b.index, 42);
    block_clear(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.index, 0);
    block_clear(&b); /* twice is harmless */
}
END_TEST

struct label_row {
    const char *json;
    const char *label;
};

static const struct label_row label_rows[] = {
    {"{\"index\": 0, \"data\": null, \"prev_hash\": null, \"hash\": \"" G "\"}", "0 6b6124d09063"},
    {"{\"index\": 12345, \"data\": \"x\", \"prev_hash\": \"" G "\", \"hash\": \"" G "\"}",
     "12345 6b6124d09063"},
    {"{\"index\": -1, \"hash\": \"" G "\"}", "?"}, /* no index */
    {"{\"index\":1,\"hash\":\"" G "\"}", "?"},     /* not our encoding */
    {"{\"index\": 1, \"hash\": \"" G "\"", "?"},   /* cut */
    {"{\"index\": 1, \"data\": \"", "?"},          /* too short */
    {"{\"index\": 1, \"hash\": "
     "\"6B6124d09063c27d7bd62c714759c465c55f5c93c826a3b1cce5f046c0fd463c\"}",
     "?"}, /* not lowercase hex */
    {"", "?"},
};

START_TEST(test_label)
{
    const struct label_row *row = &label_rows[_i];
    char out[BLOCK_LABEL_SIZE];
    ck_assert_str_eq(block_label(row->json, strlen(row->json), out), row->label);
}
END_TEST

static Suite *block_suite(void)
{
    Suite *s = suite_create("block");
    TCase *tc = tcase_create("hash");

    tcase_add_loop_test(tc, test_hash_compute, 0, ARRAY_LEN(hash_rows));
    tcase_add_loop_test(tc, test_hash_is_hex, 0, ARRAY_LEN(hex_rows));
    tcase_add_test(tc, test_genesis);
    suite_add_tcase(s, tc);

    tc = tcase_create("vectors");
    tcase_add_test(tc, test_vector_count);
    tcase_add_loop_test(tc, test_vector_block, 0, ARRAY_LEN(vector_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("encode");
    tcase_add_loop_test(tc, test_encode, 0, ARRAY_LEN(encode_rows));
    tcase_add_test(tc, test_encode_appends);
    tcase_add_loop_test(tc, test_label, 0, ARRAY_LEN(label_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("validate");
    tcase_add_loop_test(tc, test_parse, 0, ARRAY_LEN(parse_rows));
    tcase_add_loop_test(tc, test_from_json_agrees, 0, ARRAY_LEN(parse_rows));
    tcase_add_loop_test(tc, test_match_encoded, 0, ARRAY_LEN(parse_rows));
    tcase_add_test(tc, test_match_encoded_in_text);
    tcase_add_loop_test(tc, test_from_json_non_object, 0, ARRAY_LEN(value_rows));
    tcase_add_test(tc, test_parse_nul_data);
    tcase_add_test(tc, test_parse_reads_only_len);
    tcase_add_loop_test(tc, test_error_buffer, 0, ARRAY_LEN(errbuf_rows));
    tcase_add_test(tc, test_clear);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(block_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
