/* Unit tests for node/chain.c: appends, offers, adoption, validation, segments and the served
 * JSON.
 *
 * The expected JSON is json.dumps output of /usr/bin/python3 (the original node's encoder);
 * json.dumps(chain) is exactly "[" + ", ".join(json.dumps(b) for b in chain) + "]". */
#include <check.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "buf.h"
#include "chain.h"
#include "vectors.h"
#include "xalloc.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ERR_SZ       256

/* The hashes of shared/vectors/seed-chain.json, block by block. */
#define H0  BLOCK_GENESIS_HASH
#define H1  "c5b34da1295ca493a86ef64217ee58fbcd692adabab7f586762aad1693d2ad8a"
#define H2  "1cebe68f13b54fdb86732f8ddd2c83e32e2b9261e8d81392862b21bc5d4c9d05"
#define H3  "6c18d800831000ae72be4b9bd1173a4dc99e9beeb5218cf95f8d1ab34f329791"
#define H4  "5ca8de479191c37ca56de834d53f66540c9b89780b8319fcd2c9836f433401c5"
#define H5  "f9aaf9ab033d2a5471bb45e0e9c35b079239711a22dc94b185ff2bd8046c77e3"
#define H6  "16211c7f21940f0a5d93e9ed1a7ffd8918da6b66de5866425d7adf2d59beab49"
#define H7  "6c88b917491d4cfa8d78bfbc345e7cb049622f8033fc490d7c9a16b149b64e1c"
#define H8  "61483ca809ff3ce9452ad9630c58086ec0ad72ba72981f67804bd652f758b1a9"
#define H9  "31b4098f9fea878bd388324ae882d2b6f4cf1b0d06e4e4ea662e8e76aecbe819"
#define H10 "7a7fdc6f9cd436fda183afad8807226114e13864b0623964cedb332bee0b5fb3"

#define X10   "xxxxxxxxxx"
#define X100  X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define X1000 X100 X100 X100 X100 X100 X100 X100 X100 X100 X100

/* json.dumps(block) of every vector block. */
#define V0 "{\"index\": 0, \"data\": null, \"prev_hash\": null, \"hash\": \"" H0 "\"}"
#define V1                                                                                         \
    "{\"index\": 1, \"data\": \"hello world\", \"prev_hash\": \"" H0 "\", \"hash\": \"" H1 "\"}"
#define V2 "{\"index\": 2, \"data\": \"\", \"prev_hash\": \"" H1 "\", \"hash\": \"" H2 "\"}"
#define V3                                                                                         \
    "{\"index\": 3, \"data\": \"caf\\u00e9 \\u2603 \\ud83d\\ude00\", \"prev_hash\": \"" H2         \
    "\", \"hash\": \"" H3 "\"}"
#define V4                                                                                         \
    "{\"index\": 4, \"data\": \"line1\\nline2\\ttab\", \"prev_hash\": \"" H3 "\", \"hash\": \"" H4 \
    "\"}"
#define V5                                                                                         \
    "{\"index\": 5, \"data\": \"{\\\"json\\\": [1,2,3]}\", \"prev_hash\": \"" H4                   \
    "\", \"hash\": \"" H5 "\"}"
#define V6                                                                                         \
    "{\"index\": 6, \"data\": \"quote \\\" backslash \\\\ slash /\", \"prev_hash\": \"" H5         \
    "\", \"hash\": \"" H6 "\"}"
#define V7 "{\"index\": 7, \"data\": \"None\", \"prev_hash\": \"" H6 "\", \"hash\": \"" H7 "\"}"
#define V8                                                                                         \
    "{\"index\": 8, \"data\": \"" X1000 "\", \"prev_hash\": \"" H7 "\", \"hash\": \"" H8 "\"}"
#define V9  "{\"index\": 9, \"data\": \"12\", \"prev_hash\": \"" H8 "\", \"hash\": \"" H9 "\"}"
#define V10 "{\"index\": 10, \"data\": \"3abc\", \"prev_hash\": \"" H9 "\", \"hash\": \"" H10 "\"}"

/* json.dumps(chain) of the whole vector chain. */
#define CHAIN_JSON                                                                                 \
    "[" V0 ", " V1 ", " V2 ", " V3 ", " V4 ", " V5 ", " V6 ", " V7 ", " V8 ", " V9 ", " V10 "]"

static const struct {
    const char *data; /* NULL in genesis */
    size_t len;
    const char *hash;
    const char *json;
} vector_rows[] = {
    {NULL, 0, H0, V0},
    {"hello world", 11, H1, V1},
    {"", 0, H2, V2},
    {"caf\303\251 \342\230\203 \360\237\230\200", 14, H3, V3},
    {"line1\nline2\ttab", 15, H4, V4},
    {"{\"json\": [1,2,3]}", 17, H5, V5},
    {"quote \" backslash \\ slash /", 27, H6, V6},
    {"None", 4, H7, V7},
    {X1000, 1000, H8, V8},
    {"12", 2, H9, V9},
    {"3abc", 4, H10, V10},
};

#define VECTOR_TIP (ARRAY_LEN(vector_rows) - 1)

/* The "chain" array of the vectors file (new reference); fails the test when unreadable. */
static json_t *vectors_chain(void)
{
    json_t *root = vectors_load();
    json_t *chain = json_incref(json_object_get(root, "chain"));
    json_decref(root);
    ck_assert_msg(json_is_array(chain), "the vectors file has no \"chain\" array");
    return chain;
}

/* The vector chain up to index height, built by appending its data. */
static struct chain *vector_prefix(size_t height)
{
    struct chain *c = chain_new();
    for (size_t i = 1; i <= height; i++)
        chain_append_data(c, vector_rows[i].data, vector_rows[i].len, NULL);
    return c;
}

/* A chain of height blocks after genesis carrying "<tag>1", "<tag>2", ... */
static struct chain *tagged_chain(size_t height, const char *tag)
{
    struct chain *c = chain_new();
    char data[64];
    for (size_t i = 1; i <= height; i++) {
        int n = snprintf(data, sizeof(data), "%s%zu", tag, i);
        chain_append_data(c, data, (size_t)n, NULL);
    }
    return c;
}

/* The whole chain as served by GET /blocks. Caller frees. */
static char *chain_text(struct chain *c)
{
    struct buf out = BUF_INIT;
    chain_write_json(c, 0, UINT64_MAX, &out);
    return buf_steal(&out, NULL);
}

/* "[" + the vector blocks [first, first+count) joined by ", " + "]", as json.dumps(list). */
static char *vector_slice(size_t first, size_t count)
{
    struct buf out = BUF_INIT;
    buf_append_char(&out, '[');
    for (size_t i = first; i < first + count; i++) {
        if (i > first)
            buf_append_str(&out, ", ");
        buf_append_str(&out, vector_rows[i].json);
    }
    buf_append_char(&out, ']');
    return buf_steal(&out, NULL);
}

/* Every view of c agrees: tip index and hash, the tip's JSON, the full JSON and its size. */
static void assert_consistent(struct chain *c)
{
    char hash[BLOCK_HASH_HEX + 1], err[ERR_SZ] = "";
    struct buf tip = BUF_INIT;
    struct block b;
    uint64_t height = chain_tip(c, hash);

    ck_assert_uint_eq(chain_tip(c, NULL), height);
    chain_write_tip(c, &tip);
    ck_assert_msg(block_parse(tip.data, tip.len, &b, err, sizeof(err)) == 0, "tip: %s", err);
    ck_assert_uint_eq(b.index, height);
    ck_assert_str_eq(b.hash, hash);
    block_clear(&b);

    char *text = chain_text(c);
    ck_assert_uint_eq(chain_json_size(c), strlen(text));
    struct chain *again = chain_parse(text, strlen(text), err, sizeof(err));
    ck_assert_msg(again != NULL, "the served chain does not validate: %s", err);
    char *text2 = chain_text(again);
    ck_assert_str_eq(text2, text);
    free(text2);
    chain_free(again);

    /* the last block of the served array is the tip */
    size_t tl = tip.len, n = strlen(text);
    ck_assert_uint_ge(n, tl + 1);
    ck_assert_mem_eq(text + n - 1 - tl, tip.data, tl);
    free(text);
    buf_free(&tip);
}

/* ---- a new chain, appends ------------------------------------------------------------------- */

START_TEST(test_new_is_genesis)
{
    struct chain *c = chain_new();
    char hash[BLOCK_HASH_HEX + 1];
    struct buf tip = BUF_INIT;

    ck_assert_uint_eq(chain_tip(c, hash), 0);
    ck_assert_str_eq(hash, H0);
    chain_write_tip(c, &tip);
    ck_assert_str_eq(tip.data, V0);
    char *text = chain_text(c);
    ck_assert_str_eq(text, "[" V0 "]");
    ck_assert_uint_eq(chain_json_size(c), strlen("[" V0 "]"));
    free(text);
    buf_free(&tip);
    assert_consistent(c);
    chain_free(c);
    chain_free(NULL);
}
END_TEST

/* Appending vector block _i's data to the chain before it makes exactly vector block _i. */
START_TEST(test_append_data)
{
    struct chain *c = vector_prefix(_i - 1);
    struct buf json = BUF_INIT;
    char hash[BLOCK_HASH_HEX + 1];

    buf_append_str(&json, "kept:");
    chain_append_data(c, vector_rows[_i].data, vector_rows[_i].len, &json);
    ck_assert_mem_eq(json.data, "kept:", 5);
    ck_assert_str_eq(json.data + 5, vector_rows[_i].json);
    ck_assert_uint_eq(chain_tip(c, hash), _i);
    ck_assert_str_eq(hash, vector_rows[_i].hash);
    char *text = chain_text(c);
    char *want = vector_slice(0, _i + 1);
    ck_assert_str_eq(text, want);
    free(want);
    free(text);
    buf_free(&json);
    chain_free(c);
}
END_TEST

START_TEST(test_append_rebuilds_vectors)
{
    struct chain *c = vector_prefix(VECTOR_TIP);
    char *text = chain_text(c);

    ck_assert_str_eq(text, CHAIN_JSON);
    ck_assert_uint_eq(chain_json_size(c), strlen(CHAIN_JSON));
    assert_consistent(c);
    free(text);
    chain_free(c);
}
END_TEST

START_TEST(test_append_nul_data)
{
    struct chain *c = chain_new();
    struct buf json = BUF_INIT;

    chain_append_data(c, "a\0b", 3, &json);
    ck_assert_str_eq(
        json.data,
        "{\"index\": 1, \"data\": \"a\\u0000b\", \"prev_hash\": \"" H0
        "\", \"hash\": \"ec5f6a6b9355888d72c5c3b5a38ebdb404da37f1acca1d65e323d87ce707fa00\"}");
    chain_append_data(c, "", 0, NULL); /* block_json may be NULL */
    ck_assert_uint_eq(chain_tip(c, NULL), 2);
    assert_consistent(c);
    buf_free(&json);
    chain_free(c);
}
END_TEST

/* Many appends: the offset table and the text grow past their first allocations. */
START_TEST(test_append_many)
{
    struct chain *c = tagged_chain(1000, "block ");
    struct buf slice = BUF_INIT;

    ck_assert_uint_eq(chain_tip(c, NULL), 1000);
    chain_write_json(c, 500, 1, &slice);
    ck_assert_msg(strstr(slice.data, "\"index\": 500, \"data\": \"block 500\"") != NULL, "%s",
                  slice.data);
    assert_consistent(c);
    buf_free(&slice);
    chain_free(c);
}
END_TEST

#define APPENDERS    4   /* threads appending at once */
#define APPENDS_EACH 500 /* blocks each */

struct appender {
    struct chain *c;
    int id;
    struct buf answers; /* every answer's JSON, one a line */
    int failed;         /* appends that returned an error (checked on the main thread) */
};

static void *appender_main(void *arg)
{
    struct appender *a = arg;
    char data[32];
    for (int i = 0; i < APPENDS_EACH; i++) {
        int n = snprintf(data, sizeof(data), "t%d-%d", a->id, i);
        if (chain_append_data(a->c, data, (size_t)n, &a->answers) < 0)
            a->failed++;
        buf_append_char(&a->answers, '\n');
    }
    return NULL;
}

/* Threads appending at once (the HTTP threads): every append lands once, in a valid chain, and
 * each answer is exactly the block the chain serves at its index. */
START_TEST(test_append_concurrent)
{
    struct chain *c = chain_new();
    struct appender a[APPENDERS];
    pthread_t tid[APPENDERS];
    char err[ERR_SZ] = "";

    for (int t = 0; t < APPENDERS; t++) {
        a[t] = (struct appender){.c = c, .id = t};
        ck_assert_int_eq(pthread_create(&tid[t], NULL, appender_main, &a[t]), 0);
    }
    for (int t = 0; t < APPENDERS; t++) {
        pthread_join(tid[t], NULL);
        ck_assert_int_eq(a[t].failed, 0);
    }
    ck_assert_uint_eq(chain_tip(c, NULL), APPENDERS * APPENDS_EACH);
    assert_consistent(c);
    for (int t = 0; t < APPENDERS; t++) {
        char *line = a[t].answers.data, *end;
        for (int i = 0; i < APPENDS_EACH; i++, line = end + 1) {
            struct block b;
            struct buf served = BUF_INIT;
            end = strchr(line, '\n');
            ck_assert_ptr_nonnull(end);
            ck_assert_msg(block_parse(line, (size_t)(end - line), &b, err, sizeof(err)) == 0, "%s",
                          err);
            chain_write_json(c, b.index, 1, &served);
            ck_assert_uint_eq(served.len, (size_t)(end - line) + 2);
            ck_assert_mem_eq(served.data + 1, line, (size_t)(end - line));
            block_clear(&b);
            buf_free(&served);
        }
        buf_free(&a[t].answers);
    }
    chain_free(c);
}
END_TEST

/* ---- validation: the vectors, and chains that are not valid --------------------------------- */

START_TEST(test_vectors_validate)
{
    json_t *array = vectors_chain();
    char err[ERR_SZ] = "", hash[BLOCK_HASH_HEX + 1];
    struct chain *c = chain_from_json(array, err, sizeof(err));

    ck_assert_msg(c != NULL, "%s", err);
    char *text = chain_text(c);
    ck_assert_str_eq(text, CHAIN_JSON);
    ck_assert_uint_eq(chain_tip(c, hash), VECTOR_TIP);
    ck_assert_str_eq(hash, H10);
    assert_consistent(c);
    free(text);
    chain_free(c);

    /* and json.dumps' own bytes parse back to the same chain */
    c = chain_parse(CHAIN_JSON, strlen(CHAIN_JSON), err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    text = chain_text(c);
    ck_assert_str_eq(text, CHAIN_JSON);
    free(text);
    chain_free(c);
    json_decref(array);
}
END_TEST

#define ERR_JSON  "malformed JSON"
#define ERR_ARRAY "a chain must be a JSON array of blocks"
#define ERR_EMPTY "a chain must start with the genesis block; this one is empty"

/* A block with index 0 and data "x" whose own hash is right (sha256("0xNone")). */
#define FAKE_GENESIS                                                                               \
    "{\"index\": 0, \"data\": \"x\", \"prev_hash\": null, \"hash\": "                              \
    "\"0bcf4abd7e7739855c6f6a33b22d9c756bf8e6927f821440c2537579394b2ee6\"}"

static const struct {
    const char *name;
    const char *text;
    const char *err; /* expected substring */
} invalid_text_rows[] = {
    {"empty text", "", ERR_JSON},
    {"open bracket", "[", ERR_JSON},
    {"unterminated array", "[" V0, ERR_JSON},
    {"trailing comma", "[" V0 ",]", ERR_JSON},
    {"two arrays", "[" V0 "][" V0 "]", ERR_JSON},
    {"duplicate key in a block", "[{\"index\": 0, \"index\": 0}]", "duplicate"},
    {"object", "{}", ERR_ARRAY},
    {"a block, not a chain", V0, ERR_ARRAY},
    {"chain wrapped in an object", "{\"chain\": [" V0 "]}", ERR_ARRAY},
    {"string", "\"chain\"", ERR_ARRAY},
    {"number", "7", ERR_ARRAY},
    {"null", "null", ERR_ARRAY},
    {"empty array", "[]", ERR_EMPTY},
    {"number in the array", "[1]", "block 0: a block must be a JSON object"},
    {"null in the array", "[null]", "block 0: a block must be a JSON object"},
    {"nested array", "[[" V0 "]]", "block 0: a block must be a JSON object"},
    {"wrong genesis", "[" FAKE_GENESIS "]",
     "block 0: a block with index 0 must be exactly the genesis block"},
    {"starts at block 1", "[" V1 ", " V2 "]", "block 0: does not chain"},
    {"genesis twice", "[" V0 ", " V0 "]", "block 1: does not chain to block 0 (index 0)"},
    {"block 1 twice", "[" V0 ", " V1 ", " V1 "]", "block 2: does not chain to block 1 (index 1)"},
    {"gap after genesis", "[" V0 ", " V2 "]", "block 1: does not chain to block 0 (index 2)"},
    {"gap after block 1", "[" V0 ", " V1 ", " V3 "]",
     "block 2: does not chain to block 1 (index 3)"},
    {"block missing fields", "[" V0 ", " V1 ", {\"index\": 2}]",
     "block 2: a block needs the fields"},
    {"bad block after a valid one", "[" V0 ", " V1 ", 2]",
     "block 2: a block must be a JSON object"},
};

START_TEST(test_parse_invalid)
{
    const char *text = invalid_text_rows[_i].text;
    size_t len = strlen(text);
    char err[ERR_SZ] = "";

    /* an exact-size copy, so reading past len is caught by the sanitizers */
    char *copy = xmalloc(len ? len : 1);
    memcpy(copy, text, len);
    struct chain *c = chain_parse(copy, len, err, sizeof(err));
    free(copy);
    ck_assert_msg(c == NULL, "%s: accepted", invalid_text_rows[_i].name);
    ck_assert_msg(strstr(err, invalid_text_rows[_i].err) != NULL, "%s: error '%s' lacks '%s'",
                  invalid_text_rows[_i].name, err, invalid_text_rows[_i].err);
}
END_TEST

/* The JSON object of a block (new reference). */
static json_t *block_object(const struct block *b)
{
    struct buf text = BUF_INIT;
    block_encode(b, &text);
    json_t *v = json_loadb(text.data, text.len, JSON_ALLOW_NUL, NULL);
    ck_assert_ptr_nonnull(v);
    buf_free(&text);
    return v;
}

static void flip_last_hex(json_t *obj, const char *key)
{
    char s[BLOCK_HASH_HEX + 1];
    snprintf(s, sizeof(s), "%s", json_string_value(json_object_get(obj, key)));
    s[BLOCK_HASH_HEX - 1] = s[BLOCK_HASH_HEX - 1] == '0' ? '1' : '0';
    json_object_set_new(obj, key, json_string(s));
}

static void bad_hash_deep_cb(json_t *chain)
{
    flip_last_hex(json_array_get(chain, 7), "hash");
}

static void bad_hash_tip_cb(json_t *chain)
{
    flip_last_hex(json_array_get(chain, VECTOR_TIP), "hash");
}

static void data_changed_cb(json_t *chain)
{
    json_object_set_new(json_array_get(chain, 5), "data", json_string("{\"json\": [1,2,4]}"));
}

/* Block 6 re-made (with a hash that verifies) on top of block 4 instead of block 5. */
static void broken_link_cb(json_t *chain)
{
    struct block b;
    block_make_next(5, H4, vector_rows[6].data, vector_rows[6].len, &b);
    json_array_set_new(chain, 6, block_object(&b));
    block_clear(&b);
}

/* The tip re-made on top of genesis. */
static void tip_on_genesis_cb(json_t *chain)
{
    struct block b;
    block_make_next(9, H0, "3abc", 4, &b);
    json_array_set_new(chain, VECTOR_TIP, block_object(&b));
    block_clear(&b);
}

static void gap_cb(json_t *chain)
{
    json_array_remove(chain, 5);
}

static void repeated_cb(json_t *chain)
{
    json_array_insert_new(chain, 5, json_deep_copy(json_array_get(chain, 4)));
}

static void swapped_cb(json_t *chain)
{
    json_t *eight = json_incref(json_array_get(chain, 8));
    json_array_remove(chain, 8);
    json_array_insert_new(chain, 9, eight);
}

static void no_genesis_cb(json_t *chain)
{
    json_array_remove(chain, 0);
}

static void fake_genesis_cb(json_t *chain)
{
    json_object_set_new(json_array_get(chain, 0), "data", json_string("x"));
}

static void extra_field_cb(json_t *chain)
{
    json_object_set_new(json_array_get(chain, 3), "nonce", json_integer(0));
}

static void null_data_cb(json_t *chain)
{
    json_object_set_new(json_array_get(chain, 9), "data", json_null());
}

static void real_index_cb(json_t *chain)
{
    json_object_set_new(json_array_get(chain, 2), "index", json_real(2.0));
}

static void tip_removed_cb(json_t *chain)
{
    json_array_remove(chain, VECTOR_TIP);
}

static void not_array_cb(json_t *chain)
{
    json_array_clear(chain);
}

static const struct {
    const char *name;
    void (*mutate_cb)(json_t *chain);
    const char *err; /* expected substring; NULL when the result is still a valid chain */
} mutation_rows[] = {
    {"bad hash deep inside (block 7)", bad_hash_deep_cb,
     "block 7: hash does not match sha256(index + data + prev_hash)"},
    {"bad hash in the tip", bad_hash_tip_cb, "block 10: hash does not match"},
    {"data changed in block 5", data_changed_cb, "block 5: hash does not match"},
    {"broken prev_hash link (block 6 on block 4)", broken_link_cb,
     "block 6: does not chain to block 5 (index 6)"},
    {"tip on genesis", tip_on_genesis_cb, "block 10: does not chain to block 9 (index 10)"},
    {"index gap (block 5 removed)", gap_cb, "block 5: does not chain to block 4 (index 6)"},
    {"block 4 twice", repeated_cb, "block 5: does not chain to block 4 (index 4)"},
    {"blocks 8 and 9 swapped", swapped_cb, "block 8: does not chain to block 7 (index 9)"},
    {"genesis removed", no_genesis_cb, "block 0: does not chain"},
    {"genesis with data", fake_genesis_cb,
     "block 0: a block with index 0 must be exactly the genesis block"},
    {"extra field in block 3", extra_field_cb, "block 3: unexpected field 'nonce'"},
    {"data null in block 9", null_data_cb, "block 9: data must be a string"},
    {"index 2.0 in block 2", real_index_cb, "block 2: index must be an integer"},
    {"all blocks removed", not_array_cb, ERR_EMPTY},
    {"tip removed: still valid", tip_removed_cb, NULL},
};

/* Each mutation of the vector chain is judged the same by chain_from_json() on the value and by
 * chain_parse() on its text. */
START_TEST(test_mutation)
{
    json_t *array = vectors_chain();
    json_t *copy = json_deep_copy(array);
    char err[ERR_SZ] = "", perr[ERR_SZ] = "";

    mutation_rows[_i].mutate_cb(copy);
    struct chain *c = chain_from_json(copy, err, sizeof(err));
    char *text = json_dumps(copy, JSON_ENCODE_ANY);
    ck_assert_ptr_nonnull(text);
    struct chain *pc = chain_parse(text, strlen(text), perr, sizeof(perr));
    if (mutation_rows[_i].err == NULL) {
        ck_assert_msg(c != NULL, "%s: %s", mutation_rows[_i].name, err);
        ck_assert_msg(pc != NULL, "%s: %s", mutation_rows[_i].name, perr);
        ck_assert_uint_eq(chain_tip(c, NULL), json_array_size(copy) - 1);
        assert_consistent(c);
    } else {
        ck_assert_msg(c == NULL, "%s: accepted", mutation_rows[_i].name);
        ck_assert_msg(pc == NULL, "%s: accepted as text", mutation_rows[_i].name);
        ck_assert_msg(strstr(err, mutation_rows[_i].err) != NULL, "%s: error '%s' lacks '%s'",
                      mutation_rows[_i].name, err, mutation_rows[_i].err);
        ck_assert_str_eq(perr, err);
    }
    chain_free(c);
    chain_free(pc);
    free(text);
    json_decref(copy);
    json_decref(array);
}
END_TEST

/* Formattings of the vector chain other than json.dumps': every one is a valid chain, and the
 * node keeps and serves it as json.dumps writes it (CHAIN_JSON), never as received. */
static const struct {
    const char *name;
    size_t flags; /* json_dumps() flags */
} formatting_rows[] = {
    {"jansson's default (raw UTF-8 in block 3)", 0},
    {"uppercase \\u escapes", JSON_ENSURE_ASCII},
    {"compact", JSON_COMPACT | JSON_ENSURE_ASCII},
    {"indented", JSON_INDENT(2) | JSON_ENSURE_ASCII},
    {"keys sorted", JSON_SORT_KEYS | JSON_ENSURE_ASCII},
};

START_TEST(test_parse_reencodes)
{
    json_t *array = vectors_chain();
    char err[ERR_SZ] = "";
    char *text = json_dumps(array, formatting_rows[_i].flags);

    ck_assert_ptr_nonnull(text);
    ck_assert_str_ne(text, CHAIN_JSON);
    struct chain *c = chain_parse(text, strlen(text), err, sizeof(err));
    ck_assert_msg(c != NULL, "%s: %s", formatting_rows[_i].name, err);
    char *served = chain_text(c);
    ck_assert_str_eq(served, CHAIN_JSON);
    free(served);
    chain_free(c);
    free(text);
    json_decref(array);
}
END_TEST

/* chain_parse_segment_buf(): json.dumps' text is taken as it is (the buffer is left empty);
 * another formatting is decoded and leaves the buffer as it was; an invalid one too. */
START_TEST(test_parse_segment_buf)
{
    json_t *array = vectors_chain();
    char *compact = json_dumps(array, JSON_COMPACT);
    char *slice = vector_slice(3, 4);
    char err[ERR_SZ] = "";
    struct buf text = BUF_INIT;

    buf_append_str(&text, slice);
    struct chain *c = chain_parse_segment_buf(&text, 3, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_ptr_null(text.data);
    ck_assert_uint_eq(text.len, 0);
    struct buf served = BUF_INIT;
    chain_write_json(c, 0, UINT64_MAX, &served);
    ck_assert_str_eq(served.data, slice);
    buf_free(&served);
    chain_free(c);

    buf_append_str(&text, compact);
    c = chain_parse_segment_buf(&text, 0, err, sizeof(err));
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(text.data, compact);
    char *whole = chain_text(c);
    ck_assert_str_eq(whole, CHAIN_JSON);
    free(whole);
    chain_free(c);

    buf_clear(&text);
    buf_append_str(&text, slice);
    ck_assert_ptr_null(chain_parse_segment_buf(&text, 4, err, sizeof(err)));
    ck_assert_str_eq(text.data, slice);

    buf_free(&text);
    free(slice);
    free(compact);
    json_decref(array);
}
END_TEST

START_TEST(test_from_json_not_array)
{
    char err[ERR_SZ] = "";
    json_t *obj = json_object();

    ck_assert_ptr_null(chain_from_json(obj, err, sizeof(err)));
    ck_assert_str_eq(err, ERR_ARRAY);
    ck_assert_ptr_null(chain_from_json(NULL, err, sizeof(err)));
    ck_assert_str_eq(err, ERR_ARRAY);
    json_decref(obj);
}
END_TEST

/* ---- serving: slices, the tip, the size ------------------------------------------------------ */

static const struct {
    uint64_t from, limit;
    size_t first, count; /* the expected vector blocks */
} slice_rows[] = {
    {0, UINT64_MAX, 0, 11},
    {0, 11, 0, 11},
    {0, 12, 0, 11},
    {0, 1, 0, 1},
    {1, 1, 1, 1},
    {3, 4, 3, 4},
    {9, 2, 9, 2},
    {10, 1, 10, 1},
    {10, 100, 10, 1},
    {1, UINT64_MAX, 1, 10},
    {10, UINT64_MAX, 10, 1},
    /* empty: limit 0 anywhere, or from past the end */
    {0, 0, 0, 0},
    {5, 0, 0, 0},
    {10, 0, 0, 0},
    {11, 1, 0, 0},
    {11, 0, 0, 0},
    {12, 5, 0, 0},
    {UINT64_C(1) << 32, 1, 0, 0},
    {UINT64_MAX, 1, 0, 0},
    {UINT64_MAX, UINT64_MAX, 0, 0},
};

START_TEST(test_write_json_slice)
{
    struct chain *c = vector_prefix(VECTOR_TIP);
    struct buf out = BUF_INIT;
    char *want = vector_slice(slice_rows[_i].first, slice_rows[_i].count);

    buf_append_str(&out, "kept");
    chain_write_json(c, slice_rows[_i].from, slice_rows[_i].limit, &out);
    ck_assert_mem_eq(out.data, "kept", 4);
    ck_assert_str_eq(out.data + 4, want);
    ck_assert_uint_eq(out.len, 4 + strlen(want));
    free(want);
    buf_free(&out);
    chain_free(c);
}
END_TEST

START_TEST(test_write_tip)
{
    struct chain *c = chain_new();
    struct buf tip = BUF_INIT;

    for (size_t i = 0; i <= VECTOR_TIP; i++) {
        if (i > 0)
            chain_append_data(c, vector_rows[i].data, vector_rows[i].len, NULL);
        buf_clear(&tip);
        buf_append_str(&tip, "kept");
        chain_write_tip(c, &tip);
        ck_assert_mem_eq(tip.data, "kept", 4);
        ck_assert_str_eq(tip.data + 4, vector_rows[i].json);
        char *want = vector_slice(0, i + 1);
        ck_assert_uint_eq(chain_json_size(c), strlen(want));
        free(want);
    }
    buf_free(&tip);
    chain_free(c);
}
END_TEST

/* ---- chain_offer_block ----------------------------------------------------------------------- */

#define OFFER_BASE 4 /* the offers go to the vector chain up to block 4 */
#define NOT_A_HASH "0000000000000000000000000000000000000000000000000000000000000000"

static const struct {
    const char *name;
    bool genesis;        /* offer block_genesis() itself */
    uint64_t prev_index; /* else offer block_make_next(prev_index, prev_hash, data) */
    const char *prev_hash;
    const char *data;
    enum chain_offer want;
} offer_rows[] = {
    {"genesis", true, 0, NULL, NULL, CHAIN_IGNORED},
    {"block 1 again", false, 0, H0, "hello world", CHAIN_IGNORED},
    {"a fork of block 2", false, 1, H1, "fork", CHAIN_IGNORED},
    {"the tip again", false, 3, H3, "line1\nline2\ttab", CHAIN_IGNORED},
    {"another block at the tip's index", false, 3, H3, "fork", CHAIN_IGNORED},
    {"valid successor (vector block 5)", false, 4, H4, "{\"json\": [1,2,3]}", CHAIN_APPENDED},
    {"valid successor, other data", false, 4, H4, "anything", CHAIN_APPENDED},
    {"valid successor, empty data", false, 4, H4, "", CHAIN_APPENDED},
    {"gap of one (vector block 6)", false, 5, H5, "quote \" backslash \\ slash /",
     CHAIN_NEEDS_SYNC},
    {"far ahead", false, 99, H4, "x", CHAIN_NEEDS_SYNC},
    {"at the largest index", false, BLOCK_INDEX_MAX - 1, H4, "x", CHAIN_NEEDS_SYNC},
    {"one past the tip on block 3", false, 4, H3, "x", CHAIN_NEEDS_SYNC},
    {"one past the tip on genesis", false, 4, H0, "x", CHAIN_NEEDS_SYNC},
    {"one past the tip on a made-up hash", false, 4, NOT_A_HASH, "x", CHAIN_NEEDS_SYNC},
};

START_TEST(test_offer)
{
    struct chain *c = vector_prefix(OFFER_BASE);
    struct buf json = BUF_INIT, want = BUF_INIT;
    struct block made;
    const struct block *b = block_genesis();
    char hash[BLOCK_HASH_HEX + 1];
    char *before = chain_text(c);

    memset(&made, 0, sizeof(made));
    if (!offer_rows[_i].genesis) {
        block_make_next(offer_rows[_i].prev_index, offer_rows[_i].prev_hash, offer_rows[_i].data,
                        strlen(offer_rows[_i].data), &made);
        b = &made;
    }
    enum chain_offer got = chain_offer_block(c, b, &json);
    ck_assert_msg(got == offer_rows[_i].want, "%s: got %d, want %d", offer_rows[_i].name, got,
                  offer_rows[_i].want);
    char *after = chain_text(c);
    if (got == CHAIN_APPENDED) {
        block_encode(b, &want);
        ck_assert_str_eq(json.data, want.data);
        ck_assert_uint_eq(chain_tip(c, hash), OFFER_BASE + 1);
        ck_assert_str_eq(hash, b->hash);
        /* the old text, then ", " and the new block */
        size_t n = strlen(before) - 1;
        ck_assert_mem_eq(after, before, n);
        ck_assert_mem_eq(after + n, ", ", 2);
        ck_assert_mem_eq(after + n + 2, want.data, want.len);
        ck_assert_str_eq(after + n + 2 + want.len, "]");
    } else {
        ck_assert_uint_eq(json.len, 0);
        ck_assert_uint_eq(chain_tip(c, hash), OFFER_BASE);
        ck_assert_str_eq(hash, H4);
        ck_assert_str_eq(after, before);
    }
    assert_consistent(c);
    free(before);
    free(after);
    block_clear(&made);
    buf_free(&want);
    buf_free(&json);
    chain_free(c);
}
END_TEST

/* Offering the vector blocks one by one, in order, rebuilds the vector chain; block_json may be
 * NULL. */
START_TEST(test_offer_in_order)
{
    json_t *array = vectors_chain();
    struct chain *c = chain_new();
    char err[ERR_SZ] = "";

    for (size_t i = 0; i < json_array_size(array); i++) {
        struct block b;
        ck_assert_int_eq(block_from_json(json_array_get(array, i), &b, err, sizeof(err)), 0);
        ck_assert_int_eq(chain_offer_block(c, &b, NULL), i == 0 ? CHAIN_IGNORED : CHAIN_APPENDED);
        /* and a second time it is old news */
        ck_assert_int_eq(chain_offer_block(c, &b, NULL), CHAIN_IGNORED);
        block_clear(&b);
    }
    char *text = chain_text(c);
    ck_assert_str_eq(text, CHAIN_JSON);
    free(text);
    chain_free(c);
    json_decref(array);
}
END_TEST

/* A block one past the tip with no prev_hash at all (it cannot come from block_from_json(), but
 * the contract is "chains exactly"). */
START_TEST(test_offer_without_prev)
{
    struct chain *c = chain_new();
    struct block b = {.index = 1, .data = "x", .data_len = 1, .has_prev = false};

    block_hash_compute(1, "x", 1, NULL, b.hash);
    ck_assert_int_eq(chain_offer_block(c, &b, NULL), CHAIN_NEEDS_SYNC);
    ck_assert_uint_eq(chain_tip(c, NULL), 0);
    chain_free(c);
}
END_TEST

/* ---- chain_adopt_if_longer ------------------------------------------------------------------- */

static const struct {
    const char *name;
    size_t held;
    const char *held_tag;
    size_t cand;
    const char *cand_tag;
    bool replaced;
} adopt_rows[] = {
    {"longer fork replaces", 3, "a", 5, "b", true},
    {"one longer replaces", 3, "a", 4, "b", true},
    {"genesis replaced by one block", 0, "a", 1, "b", true},
    {"longer with the same prefix replaces", 3, "a", 6, "a", true},
    {"equal length fork is kept", 5, "a", 5, "b", false},
    {"equal and identical is kept", 5, "a", 5, "a", false},
    {"genesis against genesis is kept", 0, "a", 0, "b", false},
    {"shorter fork is kept", 5, "a", 2, "b", false},
    {"shorter prefix is kept", 5, "a", 4, "a", false},
    {"genesis only is kept", 3, "a", 0, "b", false},
};

START_TEST(test_adopt)
{
    struct chain *c = tagged_chain(adopt_rows[_i].held, adopt_rows[_i].held_tag);
    struct chain *cand = tagged_chain(adopt_rows[_i].cand, adopt_rows[_i].cand_tag);
    struct buf tip = BUF_INIT, cand_tip = BUF_INIT;
    char *c_before = chain_text(c);
    char *cand_before = chain_text(cand);

    chain_write_tip(cand, &cand_tip);
    bool replaced = chain_adopt_if_longer(c, cand, &tip);
    ck_assert_msg(replaced == adopt_rows[_i].replaced, "%s", adopt_rows[_i].name);
    char *c_after = chain_text(c);
    if (replaced) {
        ck_assert_str_eq(c_after, cand_before);
        ck_assert_str_eq(tip.data, cand_tip.data);
        ck_assert_uint_eq(chain_tip(c, NULL), adopt_rows[_i].cand);
    } else {
        ck_assert_str_eq(c_after, c_before);
        ck_assert_uint_eq(tip.len, 0);
        ck_assert_uint_eq(chain_tip(c, NULL), adopt_rows[_i].held);
        char *cand_after = chain_text(cand);
        ck_assert_str_eq(cand_after, cand_before);
        free(cand_after);
    }
    assert_consistent(c);
    free(c_after);
    free(c_before);
    free(cand_before);
    buf_free(&tip);
    buf_free(&cand_tip);
    chain_free(cand);
    chain_free(c);
}
END_TEST

START_TEST(test_adopt_without_tip_json)
{
    struct chain *c = chain_new();
    struct chain *cand = vector_prefix(VECTOR_TIP);

    ck_assert(chain_adopt_if_longer(c, cand, NULL));
    char *text = chain_text(c);
    ck_assert_str_eq(text, CHAIN_JSON);
    free(text);
    chain_free(cand);
    chain_free(c);
}
END_TEST

/* chain.h: "cand is then emptied". Whatever is left in the candidate must at least be a coherent
 * chain: its tip index and hash agree with its tip's JSON, and a successor of that tip chains. */
START_TEST(test_adopt_leaves_candidate_coherent)
{
    struct chain *c = tagged_chain(2, "a");
    struct chain *cand = tagged_chain(5, "b");
    char hash[BLOCK_HASH_HEX + 1], err[ERR_SZ] = "", tip_err[ERR_SZ] = "";
    char tip_hash[BLOCK_HASH_HEX + 1] = "";
    struct buf tip_json = BUF_INIT;
    struct block b, next;

    /* run everything first and release the chains, so a failure leaks nothing */
    bool replaced = chain_adopt_if_longer(c, cand, NULL);
    uint64_t tip = chain_tip(cand, hash);
    chain_write_tip(cand, &tip_json);
    int tip_rc = block_parse(tip_json.data, tip_json.len, &b, tip_err, sizeof(tip_err));
    uint64_t tip_index = b.index;
    memcpy(tip_hash, b.hash, sizeof(tip_hash));
    block_clear(&b);
    buf_free(&tip_json);

    block_make_next(tip, hash, "next", 4, &next);
    enum chain_offer offered = chain_offer_block(cand, &next, NULL);
    block_clear(&next);
    char *text = chain_text(cand);
    struct chain *check = chain_parse(text, strlen(text), err, sizeof(err));
    bool valid = check != NULL;
    chain_free(check);
    free(text);
    chain_free(cand);
    chain_free(c);

    ck_assert(replaced);
    ck_assert_msg(tip_rc == 0, "the candidate's tip JSON: %s", tip_err);
    ck_assert_uint_eq(tip_index, tip);
    ck_assert_msg(strcmp(tip_hash, hash) == 0,
                  "the candidate's chain_tip() hash %s is not the hash of its tip block %s", hash,
                  tip_hash);
    ck_assert_msg(valid,
                  "offered a successor of its own tip (%s), the candidate now serves an "
                  "invalid chain: %s",
                  offered == CHAIN_APPENDED ? "appended" : "not appended", err);
}
END_TEST

/* ---- segments: chain_parse_segment(), chain_join() ----------------------------------------- */

/* A block 4 carrying "x" that chains to block 2 (its own hash verifies). */
#define X4_ON_H2                                                                                   \
    "{\"index\": 4, \"data\": \"x\", \"prev_hash\": \"" H2 "\", \"hash\": "                        \
    "\"51da9ff4e073562c5d57d0126253fe51c02530038590d82377e3eb8a07eec7d3\"}"
/* A block 4 carrying "x" on block 3: a fork of vector block 4. */
#define X4_HASH "6a0f1855f055a43a76cd538023b34e0274035c681c8c97ec22e083f10dc651c1"
#define X4      "{\"index\": 4, \"data\": \"x\", \"prev_hash\": \"" H3 "\", \"hash\": \"" X4_HASH "\"}"
/* Vector block 4 with the hash of block 5. */
#define V4_BAD_HASH                                                                                \
    "{\"index\": 4, \"data\": \"line1\\nline2\\ttab\", \"prev_hash\": \"" H3 "\", \"hash\": \"" H5 \
    "\"}"

static const struct {
    const char *name;
    size_t first, count; /* the text: vector blocks [first, first+count), */
    const char *text;    /* or this text when not NULL */
    uint64_t from;
    const char *err; /* expected substring; NULL: a valid segment of those vector blocks */
} segment_rows[] = {
    {"whole vector chain from 0", 0, 11, NULL, 0, NULL},
    {"genesis alone from 0", 0, 1, NULL, 0, NULL},
    {"blocks 3 to 6 from 3", 3, 4, NULL, 3, NULL},
    {"the tip alone from 10", 10, 1, NULL, 10, NULL},
    {"blocks 1 to 10 from 1", 1, 10, NULL, 1, NULL},
    /* where the segment starts */
    {"from 3, starts at 4", 4, 2, NULL, 3, "block 3: the blocks from index 3 start with index 4"},
    {"from 4, starts at 3", 3, 2, NULL, 4, "block 4: the blocks from index 4 start with index 3"},
    {"genesis from 1", 0, 2, NULL, 1, "block 1: the blocks from index 1 start with index 0"},
    {"from 0, starts at 1", 1, 2, NULL, 0, "block 0: does not chain to block 0 (index 1)"},
    /* genesis rules */
    {"fake genesis from 0", 0, 0, "[" FAKE_GENESIS "]", 0,
     "block 0: a block with index 0 must be exactly the genesis block"},
    {"fake genesis from 5", 0, 0, "[" FAKE_GENESIS "]", 5,
     "block 5: a block with index 0 must be exactly the genesis block"},
    {"genesis twice from 0", 0, 0, "[" V0 ", " V0 "]", 0,
     "block 1: does not chain to block 0 (index 0)"},
    /* inside the segment */
    {"gap inside", 0, 0, "[" V3 ", " V5 "]", 3, "block 4: does not chain to block 3 (index 5)"},
    {"repeated block inside", 0, 0, "[" V3 ", " V3 "]", 3,
     "block 4: does not chain to block 3 (index 3)"},
    {"broken link inside", 0, 0, "[" V3 ", " X4_ON_H2 "]", 3,
     "block 4: does not chain to block 3 (index 4)"},
    {"bad hash inside", 0, 0, "[" V3 ", " V4_BAD_HASH ", " V5 "]", 3,
     "block 4: hash does not match"},
    {"bad block after good ones", 0, 0, "[" V3 ", " V4 ", 7]", 3,
     "block 5: a block must be a JSON object"},
    {"extra field", 0, 0,
     "[{\"index\": 3, \"data\": \"\", \"prev_hash\": \"" H2 "\", \"hash\": \"" H3 "\", \"x\": 1}]",
     3, "block 3: unexpected field 'x'"},
    /* not a list of blocks */
    {"empty array from 5", 0, 0, "[]", 5, "no blocks from index 5"},
    {"empty array from 0", 0, 0, "[]", 0, ERR_EMPTY},
    {"object from 3", 0, 0, "{}", 3, ERR_ARRAY},
    {"malformed from 3", 0, 0, "[" V3 ",", 3, ERR_JSON},
};

START_TEST(test_parse_segment)
{
    char *text = segment_rows[_i].text
                     ? xstrdup(segment_rows[_i].text)
                     : vector_slice(segment_rows[_i].first, segment_rows[_i].count);
    size_t len = strlen(text);
    char err[ERR_SZ] = "", hash[BLOCK_HASH_HEX + 1];
    struct buf out = BUF_INIT, whole = BUF_INIT;

    /* an exact-size copy, so reading past len is caught by the sanitizers */
    char *copy = xmalloc(len ? len : 1);
    memcpy(copy, text, len);
    struct chain *c = chain_parse_segment(copy, len, segment_rows[_i].from, err, sizeof(err));
    free(copy);
    if (segment_rows[_i].err != NULL) {
        ck_assert_msg(c == NULL, "%s: accepted", segment_rows[_i].name);
        ck_assert_msg(strstr(err, segment_rows[_i].err) != NULL, "%s: error '%s' lacks '%s'",
                      segment_rows[_i].name, err, segment_rows[_i].err);
    } else {
        size_t first = segment_rows[_i].first, last = first + segment_rows[_i].count - 1;
        ck_assert_msg(c != NULL, "%s: %s", segment_rows[_i].name, err);
        ck_assert_uint_eq(chain_tip(c, hash), last);
        ck_assert_str_eq(hash, vector_rows[last].hash);
        /* served by absolute index: all of it, a slice, and nothing outside it */
        chain_write_json(c, 0, UINT64_MAX, &whole);
        ck_assert_str_eq(whole.data, text);
        ck_assert_uint_eq(chain_json_size(c), len);
        chain_write_json(c, last, 1, &out);
        char *want = vector_slice(last, 1);
        ck_assert_str_eq(out.data, want);
        free(want);
        buf_clear(&out);
        chain_write_json(c, last + 1, UINT64_MAX, &out);
        ck_assert_str_eq(out.data, "[]");
        if (first > 0) {
            buf_clear(&out);
            chain_write_json(c, 0, first, &out);
            ck_assert_str_eq(out.data, "[]");
        }
        /* a segment from 0 is a chain: chain_parse() agrees */
        struct chain *again = chain_parse(text, len, err, sizeof(err));
        ck_assert_msg((again != NULL) == (first == 0), "%s: chain_parse() disagrees: %s",
                      segment_rows[_i].name, err);
        chain_free(again);
    }
    buf_free(&out);
    buf_free(&whole);
    chain_free(c);
    free(text);
}
END_TEST

static const struct {
    const char *name;
    const char *a; /* text of the segment joined to, from a_from */
    uint64_t a_from;
    size_t b_first, b_count; /* vector blocks [b_first, b_first+b_count) appended */
    const char *err;         /* expected substring; NULL: joined */
} join_rows[] = {
    {"good join at 4", "[" V0 ", " V1 ", " V2 ", " V3 "]", 0, 4, 7, NULL},
    {"good join of one block", "[" V0 "]", 0, 1, 1, NULL},
    {"good join after the genesis", "[" V0 "]", 0, 1, 10, NULL},
    {"good join of two segments", "[" V2 ", " V3 "]", 2, 4, 3, NULL},
    {"gap: base 5 after block 3", "[" V0 ", " V1 ", " V2 ", " V3 "]", 0, 5, 6,
     "the blocks from index 5 do not follow block 3"},
    {"overlap: base 3 after block 3", "[" V0 ", " V1 ", " V2 ", " V3 "]", 0, 3, 8,
     "the blocks from index 3 do not follow block 3"},
    {"genesis after block 0", "[" V0 "]", 0, 0, 2, "the blocks from index 0 do not follow block 0"},
    {"prev_hash: block 5 after a fork of block 4", "[" V0 ", " V1 ", " V2 ", " V3 ", " X4 "]", 0, 5,
     6, "block 5: its prev_hash is not the hash of block 4"},
    {"prev_hash: segments of two chains", "[" V3 ", " X4 "]", 3, 5, 2,
     "block 5: its prev_hash is not the hash of block 4"},
};

START_TEST(test_join)
{
    char err[ERR_SZ] = "", hash[BLOCK_HASH_HEX + 1];
    const char *a_text = join_rows[_i].a;
    char *b_text = vector_slice(join_rows[_i].b_first, join_rows[_i].b_count);
    struct chain *a =
        chain_parse_segment(a_text, strlen(a_text), join_rows[_i].a_from, err, sizeof(err));
    ck_assert_msg(a != NULL, "%s: segment a: %s", join_rows[_i].name, err);
    struct chain *b =
        chain_parse_segment(b_text, strlen(b_text), join_rows[_i].b_first, err, sizeof(err));
    ck_assert_msg(b != NULL, "%s: segment b: %s", join_rows[_i].name, err);
    uint64_t a_tip = chain_tip(a, hash);

    int rc = chain_join(a, b, err, sizeof(err)); /* b is gone either way */
    char *after = chain_text(a);
    if (join_rows[_i].err != NULL) {
        ck_assert_msg(rc < 0, "%s: joined", join_rows[_i].name);
        ck_assert_msg(strstr(err, join_rows[_i].err) != NULL, "%s: error '%s' lacks '%s'",
                      join_rows[_i].name, err, join_rows[_i].err);
        ck_assert_str_eq(after, a_text); /* a is unchanged */
        ck_assert_uint_eq(chain_tip(a, NULL), a_tip);
    } else {
        size_t last = join_rows[_i].b_first + join_rows[_i].b_count - 1;
        ck_assert_msg(rc == 0, "%s: %s", join_rows[_i].name, err);
        char *want = vector_slice(join_rows[_i].a_from, last - join_rows[_i].a_from + 1);
        ck_assert_str_eq(after, want);
        ck_assert_uint_eq(chain_json_size(a), strlen(want));
        free(want);
        ck_assert_uint_eq(chain_tip(a, hash), last);
        ck_assert_str_eq(hash, vector_rows[last].hash);
        if (join_rows[_i].a_from == 0)
            assert_consistent(a);
    }
    free(after);
    free(b_text);
    chain_free(a);
}
END_TEST

/* The vector chain cut into segments at every possible place and joined back is the vector chain,
 * and behaves as one: slices, appends and offers see one offset table. */
START_TEST(test_join_every_cut)
{
    size_t cut = (size_t)_i; /* segments [0, cut) and [cut, 11) */
    char err[ERR_SZ] = "";
    char *t1 = vector_slice(0, cut), *t2 = vector_slice(cut, ARRAY_LEN(vector_rows) - cut);
    struct chain *a = chain_parse_segment(t1, strlen(t1), 0, err, sizeof(err));
    ck_assert_msg(a != NULL, "%s", err);
    struct chain *b = chain_parse_segment(t2, strlen(t2), cut, err, sizeof(err));
    ck_assert_msg(b != NULL, "%s", err);
    ck_assert_int_eq(chain_join(a, b, err, sizeof(err)), 0);
    char *text = chain_text(a);
    ck_assert_str_eq(text, CHAIN_JSON);
    for (size_t i = 0; i < ARRAY_LEN(vector_rows); i++) {
        struct buf one = BUF_INIT;
        char *want = vector_slice(i, 1);
        chain_write_json(a, i, 1, &one);
        ck_assert_str_eq(one.data, want);
        free(want);
        buf_free(&one);
    }
    chain_append_data(a, "after the join", 14, NULL);
    ck_assert_uint_eq(chain_tip(a, NULL), ARRAY_LEN(vector_rows));
    assert_consistent(a);
    free(text);
    free(t1);
    free(t2);
    chain_free(a);
}
END_TEST

/* A segment that does not start at genesis is never adopted, however long. */
START_TEST(test_adopt_refuses_a_segment)
{
    char err[ERR_SZ] = "";
    char *text = vector_slice(1, 10);
    struct chain *c = chain_new();
    struct chain *seg = chain_parse_segment(text, strlen(text), 1, err, sizeof(err));
    struct buf tip = BUF_INIT;

    ck_assert_msg(seg != NULL, "%s", err);
    ck_assert(!chain_adopt_if_longer(c, seg, &tip));
    ck_assert_uint_eq(tip.len, 0);
    ck_assert_uint_eq(chain_tip(c, NULL), 0);
    assert_consistent(c);
    buf_free(&tip);
    chain_free(seg);
    chain_free(c);
    free(text);
}
END_TEST

/* ---- chain_extend_if_longer ------------------------------------------------------------------ */

/* A chain "x1".."x<common>" then "y<common+1>".."y<height>" (all x when common >= height). */
static struct chain *forked_chain(size_t common, size_t height)
{
    struct chain *c = chain_new();
    char data[64];
    for (size_t i = 1; i <= height; i++) {
        int n = snprintf(data, sizeof(data), "%s%zu", i <= common ? "x" : "y", i);
        chain_append_data(c, data, (size_t)n, NULL);
    }
    return c;
}

static const struct extend_row {
    size_t ours;        /* our chain: x1..x<ours> */
    size_t peer_common; /* the peer's: x1..x<peer_common>, then y.. */
    size_t peer_height; /* up to here */
    uint64_t from;      /* the segment of the peer's chain fetched: [from, tip] */
    bool extended;      /* and then ours equals the peer's */
} extend_rows[] = {
    {5, 10, 10, 6, true},   /* the blocks after our tip */
    {5, 10, 10, 3, true},   /* overlapping blocks we hold already */
    {5, 10, 10, 1, true},   /* everything after genesis */
    {5, 5, 10, 6, true},    /* the peer forked above our tip */
    {8, 3, 10, 4, true},    /* the peer forked below our tip: our x4..x8 are replaced */
    {8, 3, 10, 6, false},   /* its block 5 is not ours: the segment does not link */
    {8, 3, 10, 9, false},   /* past our tip and not linking either */
    {5, 10, 10, 7, false},  /* a gap: we do not hold block 6 */
    {10, 10, 10, 6, false}, /* not longer */
    {12, 10, 10, 6, false}, /* shorter */
    {0, 10, 10, 1, true},   /* from genesis only */
};

START_TEST(test_extend)
{
    const struct extend_row *row = &extend_rows[_i];
    char err[ERR_SZ] = "";
    struct chain *ours = forked_chain(row->ours, row->ours);
    struct chain *peer = forked_chain(row->peer_common, row->peer_height);
    char *before = chain_text(ours), *peer_text = chain_text(peer);
    struct buf page = BUF_INIT, tip = BUF_INIT;
    chain_write_json(peer, row->from, UINT64_MAX, &page);
    struct chain *seg = chain_parse_segment(page.data, page.len, row->from, err, sizeof(err));
    ck_assert_msg(seg != NULL, "%s", err);
    char prev[BLOCK_HASH_HEX + 1];
    ck_assert_uint_eq(chain_base(seg, prev), row->from);
    ck_assert_int_eq(chain_links_at(ours, row->from, prev),
                     row->from <= row->ours + 1 &&
                         (row->from - 1 <= row->peer_common || row->from - 1 == 0));

    ck_assert_int_eq(chain_extend_if_longer(ours, seg, &tip), row->extended);
    char *after = chain_text(ours);
    if (row->extended) {
        ck_assert_str_eq(after, peer_text);
        struct buf want = BUF_INIT;
        chain_write_tip(peer, &want);
        ck_assert_uint_eq(tip.len, want.len);
        ck_assert_mem_eq(tip.data, want.data, want.len);
        buf_free(&want);
    } else {
        ck_assert_str_eq(after, before);
        ck_assert_uint_eq(tip.len, 0);
    }
    assert_consistent(ours);
    /* the extended chain goes on working: a block appended to it chains */
    ck_assert_int_eq(chain_append_data(ours, "more", 4, NULL), 0);
    assert_consistent(ours);
    free(before);
    free(after);
    free(peer_text);
    buf_free(&page);
    buf_free(&tip);
    chain_free(seg);
    chain_free(peer);
    chain_free(ours);
}
END_TEST

START_TEST(test_extend_refuses_a_whole_chain)
{
    struct chain *ours = tagged_chain(3, "x"), *cand = tagged_chain(6, "x");
    char *before = chain_text(ours);
    ck_assert(!chain_extend_if_longer(ours, cand, NULL)); /* base 0: chain_adopt_if_longer's */
    char *after = chain_text(ours);
    ck_assert_str_eq(after, before);
    ck_assert(!chain_links_at(ours, 0, ""));
    free(before);
    free(after);
    chain_free(cand);
    chain_free(ours);
}
END_TEST

static Suite *chain_suite(void)
{
    Suite *s = suite_create("chain");
    TCase *tc = tcase_create("append");

    tcase_add_test(tc, test_new_is_genesis);
    tcase_add_loop_test(tc, test_append_data, 1, ARRAY_LEN(vector_rows));
    tcase_add_test(tc, test_append_rebuilds_vectors);
    tcase_add_test(tc, test_append_nul_data);
    tcase_add_test(tc, test_append_many);
    tcase_add_test(tc, test_append_concurrent);
    suite_add_tcase(s, tc);

    tc = tcase_create("validate");
    tcase_add_test(tc, test_vectors_validate);
    tcase_add_loop_test(tc, test_parse_invalid, 0, ARRAY_LEN(invalid_text_rows));
    tcase_add_loop_test(tc, test_mutation, 0, ARRAY_LEN(mutation_rows));
    tcase_add_test(tc, test_from_json_not_array);
    tcase_add_loop_test(tc, test_parse_reencodes, 0, ARRAY_LEN(formatting_rows));
    tcase_add_test(tc, test_parse_segment_buf);
    suite_add_tcase(s, tc);

    tc = tcase_create("serve");
    tcase_add_loop_test(tc, test_write_json_slice, 0, ARRAY_LEN(slice_rows));
    tcase_add_test(tc, test_write_tip);
    suite_add_tcase(s, tc);

    tc = tcase_create("offer");
    tcase_add_loop_test(tc, test_offer, 0, ARRAY_LEN(offer_rows));
    tcase_add_test(tc, test_offer_in_order);
    tcase_add_test(tc, test_offer_without_prev);
    suite_add_tcase(s, tc);

    tc = tcase_create("adopt");
    tcase_add_loop_test(tc, test_adopt, 0, ARRAY_LEN(adopt_rows));
    tcase_add_test(tc, test_adopt_without_tip_json);
    tcase_add_test(tc, test_adopt_leaves_candidate_coherent);
    suite_add_tcase(s, tc);

    tc = tcase_create("segments");
    tcase_add_loop_test(tc, test_parse_segment, 0, ARRAY_LEN(segment_rows));
    tcase_add_loop_test(tc, test_join, 0, ARRAY_LEN(join_rows));
    tcase_add_loop_test(tc, test_join_every_cut, 1, ARRAY_LEN(vector_rows));
    tcase_add_test(tc, test_adopt_refuses_a_segment);
    suite_add_tcase(s, tc);

    tc = tcase_create("extend");
    tcase_add_loop_test(tc, test_extend, 0, ARRAY_LEN(extend_rows));
    tcase_add_test(tc, test_extend_refuses_a_whole_chain);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(chain_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
