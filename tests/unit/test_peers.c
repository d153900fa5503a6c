/* Unit tests for node/peers.c: the peer URL rules, add/remove results, order and generation. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "peers.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ERR_SZ       256
#define SELF_HOST    "127.0.0.1"
#define SELF_PORT    8080
#define SHORT_URL    32 /* max_url of the rows that test the length limit */

#define NUL_URL "http://example.com\000:8081"

#define ERR_EMPTY  "the body must be a peer URL"
#define ERR_SCHEME "peer URL must use http or https"
#define ERR_BAD    "peer URL is malformed"
#define ERR_SPACE  "peer URL must not contain spaces or control characters"
#define ERR_TEXT   "peer URL must be printable text"
#define ERR_PARTS  "peer URL must not carry a user, query or fragment"
#define ERR_SELF   "peer URL points at this node itself"
#define ERR_LONG   "bytes; the limit is 32"

static const struct {
    const char *name;
    const char *text;
    size_t len;       /* 0: strlen(text) */
    size_t max_url;   /* 0: CONFIG_MAX_URL */
    const char *want; /* the normalised URL, or NULL when rejected */
    const char *err;  /* rejected: expected substring of the error */
} url_rows[] = {
    /* accepted */
    {"http with IP and port", "http://127.0.0.1:8081", 0, 0, "http://127.0.0.1:8081", NULL},
    {"https with name and port", "https://example.com:8443", 0, 0, "https://example.com:8443",
     NULL},
    {"no port", "http://example.com", 0, 0, "http://example.com", NULL},
    {"https, no port", "https://example.com", 0, 0, "https://example.com", NULL},
    {"path", "http://example.com/chain", 0, 0, "http://example.com/chain", NULL},
    {"port and deeper path", "http://example.com:8081/a/b", 0, 0, "http://example.com:8081/a/b",
     NULL},
    {"IPv6 literal", "http://[::1]:8081", 0, 0, "http://[::1]:8081", NULL},
    {"trailing slash dropped", "http://127.0.0.1:8081/", 0, 0, "http://127.0.0.1:8081", NULL},
    {"trailing slashes dropped", "http://127.0.0.1:8081///", 0, 0, "http://127.0.0.1:8081", NULL},
    {"trailing slash after a path dropped", "http://example.com/chain/", 0, 0,
     "http://example.com/chain", NULL},
    {"surrounding white space dropped", "  http://127.0.0.1:8081\n", 0, 0, "http://127.0.0.1:8081",
     NULL},
    {"white space and slash dropped", "\thttp://127.0.0.1:8081/ \r\n", 0, 0,
     "http://127.0.0.1:8081", NULL},
    {"localhost on another port", "http://localhost:8081", 0, 0, "http://localhost:8081", NULL},
    {"127.0.0.1 on another port", "http://127.0.0.1:9090", 0, 0, "http://127.0.0.1:9090", NULL},
    {"0.0.0.0 on another port", "http://0.0.0.0:8081", 0, 0, "http://0.0.0.0:8081", NULL},
    {"localhost without port (80)", "http://localhost", 0, 0, "http://localhost", NULL},
    {"another host on our port", "http://10.0.0.1:8080", 0, 0, "http://10.0.0.1:8080", NULL},
    {"exactly max_url bytes", "http://example.com:8081/abcdefgh", 0, SHORT_URL,
     "http://example.com:8081/abcdefgh", NULL},
    {"over max_url only before trimming", "  http://example.com:8081/abcdefgh/ \n", 0, SHORT_URL,
     "http://example.com:8081/abcdefgh", NULL},

    /* percent-encoded hosts decode to bytes that are no name (found by tests/fuzz/fuzz_peers) */
    {"percent-encoded byte as host", "http://%ca", 0, 0, NULL, "plain name or address"},
    {"percent-encoded UTF-8 host", "http://%c3%a9:1", 0, 0, NULL, "plain name or address"},
    /* decoded, these read as octal or hex IPv4 only when parsed again: two meanings */
    {"percent-encoded octal host", "http:/%3027/:8081", 0, 0, NULL, "plain name or address"},
    {"percent-encoded hex host", "http://%30x27:8081", 0, 0, NULL, "plain name or address"},
    {"percent-encoded digit in a name", "http://n%30de:8081", 0, 0, "http://n0de:8081", NULL},

    /* schemes */
    {"ftp", "ftp://example.com", 0, 0, NULL, ERR_SCHEME},
    {"file", "file:///etc/passwd", 0, 0, NULL, ERR_SCHEME},
    {"gopher", "gopher://example.com:70/", 0, 0, NULL, ERR_SCHEME},
    {"dict", "dict://example.com:2628", 0, 0, NULL, ERR_SCHEME},
    {"no scheme, host and port", "example.com:8081", 0, 0, NULL, ERR_BAD},
    {"no scheme, IP and port", "127.0.0.1:8081", 0, 0, NULL, ERR_BAD},
    {"scheme-relative", "//example.com:8081", 0, 0, NULL, ERR_BAD},
    {"javascript", "javascript:alert(1)", 0, 0, NULL, ERR_BAD},

    /* empty and malformed */
    {"empty", "", 0, 0, NULL, ERR_EMPTY},
    {"white space only", " \t\r\n", 0, 0, NULL, ERR_EMPTY},
    {"slash only", "/", 0, 0, NULL, ERR_EMPTY},
    {"scheme only", "http://", 0, 0, NULL, ERR_BAD},
    {"no host", "http://:8081", 0, 0, NULL, ERR_BAD},
    {"port not a number", "http://example.com:abc", 0, 0, NULL, ERR_BAD},
    {"port out of range", "http://example.com:99999", 0, 0, NULL, ERR_BAD},
    {"bad IPv6 literal", "http://[zz]:8081", 0, 0, NULL, ERR_BAD},

    /* spaces, control characters, bytes that are not UTF-8 */
    {"space in the host", "http://exa mple.com", 0, 0, NULL, ERR_SPACE},
    {"space in the path", "http://example.com/a b", 0, 0, NULL, ERR_SPACE},
    {"tab inside", "http://example.com:8081\t/x", 0, 0, NULL, ERR_SPACE},
    {"newline inside", "http://example.com\n:8081", 0, 0, NULL, ERR_SPACE},
    {"DEL inside", "http://example.com/\177", 0, 0, NULL, ERR_SPACE},
    {"UTF-8 host", "http://ex\303\251.com", 0, 0, NULL, ERR_SPACE},
    {"byte FF", "http://example.com/\377", 0, 0, NULL, ERR_TEXT},
    {"truncated UTF-8", "http://example.com/\303", 0, 0, NULL, ERR_TEXT},
    {"overlong UTF-8", "http://example.com/\300\257", 0, 0, NULL, ERR_TEXT},
    {"NUL inside", NUL_URL, sizeof(NUL_URL) - 1, 0, NULL, ERR_TEXT},

    /* user, query, fragment */
    {"user", "http://user@example.com:8081", 0, 0, NULL, ERR_PARTS},
    {"user and password", "http://user:pw@example.com:8081", 0, 0, NULL, ERR_PARTS},
    {"password only", "http://:pw@example.com:8081", 0, 0, NULL, ERR_PARTS},
    {"empty user", "http://@example.com:8081", 0, 0, NULL, ERR_PARTS},
    {"query", "http://example.com:8081?x=1", 0, 0, NULL, ERR_PARTS},
    {"query after a path", "http://example.com:8081/p?x=1", 0, 0, NULL, ERR_PARTS},
    {"empty query", "http://example.com:8081?", 0, 0, NULL, ERR_PARTS},
    {"fragment", "http://example.com:8081#frag", 0, 0, NULL, ERR_PARTS},
    {"fragment after a path", "http://example.com:8081/p#frag", 0, 0, NULL, ERR_PARTS},
    /* "<peer>/block" would then be "http://example.com:8081#/block": a request for "/" */
    {"empty fragment", "http://example.com:8081#", 0, 0, NULL, ERR_PARTS},
    {"empty fragment after a path", "http://example.com:8081/p#", 0, 0, NULL, ERR_PARTS},

    /* length */
    {"one over max_url", "http://example.com:8081/abcdefghi", 0, SHORT_URL, NULL, ERR_LONG},
    {"far over max_url", "http://example.com:8081/abcdefghijklmnopqrstuvwxyz", 0, SHORT_URL, NULL,
     ERR_LONG},

    /* this node itself (127.0.0.1:8080) */
    {"itself by IP", "http://127.0.0.1:8080", 0, 0, NULL, ERR_SELF},
    {"itself by IP, trailing slash", "http://127.0.0.1:8080/", 0, 0, NULL, ERR_SELF},
    {"itself with a path", "http://127.0.0.1:8080/x", 0, 0, NULL, ERR_SELF},
    {"itself by localhost", "http://localhost:8080", 0, 0, NULL, ERR_SELF},
    {"itself by LOCALHOST", "http://LOCALHOST:8080", 0, 0, NULL, ERR_SELF},
    {"itself by 0.0.0.0", "http://0.0.0.0:8080", 0, 0, NULL, ERR_SELF},
    /* other loopback addresses are other nodes' (the node listens on 127.0.0.1 only) */
    {"another loopback address", "http://127.0.0.2:8080", 0, 0, "http://127.0.0.2:8080", NULL},
    {"the IPv6 loopback", "http://[::1]:8080", 0, 0, "http://[::1]:8080", NULL},
    {"itself by IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]:8080", 0, 0, NULL, ERR_SELF},
    {"itself over https", "https://localhost:8080", 0, 0, NULL, ERR_SELF},
    {"itself with a leading zero port", "http://localhost:08080", 0, 0, NULL, ERR_SELF},
};

START_TEST(test_url)
{
    size_t max_url = url_rows[_i].max_url ? url_rows[_i].max_url : CONFIG_MAX_URL;
    struct peers *p = peers_new(CONFIG_MAX_PEERS, max_url, SELF_HOST, SELF_PORT);
    const char *text = url_rows[_i].text;
    const char *want = url_rows[_i].want;
    size_t len = url_rows[_i].len ? url_rows[_i].len : strlen(text);
    char out[CONFIG_MAX_URL + 1] = "", err[ERR_SZ] = "", add_err[ERR_SZ] = "";
    char remove_err[ERR_SZ] = "", listed[CONFIG_MAX_URL + 8] = "", want_listed[CONFIG_MAX_URL + 8];
    struct buf list = BUF_INIT;

    /* run everything first and release the set, so a failing row leaks nothing */
    int rc = peers_normalize(p, text, len, out, sizeof(out), err, sizeof(err));
    int add_rc = peers_add(p, text, len, add_err, sizeof(add_err));
    peers_write_json(p, &list);
    snprintf(listed, sizeof(listed), "%s", list.data);
    buf_free(&list);
    int remove_rc = peers_remove(p, text, len, remove_err, sizeof(remove_err));
    size_t count = peers_count(p);
    peers_free(p);

    if (want != NULL) {
        ck_assert_msg(rc == PEERS_OK, "%s: rejected: %s", url_rows[_i].name, err);
        ck_assert_str_eq(out, want);
        /* add takes it under its normalised form, and remove finds it */
        ck_assert_msg(add_rc == PEERS_OK, "%s: add: %s", url_rows[_i].name, add_err);
        snprintf(want_listed, sizeof(want_listed), "[\"%s\"]", want);
        ck_assert_str_eq(listed, want_listed);
        ck_assert_msg(remove_rc == PEERS_OK, "%s: remove: %s", url_rows[_i].name, remove_err);
    } else {
        ck_assert_msg(rc == PEERS_INVALID, "%s: accepted as '%s'", url_rows[_i].name, out);
        ck_assert_msg(strstr(err, url_rows[_i].err) != NULL, "%s: error '%s' lacks '%s'",
                      url_rows[_i].name, err, url_rows[_i].err);
        ck_assert_int_eq(add_rc, PEERS_INVALID);
        ck_assert_msg(strstr(add_err, url_rows[_i].err) != NULL, "%s: add error '%s'",
                      url_rows[_i].name, add_err);
        ck_assert_str_eq(listed, "[]");
        ck_assert_int_eq(remove_rc, PEERS_INVALID);
    }
    ck_assert_uint_eq(count, 0);
}
END_TEST

/* The default limit, CONFIG_MAX_URL, on URLs built to size. */
START_TEST(test_url_default_limit)
{
    struct peers *p = peers_new(CONFIG_MAX_PEERS, CONFIG_MAX_URL, SELF_HOST, SELF_PORT);
    char text[CONFIG_MAX_URL + 2], out[CONFIG_MAX_URL + 2], err[ERR_SZ];
    static const char prefix[] = "http://example.com/";

    for (size_t len = CONFIG_MAX_URL - 1; len <= CONFIG_MAX_URL + 1; len++) {
        memcpy(text, prefix, sizeof(prefix) - 1);
        memset(text + sizeof(prefix) - 1, 'a', len - (sizeof(prefix) - 1));
        text[len] = '\0';
        int rc = peers_normalize(p, text, len, out, sizeof(out), err, sizeof(err));
        if (len <= CONFIG_MAX_URL) {
            ck_assert_msg(rc == PEERS_OK, "%zu bytes: %s", len, err);
            ck_assert_str_eq(out, text);
        } else {
            ck_assert_int_eq(rc, PEERS_INVALID);
            ck_assert_ptr_nonnull(strstr(err, "the limit is 512"));
        }
    }
    peers_free(p);
}
END_TEST

static const struct {
    const char *self_host;
    uint16_t self_port;
    const char *url;
    int rc;
} self_rows[] = {
    {"10.1.2.3", 9000, "http://10.1.2.3:9000", PEERS_INVALID},
    {"10.1.2.3", 9000, "http://10.1.2.3:9001", PEERS_OK},
    {"10.1.2.3", 9000, "http://localhost:9000", PEERS_OK}, /* 127.0.0.1 does not reach it */
    {"10.1.2.3", 9000, "http://[::ffff:10.1.2.3]:9000", PEERS_INVALID},
    /* a node on its own loopback address (the sim's addresses layout): others share its port */
    {"127.1.0.0", 9000, "http://127.1.0.0:9000", PEERS_INVALID},
    {"127.1.0.0", 9000, "http://127.2.0.1:9000", PEERS_OK},
    {"127.1.0.0", 9000, "http://127.1.0.1:9000", PEERS_OK},
    {"127.1.0.0", 9000, "http://localhost:9000", PEERS_OK},
    /* a node on every address is reached on any loopback address */
    {"0.0.0.0", 9000, "http://127.0.0.2:9000", PEERS_INVALID},
    {"0.0.0.0", 9000, "http://localhost:9000", PEERS_INVALID},
    {"0.0.0.0", 9000, "http://[::1]:9000", PEERS_INVALID},
    {"0.0.0.0", 9000, "http://10.9.9.9:9000", PEERS_OK},
    {"::", 9000, "http://[::1]:9000", PEERS_INVALID},
    {"10.1.2.3", 9000, "http://127.0.0.1:8080", PEERS_OK},
    {"node-a.example", 80, "http://NODE-A.example", PEERS_INVALID},
    {"node-a.example", 80, "https://node-b.example", PEERS_OK},
    {NULL, 8080, "http://127.0.0.1:8080", PEERS_INVALID}, /* NULL self host is 127.0.0.1 */
    /* port 0: the node's port is not known, so nothing counts as itself */
    {"127.0.0.1", 0, "http://127.0.0.1:8080", PEERS_OK},
    {"127.0.0.1", 0, "http://localhost", PEERS_OK},
};

START_TEST(test_self)
{
    struct peers *p = peers_new(CONFIG_MAX_PEERS, CONFIG_MAX_URL, self_rows[_i].self_host,
                                self_rows[_i].self_port);
    char out[CONFIG_MAX_URL + 1], err[ERR_SZ] = "";
    const char *url = self_rows[_i].url;

    ck_assert_msg(peers_normalize(p, url, strlen(url), out, sizeof(out), err, sizeof(err)) ==
                      self_rows[_i].rc,
                  "%s as %s:%u: %s", url,
                  self_rows[_i].self_host ? self_rows[_i].self_host : "(default)",
                  self_rows[_i].self_port, err);
    if (self_rows[_i].rc == PEERS_INVALID)
        ck_assert_str_eq(err, ERR_SELF);
    peers_free(p);
}
END_TEST

/* ---- add and remove, replayed step by step ------------------------------------------------- */

enum op { ADD, REMOVE };

#define MAX_PEERS_IN_STEPS 3

static const struct {
    enum op op;
    const char *url;
    int rc;
    uint64_t generation; /* after the step */
    const char *json;    /* the listing after the step */
    const char *err;     /* expected substring on failure */
} step_rows[] = {
    {ADD, "http://a:1", PEERS_OK, 1, "[\"http://a:1\"]", NULL},
    {ADD, "http://a:1/", PEERS_EXISTS, 1, "[\"http://a:1\"]", NULL},
    {ADD, " http://a:1 \n", PEERS_EXISTS, 1, "[\"http://a:1\"]", NULL},
    {ADD, "ftp://a:1", PEERS_INVALID, 1, "[\"http://a:1\"]", ERR_SCHEME},
    {ADD, "http://c:3", PEERS_OK, 2, "[\"http://a:1\", \"http://c:3\"]", NULL},
    {ADD, "http://b:2", PEERS_OK, 3, "[\"http://a:1\", \"http://c:3\", \"http://b:2\"]", NULL},
    {ADD, "http://d:4", PEERS_FULL, 3, "[\"http://a:1\", \"http://c:3\", \"http://b:2\"]",
     "already has 3 peers, the limit"},
    {ADD, "http://b:2", PEERS_EXISTS, 3, "[\"http://a:1\", \"http://c:3\", \"http://b:2\"]", NULL},
    {ADD, "gopher://d:4", PEERS_INVALID, 3, "[\"http://a:1\", \"http://c:3\", \"http://b:2\"]",
     ERR_SCHEME},
    {REMOVE, "http://d:4", PEERS_UNKNOWN, 3, "[\"http://a:1\", \"http://c:3\", \"http://b:2\"]",
     "'http://d:4' is not a peer of this node"},
    {REMOVE, "file:///c", PEERS_INVALID, 3, "[\"http://a:1\", \"http://c:3\", \"http://b:2\"]",
     ERR_SCHEME},
    {REMOVE, "http://c:3/", PEERS_OK, 4, "[\"http://a:1\", \"http://b:2\"]", NULL},
    {REMOVE, "http://c:3", PEERS_UNKNOWN, 4, "[\"http://a:1\", \"http://b:2\"]",
     "is not a peer of this node"},
    {ADD, "http://d:4", PEERS_OK, 5, "[\"http://a:1\", \"http://b:2\", \"http://d:4\"]", NULL},
    {ADD, "http://c:3", PEERS_FULL, 5, "[\"http://a:1\", \"http://b:2\", \"http://d:4\"]",
     "the limit"},
    {REMOVE, "http://a:1", PEERS_OK, 6, "[\"http://b:2\", \"http://d:4\"]", NULL},
    {REMOVE, "http://d:4", PEERS_OK, 7, "[\"http://b:2\"]", NULL},
    {REMOVE, "http://b:2", PEERS_OK, 8, "[]", NULL},
    {REMOVE, "http://b:2", PEERS_UNKNOWN, 8, "[]", "is not a peer"},
    {ADD, "http://c:3", PEERS_OK, 9, "[\"http://c:3\"]", NULL},
    {ADD, "http://127.0.0.1:8080", PEERS_INVALID, 9, "[\"http://c:3\"]", ERR_SELF},
};

/* Replay steps 0.._i on a fresh set and check step _i's result and the state after it. */
START_TEST(test_step)
{
    struct peers *p = peers_new(MAX_PEERS_IN_STEPS, CONFIG_MAX_URL, SELF_HOST, SELF_PORT);
    char err[ERR_SZ] = "";
    int rc = 0;

    ck_assert_uint_eq(peers_generation(p), 0);
    for (size_t k = 0; k <= (size_t)_i; k++) {
        const char *url = step_rows[k].url;
        err[0] = '\0';
        if (step_rows[k].op == ADD)
            rc = peers_add(p, url, strlen(url), err, sizeof(err));
        else
            rc = peers_remove(p, url, strlen(url), err, sizeof(err));
    }
    ck_assert_msg(rc == step_rows[_i].rc, "step %d (%s): rc %d, want %d (%s)", _i,
                  step_rows[_i].url, rc, step_rows[_i].rc, err);
    if (step_rows[_i].err != NULL)
        ck_assert_msg(strstr(err, step_rows[_i].err) != NULL, "step %d: error '%s' lacks '%s'", _i,
                      err, step_rows[_i].err);
    ck_assert_uint_eq(peers_generation(p), step_rows[_i].generation);

    struct buf json = BUF_INIT;
    peers_write_json(p, &json);
    ck_assert_str_eq(json.data, step_rows[_i].json);

    /* peers_list: the same URLs in the same order, and the same generation */
    uint64_t gen = 12345;
    char **list = peers_list(p, &gen);
    struct buf again = BUF_INIT;
    size_t n = 0;
    buf_append_char(&again, '[');
    for (; list[n] != NULL; n++)
        buf_printf(&again, "%s\"%s\"", n ? ", " : "", list[n]);
    buf_append_char(&again, ']');
    ck_assert_str_eq(again.data, step_rows[_i].json);
    ck_assert_uint_eq(gen, step_rows[_i].generation);
    ck_assert_uint_eq(peers_count(p), n);

    peers_list_free(list);
    buf_free(&again);
    buf_free(&json);
    peers_free(p);
}
END_TEST

START_TEST(test_zero_max_peers)
{
    struct peers *p = peers_new(0, CONFIG_MAX_URL, SELF_HOST, SELF_PORT);
    char err[ERR_SZ] = "";
    struct buf json = BUF_INIT;

    ck_assert_int_eq(peers_add(p, "http://a:1", 10, err, sizeof(err)), PEERS_FULL);
    ck_assert_int_eq(peers_remove(p, "http://a:1", 10, err, sizeof(err)), PEERS_UNKNOWN);
    ck_assert_uint_eq(peers_count(p), 0);
    ck_assert_uint_eq(peers_generation(p), 0);
    peers_write_json(p, &json);
    ck_assert_str_eq(json.data, "[]");
    buf_free(&json);
    peers_free(p);
}
END_TEST

/* URLs that keep '"' or '\' are listed as JSON strings, as json.dumps writes them. */
START_TEST(test_json_escaping)
{
    struct peers *p = peers_new(CONFIG_MAX_PEERS, CONFIG_MAX_URL, SELF_HOST, SELF_PORT);
    char err[ERR_SZ] = "";
    struct buf json = BUF_INIT;
    static const char quote[] = "http://e.com/a\"b";
    static const char backslash[] = "http://e.com/a\\b";

    ck_assert_int_eq(peers_add(p, quote, strlen(quote), err, sizeof(err)), PEERS_OK);
    ck_assert_int_eq(peers_add(p, backslash, strlen(backslash), err, sizeof(err)), PEERS_OK);
    peers_write_json(p, &json);
    ck_assert_str_eq(json.data, "[\"http://e.com/a\\\"b\", \"http://e.com/a\\\\b\"]");
    buf_free(&json);
    peers_free(p);
}
END_TEST

START_TEST(test_many_peers)
{
    struct peers *p = peers_new(CONFIG_MAX_PEERS, CONFIG_MAX_URL, SELF_HOST, SELF_PORT);
    char url[64], err[ERR_SZ] = "";

    for (int i = 0; i < CONFIG_MAX_PEERS; i++) {
        int n = snprintf(url, sizeof(url), "http://127.0.0.1:%d", 10000 + i);
        ck_assert_int_eq(peers_add(p, url, (size_t)n, err, sizeof(err)), PEERS_OK);
    }
    ck_assert_uint_eq(peers_count(p), CONFIG_MAX_PEERS);
    ck_assert_int_eq(peers_add(p, "http://127.0.0.1:9999", 21, err, sizeof(err)), PEERS_FULL);
    for (int i = CONFIG_MAX_PEERS - 1; i >= 0; i -= 2) {
        int n = snprintf(url, sizeof(url), "http://127.0.0.1:%d/", 10000 + i);
        ck_assert_int_eq(peers_remove(p, url, (size_t)n, err, sizeof(err)), PEERS_OK);
    }
    ck_assert_uint_eq(peers_count(p), CONFIG_MAX_PEERS / 2);
    ck_assert_uint_eq(peers_generation(p), CONFIG_MAX_PEERS + CONFIG_MAX_PEERS / 2);
    char **list = peers_list(p, NULL);
    for (int i = 0; list[i] != NULL; i++) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", 10000 + 2 * i);
        ck_assert_str_eq(list[i], url);
    }
    peers_list_free(list);
    peers_free(p);
}
END_TEST

START_TEST(test_free_null)
{
    peers_free(NULL);
    peers_list_free(NULL);
}
END_TEST

static Suite *peers_suite(void)
{
    Suite *s = suite_create("peers");
    TCase *tc = tcase_create("urls");

    tcase_add_loop_test(tc, test_url, 0, ARRAY_LEN(url_rows));
    tcase_add_test(tc, test_url_default_limit);
    tcase_add_loop_test(tc, test_self, 0, ARRAY_LEN(self_rows));
    suite_add_tcase(s, tc);

    tc = tcase_create("set");
    tcase_add_loop_test(tc, test_step, 0, ARRAY_LEN(step_rows));
    tcase_add_test(tc, test_zero_max_peers);
    tcase_add_test(tc, test_json_escaping);
    tcase_add_test(tc, test_many_peers);
    tcase_add_test(tc, test_free_null);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(peers_suite());
    int failed;

    log_setup("test_peers", LOG_ERROR); /* peers logs every add and remove at info */

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
