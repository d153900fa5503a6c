/* fuzz_peers: peers_normalize(), peers_add() and peers_remove() on arbitrary text with a small
 * max_url. An accepted URL starts with http:// or https://, fits max_url, and normalising it again
 * gives it back unchanged; the set's answers agree with the normaliser's.
 *
 * Input: one byte M (max_url = 1 + M % PEERS_FUZZ_URL_MAX), then lines of text. A line starting
 * with '-' removes the URL after the '-'; any other line adds it. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "buf.h"
#include "log.h"
#include "peers.h"
#include "xalloc.h"

#define PEERS_FUZZ_MAX     4    /* max_peers: small, so PEERS_FULL is reached */
#define PEERS_FUZZ_URL_MAX 80   /* largest max_url tried */
#define PEERS_FUZZ_PORT    8080 /* this node's own port: http://127.0.0.1:8080 is rejected */
#define ERR_SZ             256

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_threshold = LOG_ERROR; /* peers logs adds and removes at info level */
    return 0;
}

static bool has_http_prefix(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* Normalise one text; returns true with the URL in out (max_url + 1 bytes) when accepted. */
static bool check_normalize(const struct peers *p, size_t max_url, const char *text, size_t len,
                            char *out)
{
    char err[ERR_SZ];
    char *again = xmalloc(max_url + 1);

    err[0] = '\0';
    int rc = peers_normalize(p, text, len, out, max_url + 1, err, sizeof(err));
    if (rc != PEERS_OK) {
        if (rc != PEERS_INVALID || err[0] == '\0')
            fuzz_fail(__LINE__);
        free(again);
        return false;
    }
    size_t n = strlen(out);
    if (n == 0 || n > max_url || !has_http_prefix(out))
        fuzz_fail(__LINE__);
    if (peers_normalize(p, out, n, again, max_url + 1, err, sizeof(err)) != PEERS_OK ||
        strcmp(out, again) != 0)
        fuzz_fail(__LINE__); /* normalising is idempotent */
    free(again);
    return true;
}

/* The peers as JSON must be an array of count strings, each an accepted URL. */
static void check_list(struct peers *p, size_t max_url)
{
    struct buf out = BUF_INIT;
    json_error_t jerr;

    peers_write_json(p, &out);
    json_t *arr = json_loadb(out.data, out.len, 0, &jerr);
    if (arr == NULL || !json_is_array(arr) || json_array_size(arr) != peers_count(p))
        fuzz_fail(__LINE__);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *s = json_array_get(arr, i);
        if (!json_is_string(s) || json_string_length(s) > max_url ||
            !has_http_prefix(json_string_value(s)))
            fuzz_fail(__LINE__);
    }
    json_decref(arr);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max_url = 1 + data[0] % PEERS_FUZZ_URL_MAX;
    const char *text = (const char *)data + 1;
    size_t left = size - 1;
    struct peers *p = peers_new(PEERS_FUZZ_MAX, max_url, "127.0.0.1", PEERS_FUZZ_PORT);
    char *url = xmalloc(max_url + 1);
    char err[ERR_SZ];

    while (left > 0) {
        const char *nl = memchr(text, '\n', left);
        size_t len = nl ? (size_t)(nl - text) : left;
        bool remove = len > 0 && text[0] == '-';
        const char *arg = remove ? text + 1 : text;
        size_t arg_len = remove ? len - 1 : len;
        bool valid = check_normalize(p, max_url, arg, arg_len, url);
        size_t before = peers_count(p);
        uint64_t gen = peers_generation(p);
        int rc = remove ? peers_remove(p, arg, arg_len, err, sizeof(err))
                        : peers_add(p, arg, arg_len, err, sizeof(err));
        size_t after = peers_count(p);

        if (!valid && rc != PEERS_INVALID)
            fuzz_fail(__LINE__); /* the set and the normaliser disagree */
        if (valid && rc == PEERS_INVALID)
            fuzz_fail(__LINE__);
        if (rc == PEERS_OK) {
            if (after != (remove ? before - 1 : before + 1) || peers_generation(p) == gen)
                fuzz_fail(__LINE__);
        } else if (after != before || peers_generation(p) != gen) {
            fuzz_fail(__LINE__); /* nothing changed */
        }
        if (after > PEERS_FUZZ_MAX)
            fuzz_fail(__LINE__);
        if (valid) { /* the URL is held exactly when the last operation said so */
            uint64_t g;
            char **list = peers_list(p, &g);
            bool held = false;
            for (char **q = list; *q; q++)
                held = held || strcmp(*q, url) == 0;
            peers_list_free(list);
            if (held != (!remove && (rc == PEERS_OK || rc == PEERS_EXISTS)))
                fuzz_fail(__LINE__);
        }
        if (nl == NULL)
            break;
        text = nl + 1;
        left -= len + 1;
    }
    check_list(p, max_url);
    free(url);
    peers_free(p);
    return 0;
}
