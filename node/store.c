/* store: the node's on-disk store, one SQLite file in WAL mode (see store.h). */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block.h"
#include "xalloc.h"

/* What version 2 adds to version 1. */
#define STORE_SCHEMA_OWN                                                                           \
    "CREATE TABLE own_appends (seq INTEGER PRIMARY KEY, idx INTEGER NOT NULL, hash TEXT NOT "      \
    "NULL, "                                                                                       \
    "data BLOB NOT NULL);"
#define STORE_SCHEMA                                                                               \
    "CREATE TABLE blocks (idx INTEGER PRIMARY KEY, json TEXT NOT NULL);"                           \
    "CREATE TABLE peers (pos INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE);" STORE_SCHEMA_OWN

enum stmt {
    ST_INSERT_BLOCK,
    ST_SELECT_BLOCKS,
    ST_DELETE_FROM,
    ST_INSERT_PEER,
    ST_DELETE_PEER,
    ST_SELECT_PEERS,
    ST_SELECT_OWN,
    ST_PUT_OWN,
    ST_FORGET_OWN,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_INSERT_BLOCK] = "INSERT INTO blocks (idx, json) VALUES (?1, ?2)",
    [ST_SELECT_BLOCKS] = "SELECT idx, json FROM blocks ORDER BY idx",
    [ST_DELETE_FROM] = "DELETE FROM blocks WHERE idx >= ?1",
    [ST_INSERT_PEER] = "INSERT OR IGNORE INTO peers (url) VALUES (?1)",
    [ST_DELETE_PEER] = "DELETE FROM peers WHERE url = ?1",
    [ST_SELECT_PEERS] = "SELECT url FROM peers ORDER BY pos",
    [ST_SELECT_OWN] = "SELECT seq, idx, hash, data FROM own_appends ORDER BY seq",
    [ST_PUT_OWN] =
        "INSERT OR REPLACE INTO own_appends (seq, idx, hash, data) VALUES (?1, ?2, ?3, ?4)",
    [ST_FORGET_OWN] = "DELETE FROM own_appends WHERE seq < ?1",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

struct store {
    pthread_mutex_t lock;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT]; /* prepared once, reset after each use */
};

/* err = "what: <SQLite's message>". Returns -1. */
static int db_fail(sqlite3 *db, const char *what, char *err, size_t errsz)
{
    snprintf(err, errsz, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
    return -1;
}

/* Run a statement that returns no rows (SQLITE_ROW rows are skipped) and reset it. */
static int step_done(struct store *s, sqlite3_stmt *st, const char *what, char *err, size_t errsz)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    int ret = rc == SQLITE_DONE ? 0 : db_fail(s->db, what, err, errsz);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

/* Read one integer from a pragma query (PRAGMA user_version). */
static int pragma_int(sqlite3 *db, const char *sql, long long *out, char *err, size_t errsz)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        if ((sqlite3_errcode(db) & 0xff) == SQLITE_NOTADB)
            snprintf(err, errsz, "not a SQLite database (%s)", sqlite3_errmsg(db));
        else if ((sqlite3_errcode(db) & 0xff) == SQLITE_BUSY)
            snprintf(err, errsz, "in use by another process, another node? (%s)",
                     sqlite3_errmsg(db));
        else
            db_fail(db, "cannot read the database", err, errsz);
        goto out;
    }
    *out = sqlite3_column_int64(st, 0);
    ret = 0;
out:
    sqlite3_finalize(st);
    return ret;
}

/* Set the journal mode and check that it took. */
static int set_wal(sqlite3 *db, char *err, size_t errsz)
{
    sqlite3_stmt *st = NULL;
    int ret = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        db_fail(db, "cannot switch the database to WAL mode", err, errsz);
        goto out;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    if (mode == NULL || strcmp(mode, "wal") != 0) {
        snprintf(err, errsz, "cannot switch the database to WAL mode (it stays in %s mode)",
                 mode ? mode : "an unknown");
        goto out;
    }
    ret = 0;
out:
    sqlite3_finalize(st);
    return ret;
}

/* fsync the file or directory at path. */
static int sync_path(const char *path, int flags, char *err, size_t errsz)
{
    int fd = open(path, flags | O_CLOEXEC);
    int ret = -1;
    if (fd < 0 || fsync(fd) < 0)
        snprintf(err, errsz, "cannot sync %s: %s", path, strerror(errno));
    else
        ret = 0;
    if (fd >= 0)
        close(fd);
    return ret;
}

/* Build a new database (schema, genesis, WAL mode) at path.new, then rename it to path. */
static int create_db(const char *path, char *err, size_t errsz)
{
    char *tmp = xasprintf("%s.new", path);
    char *tmp_journal = xasprintf("%s.new-journal", path);
    char *tmp_wal = xasprintf("%s.new-wal", path);
    char *dir_copy = xstrdup(path);
    sqlite3 *db = NULL;
    struct buf sql = BUF_INIT;
    struct buf genesis = BUF_INIT;
    int ret = -1;

    unlink(tmp); /* the leftover of a creation that was interrupted */
    unlink(tmp_journal);
    unlink(tmp_wal);
    if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        db_fail(db, "cannot create the database", err, errsz);
        goto out;
    }
    block_encode(block_genesis(), &genesis);
    char *quoted = sqlite3_mprintf("%Q", genesis.data);
    if (quoted == NULL) {
        snprintf(err, errsz, "cannot create the database: out of memory");
        goto out;
    }
    buf_printf(&sql,
               "BEGIN;" STORE_SCHEMA "INSERT INTO blocks (idx, json) VALUES (0, %s);"
               "PRAGMA user_version=%d;COMMIT;",
               quoted, STORE_SCHEMA_VERSION);
    sqlite3_free(quoted);
    if (sqlite3_exec(db, sql.data, NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(db, "cannot create the database", err, errsz);
        goto out;
    }
    if (set_wal(db, err, errsz) < 0)
        goto out;
    if (sqlite3_close(db) != SQLITE_OK) {
        db_fail(db, "cannot create the database", err, errsz);
        goto out;
    }
    db = NULL;
    if (sync_path(tmp, O_RDONLY, err, errsz) < 0)
        goto out;
    if (rename(tmp, path) < 0) {
        snprintf(err, errsz, "cannot create the database: rename %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (sync_path(dirname(dir_copy), O_RDONLY | O_DIRECTORY, err, errsz) < 0)
        goto out;
    ret = 0;
out:
    if (db)
        sqlite3_close(db);
    if (ret < 0)
        unlink(tmp);
    buf_free(&sql);
    buf_free(&genesis);
    free(tmp);
    free(tmp_journal);
    free(tmp_wal);
    free(dir_copy);
    return ret;
}

/* Bring a file of an older schema version (from) up to STORE_SCHEMA_VERSION, in one
 * transaction. Returns 0, or -1 with err set (the file is then unchanged). */
static int upgrade(sqlite3 *db, long long from, char *err, size_t errsz)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "BEGIN IMMEDIATE;%sPRAGMA user_version=%d;COMMIT;",
             from == 1 ? STORE_SCHEMA_OWN : "", STORE_SCHEMA_VERSION);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    snprintf(err, errsz, "cannot upgrade the database from schema version %lld to %d: %s", from,
             STORE_SCHEMA_VERSION, sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int store_sync_parse(const char *name, enum store_sync *out)
{
    if (strcmp(name, "full") == 0)
        *out = STORE_SYNC_FULL;
    else if (strcmp(name, "normal") == 0)
        *out = STORE_SYNC_NORMAL;
    else
        return -1;
    return 0;
}

int store_open(const char *path, enum store_sync sync, struct store **out, char *err, size_t errsz)
{
    struct store *s = xcalloc(1, sizeof(*s));
    struct stat st;
    long long version = 0;
    int ret = -1;

    pthread_mutex_init(&s->lock, NULL);
    *out = NULL;
    if (stat(path, &st) < 0) {
        if (errno != ENOENT) {
            snprintf(err, errsz, "cannot read the database: %s", strerror(errno));
            goto out;
        }
        if (create_db(path, err, errsz) < 0)
            goto out;
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(err, errsz, "not a regular file");
        goto out;
    } else if (st.st_size == 0) {
        snprintf(err, errsz,
                 "the file is empty (0 bytes), not a chainlab database; remove it to "
                 "start a new chain");
        goto out;
    }
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        db_fail(s->db, "cannot open the database", err, errsz);
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
    /* Exclusive: a second node on the same file fails here instead of forking the chain. */
    if (sqlite3_exec(s->db, "PRAGMA locking_mode=EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(s->db, "cannot open the database", err, errsz);
        goto out;
    }
    if (pragma_int(s->db, "PRAGMA user_version", &version, err, errsz) < 0)
        goto out;
    if (version >= STORE_SCHEMA_OLDEST && version < STORE_SCHEMA_VERSION &&
        upgrade(s->db, version, err, errsz) == 0)
        version = STORE_SCHEMA_VERSION;
    else if (version >= STORE_SCHEMA_OLDEST && version < STORE_SCHEMA_VERSION)
        goto out;
    if (version != STORE_SCHEMA_VERSION) {
        snprintf(err, errsz,
                 "schema version (PRAGMA user_version) is %lld; this node reads version %d: not a "
                 "chainlab database, or one of another version",
                 version, STORE_SCHEMA_VERSION);
        goto out;
    }
    if (set_wal(s->db, err, errsz) < 0)
        goto out;
    const char *sync_sql =
        sync == STORE_SYNC_NORMAL ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL";
    if (sqlite3_exec(s->db, sync_sql, NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(s->db, "cannot set the sync mode", err, errsz);
        goto out;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            db_fail(s->db, "wrong schema (not a chainlab database)", err, errsz);
            goto out;
        }
    }
    ret = 0;
out:
    if (ret < 0) {
        store_close(s);
        s = NULL;
    }
    *out = s;
    return ret;
}

void store_close(struct store *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int store_read_blocks(struct store *s, struct buf *text, size_t **off, size_t *n, char *err,
                      size_t errsz)
{
    sqlite3_stmt *st = s->st[ST_SELECT_BLOCKS];
    size_t *offs = NULL, count = 0, cap = 0;
    int ret = -1, rc;

    pthread_mutex_lock(&s->lock);
    buf_append_char(text, '[');
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 idx = sqlite3_column_int64(st, 0);
        int type = sqlite3_column_type(st, 1);
        const void *json = sqlite3_column_blob(st, 1);
        int len = sqlite3_column_bytes(st, 1);
        if (idx < 0 || (uint64_t)idx != count) {
            snprintf(err, errsz,
                     "the blocks table has a gap: block %zu is missing (the next "
                     "stored block is %lld)",
                     count, (long long)idx);
            goto out;
        }
        if ((type != SQLITE_TEXT && type != SQLITE_BLOB) || len <= 0 ||
            len > STORE_MAX_BLOCK_JSON) {
            snprintf(err, errsz, "block %zu: the stored JSON is missing, empty or too long", count);
            goto out;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 1024;
            offs = xrealloc(offs, cap * sizeof(*offs));
        }
        if (count > 0)
            buf_append(text, ", ", 2);
        offs[count++] = text->len;
        buf_append(text, json, (size_t)len);
    }
    if (rc != SQLITE_DONE) {
        db_fail(s->db, "cannot read the blocks", err, errsz);
        goto out;
    }
    if (count == 0) {
        snprintf(err, errsz, "the database holds no blocks, not even genesis");
        goto out;
    }
    buf_append_char(text, ']');
    ret = 0;
out:
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    if (ret < 0) {
        free(offs);
        offs = NULL;
        count = 0;
    }
    *off = offs;
    *n = count;
    return ret;
}

/* Bind (index, json) to the insert statement and run it. Caller holds the lock. */
static int insert_block(struct store *s, uint64_t index, const char *json, size_t len, char *err,
                        size_t errsz)
{
    sqlite3_stmt *st = s->st[ST_INSERT_BLOCK];
    if (sqlite3_bind_int64(st, 1, (sqlite3_int64)index) != SQLITE_OK ||
        sqlite3_bind_text64(st, 2, json, len, SQLITE_STATIC, SQLITE_UTF8) != SQLITE_OK) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return db_fail(s->db, "cannot store the block", err, errsz);
    }
    return step_done(s, st, "cannot store the block", err, errsz);
}

int store_append(struct store *s, uint64_t index, const char *json, size_t len, char *err,
                 size_t errsz)
{
    pthread_mutex_lock(&s->lock);
    int ret = insert_block(s, index, json, len, err, errsz);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

int store_replace_begin(struct store *s, uint64_t from, char *err, size_t errsz)
{
    pthread_mutex_lock(&s->lock);
    if (step_done(s, s->st[ST_BEGIN], "cannot start the transaction", err, errsz) < 0)
        goto fail;
    sqlite3_bind_int64(s->st[ST_DELETE_FROM], 1, (sqlite3_int64)from);
    if (step_done(s, s->st[ST_DELETE_FROM], "cannot delete the replaced blocks", err, errsz) < 0) {
        char ignored[8];
        step_done(s, s->st[ST_ROLLBACK], "", ignored, sizeof(ignored));
        goto fail;
    }
    return 0;
fail:
    pthread_mutex_unlock(&s->lock);
    return -1;
}

int store_replace_put(struct store *s, uint64_t index, const char *json, size_t len, char *err,
                      size_t errsz)
{
    return insert_block(s, index, json, len, err, errsz);
}

int store_replace_commit(struct store *s, char *err, size_t errsz)
{
    int ret = step_done(s, s->st[ST_COMMIT], "cannot commit the replacement", err, errsz);
    if (ret < 0 && !sqlite3_get_autocommit(s->db)) {
        char ignored[8];
        step_done(s, s->st[ST_ROLLBACK], "", ignored, sizeof(ignored));
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

void store_replace_abort(struct store *s)
{
    char ignored[8];
    if (!sqlite3_get_autocommit(s->db))
        step_done(s, s->st[ST_ROLLBACK], "", ignored, sizeof(ignored));
    pthread_mutex_unlock(&s->lock);
}

int store_read_peers(struct store *s, store_peer_cb cb, void *arg, char *err, size_t errsz)
{
    sqlite3_stmt *st = s->st[ST_SELECT_PEERS];
    int ret = -1, rc;
    char **urls = NULL;
    size_t n = 0, cap = 0;
    /* The URLs are copied under the lock and cb runs after it is released: cb may take other
     * locks (peers_add() takes the peer set's), and those are held around store_peer_add(), in
     * the other order. */
    pthread_mutex_lock(&s->lock);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *url = (const char *)sqlite3_column_text(st, 0);
        if (url == NULL)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            urls = xrealloc(urls, cap * sizeof(*urls));
        }
        urls[n++] = xstrdup(url);
    }
    if (rc != SQLITE_DONE)
        db_fail(s->db, "cannot read the peers", err, errsz);
    else
        ret = 0;
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        if (ret == 0)
            cb(arg, urls[i]);
        free(urls[i]);
    }
    free(urls);
    return ret;
}

/* Run the peer statement st with url bound. */
static int peer_write(struct store *s, enum stmt which, const char *url, const char *what,
                      char *err, size_t errsz)
{
    sqlite3_stmt *st = s->st[which];
    pthread_mutex_lock(&s->lock);
    int ret;
    if (sqlite3_bind_text(st, 1, url, -1, SQLITE_STATIC) != SQLITE_OK)
        ret = db_fail(s->db, what, err, errsz);
    else
        ret = step_done(s, st, what, err, errsz);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

int store_peer_add(struct store *s, const char *url, char *err, size_t errsz)
{
    return peer_write(s, ST_INSERT_PEER, url, "cannot store the peer", err, errsz);
}

int store_peer_remove(struct store *s, const char *url, char *err, size_t errsz)
{
    return peer_write(s, ST_DELETE_PEER, url, "cannot delete the peer", err, errsz);
}

int store_read_own(struct store *s, store_own_cb cb, void *arg, char *err, size_t errsz)
{
    struct own {
        uint64_t seq, index;
        char hash[BLOCK_HASH_HEX + 1];
        char *data;
        size_t len;
    } *rows = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st = s->st[ST_SELECT_OWN];
    int ret = -1, rc;
    /* Copied under the lock, handed over after it (as store_read_peers()). */
    pthread_mutex_lock(&s->lock);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *hash = (const char *)sqlite3_column_text(st, 2);
        const void *data = sqlite3_column_blob(st, 3);
        int len = sqlite3_column_bytes(st, 3);
        if (hash == NULL || strlen(hash) != BLOCK_HASH_HEX || len < 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            rows = xrealloc(rows, cap * sizeof(*rows));
        }
        rows[n].seq = (uint64_t)sqlite3_column_int64(st, 0);
        rows[n].index = (uint64_t)sqlite3_column_int64(st, 1);
        memcpy(rows[n].hash, hash, sizeof(rows[n].hash));
        rows[n].data = xmemdup(data ? data : "", (size_t)len);
        rows[n].len = (size_t)len;
        n++;
    }
    if (rc != SQLITE_DONE)
        db_fail(s->db, "cannot read the own appends", err, errsz);
    else
        ret = 0;
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n; i++) {
        if (ret == 0)
            cb(arg, rows[i].seq, rows[i].index, rows[i].hash, rows[i].data, rows[i].len);
        free(rows[i].data);
    }
    free(rows);
    return ret;
}

int store_own_put(struct store *s, uint64_t seq, uint64_t index, const char *hash, const char *data,
                  size_t len, char *err, size_t errsz)
{
    sqlite3_stmt *st = s->st[ST_PUT_OWN];
    int ret;
    pthread_mutex_lock(&s->lock);
    if (sqlite3_bind_int64(st, 1, (sqlite3_int64)seq) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, (sqlite3_int64)index) != SQLITE_OK ||
        sqlite3_bind_text(st, 3, hash, BLOCK_HASH_HEX, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_blob64(st, 4, data, len, SQLITE_STATIC) != SQLITE_OK) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        ret = db_fail(s->db, "cannot store the own append", err, errsz);
    } else {
        ret = step_done(s, st, "cannot store the own append", err, errsz);
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

int store_own_forget(struct store *s, uint64_t below, char *err, size_t errsz)
{
    sqlite3_stmt *st = s->st[ST_FORGET_OWN];
    pthread_mutex_lock(&s->lock);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)below);
    int ret = step_done(s, st, "cannot forget own appends", err, errsz);
    pthread_mutex_unlock(&s->lock);
    return ret;
}
