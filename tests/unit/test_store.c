/* Unit tests for node/store.c and the chain's use of it: creation, appends, reload, replacement
 * transactions, peers, and every kind of bad file giving an error that names the problem. */
#include <check.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block.h"
#include "capture.h"
#include "buf.h"
#include "chain.h"
#include "log.h"
#include "peers.h"
#include "store.h"
#include "xalloc.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ERR_SZ       300

static char dir[64];   /* a fresh directory per test */
static char path[128]; /* dir/chain.db */

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/chainlab-test-store-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/chain.db", dir);
}

static void teardown(void)
{
    const char *suffixes[] = {"", "-wal", "-shm", "-journal", ".new"};
    for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
        char p[160];
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        unlink(p);
    }
    rmdir(dir);
}

/* The whole chain as GET /blocks serves it. Caller frees. */
static char *chain_text(struct chain *c)
{
    struct buf out = BUF_INIT;
    chain_write_json(c, 0, UINT64_MAX, &out);
    return buf_steal(&out, NULL);
}

/* Open path (creating it) and load its chain, attached to the store; both must succeed. */
static struct chain *open_chain(struct store **s)
{
    char err[ERR_SZ] = "";
    ck_assert_msg(store_open(path, STORE_SYNC_NORMAL, s, err, sizeof(err)) == 0, "open: %s", err);
    struct chain *c = chain_load(*s, err, sizeof(err));
    ck_assert_msg(c != NULL, "load: %s", err);
    chain_set_store(c, *s);
    return c;
}

/* Reopen path and return its chain's text (caller frees); the load must succeed. */
static char *reload_text(void)
{
    struct store *s = NULL;
    struct chain *c = open_chain(&s);
    char *text = chain_text(c);
    chain_free(c);
    store_close(s);
    return text;
}

/* A chain of n blocks after genesis carrying "<tag>1", "<tag>2", ..., after the first keep
 * blocks of base (when base is not NULL). In memory only. */
static struct chain *tagged(struct chain *base, size_t keep, size_t n, const char *tag)
{
    struct chain *c = chain_new();
    char data[64];
    if (base != NULL) {
        char *text = chain_text(base);
        json_error_t jerr;
        json_t *all = json_loads(text, 0, &jerr);
        json_array_remove(all, 0);
        for (size_t i = 1; i <= keep; i++) {
            const char *d = json_string_value(json_object_get(json_array_get(all, 0), "data"));
            chain_append_data(c, d, strlen(d), NULL);
            json_array_remove(all, 0);
        }
        json_decref(all);
        free(text);
    }
    for (size_t i = 1; i <= n; i++) {
        int len = snprintf(data, sizeof(data), "%s%zu", tag, i);
        chain_append_data(c, data, (size_t)len, NULL);
    }
    return c;
}

/* Run SQL on the closed database file directly (the test's stand-in for damage or tampering). */
static void tamper_sql(const char *sql)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql,
                  msg ? msg : "?");
    sqlite3_close(db);
}

/* ---- create, append, reload ----------------------------------------------------------------- */

START_TEST(test_create_holds_genesis)
{
    struct store *s = NULL;
    struct chain *c = open_chain(&s);
    struct chain *fresh = chain_new();
    char *got = chain_text(c), *want = chain_text(fresh);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
    chain_free(fresh);
    chain_free(c);
    store_close(s);

    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_gt(st.st_size, 0);
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    ck_assert_int_ne(stat(tmp, &st), 0); /* built aside, renamed into place */

    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(q, 0), STORE_SCHEMA_VERSION);
    sqlite3_finalize(q);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);
}
END_TEST

static const char *const append_rows[] = {
    "hello world",           "",    "caf\303\251 \342\230\203", "line1\nline2\ttab",
    "quote \" backslash \\", "None"};

START_TEST(test_append_and_reload_equal)
{
    struct store *s = NULL;
    struct chain *c = open_chain(&s);
    for (size_t i = 0; i < ARRAY_LEN(append_rows); i++)
        ck_assert_int_eq(chain_append_data(c, append_rows[i], strlen(append_rows[i]), NULL), 0);
    ck_assert_int_eq(chain_append_data(c, "a\0b", 3, NULL), 0); /* embedded NUL */
    /* an offered block is stored too */
    char hash[BLOCK_HASH_HEX + 1];
    uint64_t tip = chain_tip(c, hash);
    struct block b;
    block_make_next(tip, hash, "offered", 7, &b);
    ck_assert_int_eq(chain_offer_block(c, &b, NULL), CHAIN_APPENDED);
    ck_assert_int_eq(chain_offer_block(c, &b, NULL), CHAIN_IGNORED);
    block_clear(&b);
    char *want = chain_text(c);
    chain_free(c);
    store_close(s);

    char *got = reload_text();
    ck_assert_str_eq(got, want);
    free(got);

    /* and it goes on from there after the reload */
    c = open_chain(&s);
    ck_assert_int_eq(chain_append_data(c, "after", 5, NULL), 0);
    free(want);
    want = chain_text(c);
    chain_free(c);
    store_close(s);
    got = reload_text();
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
}
END_TEST

/* ---- replacement ---------------------------------------------------------------------------- */

static const struct {
    const char *name;
    size_t held;   /* blocks held after genesis ("a1", "a2", ...) */
    size_t keep;   /* of which the candidate keeps this many */
    size_t extra;  /* then adds this many of its own ("b1", ...) */
    bool replaced; /* adopted (strictly longer) */
} replace_rows[] = {
    {"divergent from genesis", 5, 0, 8, true}, {"common prefix of 3", 5, 3, 4, true},
    {"extends the held chain", 5, 5, 2, true}, {"held chain is genesis only", 0, 0, 3, true},
    {"shorter: kept", 5, 2, 2, false},         {"equal length: kept", 5, 0, 5, false},
};

/* Replacement row r on a stored chain, the candidate offered whole (chain_adopt_if_longer()) or,
 * as_segment, as its blocks after the common prefix (chain_extend_if_longer()). Either way the
 * held chain becomes the candidate exactly when the row says so, and a reload gives it back. */
static void check_replacement(size_t r, bool as_segment)
{
    struct store *s = NULL;
    struct chain *c = open_chain(&s);
    for (size_t i = 1; i <= replace_rows[r].held; i++) {
        char data[16];
        int n = snprintf(data, sizeof(data), "a%zu", i);
        ck_assert_int_eq(chain_append_data(c, data, (size_t)n, NULL), 0);
    }
    char *before = chain_text(c), err[ERR_SZ] = "";
    struct chain *cand = tagged(c, replace_rows[r].keep, replace_rows[r].extra, "b");
    char *cand_text = chain_text(cand);
    struct buf page = BUF_INIT;
    if (as_segment) {
        uint64_t from = replace_rows[r].keep + 1;
        chain_write_json(cand, from, UINT64_MAX, &page);
        struct chain *seg = chain_parse_segment(page.data, page.len, from, err, sizeof(err));
        ck_assert_msg(seg != NULL, "%s", err);
        ck_assert_int_eq(chain_extend_if_longer(c, seg, NULL), replace_rows[r].replaced);
        chain_free(seg);
    } else {
        ck_assert_int_eq(chain_adopt_if_longer(c, cand, &page), replace_rows[r].replaced);
    }
    char *held = chain_text(c);
    ck_assert_str_eq(held, replace_rows[r].replaced ? cand_text : before);
    chain_free(c);
    chain_free(cand);
    store_close(s);

    char *got = reload_text();
    ck_assert_str_eq(got, held);
    free(got);
    free(held);
    free(cand_text);
    free(before);
    buf_free(&page);
}

START_TEST(test_replace)
{
    check_replacement((size_t)_i, false);
}
END_TEST

START_TEST(test_extend)
{
    check_replacement((size_t)_i, true);
}
END_TEST

/* A replacement is one transaction: aborted half way (a put that fails), nothing changed. */
START_TEST(test_replace_is_one_transaction)
{
    struct store *s = NULL;
    struct chain *c = open_chain(&s);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(chain_append_data(c, "x", 1, NULL), 0);
    char *want = chain_text(c);
    char err[ERR_SZ] = "";
    ck_assert_int_eq(store_replace_begin(s, 3, err, sizeof(err)), 0);
    ck_assert_int_eq(store_replace_put(s, 3, "{\"partial\": 1}", 14, err, sizeof(err)), 0);
    /* index 1 is below the replaced range and still there: the put fails */
    ck_assert_int_eq(store_replace_put(s, 1, "{\"dup\": 1}", 10, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "cannot store the block") != NULL, "err: %s", err);
    store_replace_abort(s);
    /* the store is usable again and still holds the whole chain */
    ck_assert_int_eq(chain_append_data(c, "y", 1, NULL), 0);
    free(want);
    want = chain_text(c);
    chain_free(c);
    store_close(s);
    char *got = reload_text();
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
}
END_TEST

/* A store write that fails leaves the chain as it was and says so. */
START_TEST(test_failed_write_appends_nothing)
{
    struct store *s = NULL;
    struct chain *c = open_chain(&s);
    ck_assert_int_eq(chain_append_data(c, "one", 3, NULL), 0);
    char *want = chain_text(c);
    /* make index 2 taken behind the chain's back: the next append's INSERT fails */
    char err[ERR_SZ] = "";
    ck_assert_int_eq(store_append(s, 2, "{}", 2, err, sizeof(err)), 0);
    struct buf json = BUF_INIT;
    struct capture cap;
    capture_begin(&cap);
    ck_assert_int_eq(chain_append_data(c, "two", 3, &json), -1);
    char *said = capture_end(&cap);
    ck_assert_uint_eq(json.len, 0);
    char *got = chain_text(c);
    ck_assert_str_eq(got, want);
    char hash[BLOCK_HASH_HEX + 1];
    ck_assert_uint_eq(chain_tip(c, hash), 1);
    struct block b;
    block_make_next(1, hash, "two", 3, &b);
    capture_begin(&cap);
    ck_assert_int_eq(chain_offer_block(c, &b, NULL), CHAIN_FAILED);
    char *said_offer = capture_end(&cap);
    block_clear(&b);
    /* each failure is one error line that names the block and SQLite's reason */
    const char *saids[] = {said, said_offer};
    for (size_t i = 0; i < 2; i++) {
        ck_assert_msg(strstr(saids[i], "error: store: block 2 was not appended: cannot store the "
                                       "block: UNIQUE constraint failed") != NULL,
                      "logged: %s", saids[i]);
        ck_assert_ptr_eq(strchr(saids[i], '\n'), saids[i] + strlen(saids[i]) - 1);
    }
    free(said);
    free(said_offer);
    free(got);
    got = chain_text(c);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
    buf_free(&json);
    chain_free(c);
    store_close(s);
}
END_TEST

/* ---- peers ---------------------------------------------------------------------------------- */

static void add_peer_cb(void *arg, const char *url)
{
    char err[ERR_SZ];
    ck_assert_int_eq(peers_add(arg, url, strlen(url), err, sizeof(err)), PEERS_OK);
}

START_TEST(test_peers_persist_in_order)
{
    char err[ERR_SZ] = "";
    struct store *s = NULL;
    ck_assert_int_eq(store_open(path, STORE_SYNC_FULL, &s, err, sizeof(err)), 0);
    struct peers *p = peers_new(8, 512, "127.0.0.1", 9000);
    peers_set_store(p, s);
    ck_assert_int_eq(peers_add(p, "http://b:2", 10, err, sizeof(err)), PEERS_OK);
    ck_assert_int_eq(peers_add(p, "http://a:1/", 11, err, sizeof(err)), PEERS_OK);
    ck_assert_int_eq(peers_add(p, "http://c:3", 10, err, sizeof(err)), PEERS_OK);
    ck_assert_int_eq(peers_add(p, "http://a:1", 10, err, sizeof(err)), PEERS_EXISTS);
    ck_assert_int_eq(peers_remove(p, "http://b:2", 10, err, sizeof(err)), PEERS_OK);
    ck_assert_int_eq(peers_add(p, "http://b:2", 10, err, sizeof(err)), PEERS_OK);
    struct buf want = BUF_INIT;
    peers_write_json(p, &want);
    peers_free(p);
    store_close(s);

    ck_assert_int_eq(store_open(path, STORE_SYNC_FULL, &s, err, sizeof(err)), 0);
    p = peers_new(8, 512, "127.0.0.1", 9000);
    struct buf got = BUF_INIT;
    ck_assert_int_eq(store_read_peers(s, add_peer_cb, p, err, sizeof(err)), 0);
    peers_write_json(p, &got);
    ck_assert_str_eq(got.data, want.data);
    ck_assert_str_eq(got.data, "[\"http://a:1\", \"http://c:3\", \"http://b:2\"]");
    peers_free(p);
    store_close(s);
    buf_free(&got);
    buf_free(&want);
}
END_TEST

/* The callback runs without the store's lock: here it saves each peer again (a no-op), through a
 * peer set already attached to the store, which would deadlock under the lock. */
START_TEST(test_read_peers_callback_may_use_the_store)
{
    char err[ERR_SZ] = "";
    struct store *s = NULL;
    ck_assert_int_eq(store_open(path, STORE_SYNC_NORMAL, &s, err, sizeof(err)), 0);
    ck_assert_int_eq(store_peer_add(s, "http://a:1", err, sizeof(err)), 0);
    ck_assert_int_eq(store_peer_add(s, "http://b:2", err, sizeof(err)), 0);
    struct peers *p = peers_new(8, 512, "127.0.0.1", 9000);
    peers_set_store(p, s);
    ck_assert_int_eq(store_read_peers(s, add_peer_cb, p, err, sizeof(err)), 0);
    ck_assert_uint_eq(peers_count(p), 2);
    peers_free(p);
    store_close(s);
}
END_TEST

/* ---- bad files ------------------------------------------------------------------------------ */

enum damage {
    DAMAGE_RANDOM_BYTES,
    DAMAGE_EMPTY_FILE,
    DAMAGE_TRUNCATE,
    DAMAGE_SQL,
    DAMAGE_FORK, /* block FORK_AT replaced by a valid block that does not chain */
};

#define FORK_AT   5000  /* the first block of the second part a stored chain is parsed in */
#define BIG_CHAIN 12000 /* blocks of the rows that need several parts */
#define SMALL     10    /* blocks of the other rows */

static const struct {
    const char *name;
    enum damage damage;
    const char *sql;    /* DAMAGE_SQL: run on the file */
    const char *expect; /* a part of the one-sentence error */
    size_t blocks;      /* blocks after genesis before the damage (0: SMALL) */
} bad_rows[] = {
    {"random bytes", DAMAGE_RANDOM_BYTES, NULL, "not a SQLite database", 0},
    {"empty file", DAMAGE_EMPTY_FILE, NULL, "empty", 0},
    {"truncated file", DAMAGE_TRUNCATE, NULL, "malformed", 3000},
    {"wrong user_version", DAMAGE_SQL, "PRAGMA user_version=7", "schema version", 0},
    {"user_version 0 (another program's file)", DAMAGE_SQL, "PRAGMA user_version=0",
     "schema version (PRAGMA user_version) is 0", 0},
    {"no blocks table", DAMAGE_SQL, "DROP TABLE blocks", "wrong schema", 0},
    {"no peers table", DAMAGE_SQL, "DROP TABLE peers", "wrong schema", 0},
    {"tampered data (hash no longer verifies)", DAMAGE_SQL,
     "UPDATE blocks SET json = replace(json, '\"data\": \"t3\"', '\"data\": \"T3\"') WHERE idx = 3",
     "block 3: hash", 0},
    {"a gap", DAMAGE_SQL, "DELETE FROM blocks WHERE idx = 4", "gap: block 4 is missing", 0},
    {"genesis missing", DAMAGE_SQL, "DELETE FROM blocks WHERE idx = 0", "gap: block 0 is missing",
     0},
    {"no blocks at all", DAMAGE_SQL, "DELETE FROM blocks", "no blocks", 0},
    {"tip truncated to a shorter chain is fine but a hole is not", DAMAGE_SQL,
     "DELETE FROM blocks WHERE idx BETWEEN 2 AND 3", "gap: block 2 is missing", 0},
    {"not the exact encoding (spacing)", DAMAGE_SQL,
     "UPDATE blocks SET json = replace(json, '\"index\": 2,', '\"index\":2,') WHERE idx = 2",
     "block 2: its stored JSON is not the block's exact encoding", 0},
    {"two blocks in one row", DAMAGE_SQL,
     "UPDATE blocks SET json = json || ', ' || (SELECT json FROM blocks WHERE idx = 6) WHERE idx "
     "= 5; DELETE FROM blocks WHERE idx = 6; UPDATE blocks SET idx = idx - 1 WHERE idx > 6",
     "block 5: its stored JSON is not the block's exact encoding", 0},
    {"a broken link", DAMAGE_SQL,
     "UPDATE blocks SET json = (SELECT json FROM blocks WHERE idx = 2) WHERE idx = 3", "block 3",
     0},
    {"not JSON", DAMAGE_SQL, "UPDATE blocks SET json = 'garbage' WHERE idx = 2",
     "the stored chain is invalid", 0},
    {"tampered block in a later part", DAMAGE_SQL,
     "UPDATE blocks SET json = replace(json, '\"data\": \"t7003\"', '\"data\": \"t7004\"') "
     "WHERE idx = 7003",
     "block 7003: hash", BIG_CHAIN},
    {"a gap in a later part", DAMAGE_SQL, "DELETE FROM blocks WHERE idx = 9999",
     "gap: block 9999 is missing", BIG_CHAIN},
    {"a fork where two parts meet", DAMAGE_FORK, NULL,
     "block 5000: its prev_hash is not the hash of block 4999", BIG_CHAIN},
    {"a number instead of a block", DAMAGE_SQL, "UPDATE blocks SET json = 12 WHERE idx = 2",
     "block 2: a block must be a JSON object", 0},
    {"an empty row", DAMAGE_SQL, "UPDATE blocks SET json = '' WHERE idx = 2",
     "block 2: the stored JSON is missing, empty or too long", 0},
};

/* Fill the database with blocks "t1".."tN" and close it. */
static void fill(size_t n)
{
    struct store *s = NULL;
    struct chain *c = open_chain(&s);
    char data[32];
    for (size_t i = 1; i <= n; i++) {
        int len = snprintf(data, sizeof(data), "t%zu", i);
        ck_assert_int_eq(chain_append_data(c, data, (size_t)len, NULL), 0);
    }
    chain_free(c);
    store_close(s);
}

START_TEST(test_bad_file)
{
    fill(bad_rows[_i].blocks ? bad_rows[_i].blocks : SMALL);
    switch (bad_rows[_i].damage) {
    case DAMAGE_RANDOM_BYTES: {
        int fd = open(path, O_WRONLY | O_TRUNC);
        ck_assert_int_ge(fd, 0);
        unsigned char junk[8192];
        srand(7);
        for (size_t i = 0; i < sizeof(junk); i++)
            junk[i] = (unsigned char)rand();
        ck_assert_int_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
        close(fd);
        break;
    }
    case DAMAGE_EMPTY_FILE:
        ck_assert_int_eq(truncate(path, 0), 0);
        break;
    case DAMAGE_TRUNCATE: {
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(truncate(path, st.st_size / 2), 0);
        break;
    }
    case DAMAGE_SQL:
        tamper_sql(bad_rows[_i].sql);
        break;
    case DAMAGE_FORK: {
        struct block b;
        struct buf json = BUF_INIT;
        block_make_next(FORK_AT - 1, BLOCK_GENESIS_HASH, "evil", 4, &b);
        block_encode(&b, &json);
        char *sql =
            sqlite3_mprintf("UPDATE blocks SET json = %Q WHERE idx = %d", json.data, FORK_AT);
        tamper_sql(sql);
        sqlite3_free(sql);
        buf_free(&json);
        block_clear(&b);
        break;
    }
    }
    char err[ERR_SZ] = "";
    struct store *s = NULL;
    struct chain *c = NULL;
    if (store_open(path, STORE_SYNC_FULL, &s, err, sizeof(err)) == 0) {
        c = chain_load(s, err, sizeof(err));
        store_close(s);
    } else {
        ck_assert_ptr_null(s);
    }
    ck_assert_msg(c == NULL, "%s: the damaged file loaded", bad_rows[_i].name);
    ck_assert_msg(strstr(err, bad_rows[_i].expect) != NULL, "%s: error '%s' lacks '%s'",
                  bad_rows[_i].name, err, bad_rows[_i].expect);
    ck_assert_msg(strchr(err, '\n') == NULL, "%s: error is more than one line", bad_rows[_i].name);
}
END_TEST

/* The open or load of a path that is not a file at all. */
START_TEST(test_path_is_a_directory)
{
    char err[ERR_SZ] = "";
    struct store *s = NULL;
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_eq(store_open(path, STORE_SYNC_FULL, &s, err, sizeof(err)), -1);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err, "not a regular file") != NULL, "err: %s", err);
    rmdir(path);
}
END_TEST

START_TEST(test_sync_parse)
{
    enum store_sync m;
    ck_assert_int_eq(store_sync_parse("full", &m), 0);
    ck_assert_int_eq(m, STORE_SYNC_FULL);
    ck_assert_int_eq(store_sync_parse("normal", &m), 0);
    ck_assert_int_eq(m, STORE_SYNC_NORMAL);
    ck_assert_int_eq(store_sync_parse("off", &m), -1);
    ck_assert_int_eq(store_sync_parse("", &m), -1);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_create_holds_genesis);
    tcase_add_test(tc, test_append_and_reload_equal);
    tcase_add_loop_test(tc, test_replace, 0, ARRAY_LEN(replace_rows));
    tcase_add_loop_test(tc, test_extend, 0, ARRAY_LEN(replace_rows));
    tcase_add_test(tc, test_replace_is_one_transaction);
    tcase_add_test(tc, test_failed_write_appends_nothing);
    tcase_add_test(tc, test_peers_persist_in_order);
    tcase_add_test(tc, test_read_peers_callback_may_use_the_store);
    tcase_add_loop_test(tc, test_bad_file, 0, ARRAY_LEN(bad_rows));
    tcase_add_test(tc, test_path_is_a_directory);
    tcase_add_test(tc, test_sync_parse);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    log_setup("test_store", LOG_ERROR); /* peers log every add and remove at info */
    SRunner *sr = srunner_create(store_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
