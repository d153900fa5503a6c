/* peers: the node's set of peer base URLs, validated with libcurl's URL parser. */
#include "peers.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "pyjson.h"
#include "xalloc.h"

struct peers {
    pthread_mutex_t lock;
    char **urls; /* owned strings, in the order added */
    size_t n;
    size_t max_peers;
    size_t max_url;
    uint64_t generation;
    char *self_host;
    uint16_t self_port;
    char *advertise;     /* this node's public URL (normalised), or NULL */
    struct store *store; /* borrowed; NULL: the peers live in memory only */
};

struct peers *peers_new(size_t max_peers, size_t max_url, const char *self_host, uint16_t self_port)
{
    struct peers *p = xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    p->urls = xcalloc(max_peers ? max_peers : 1, sizeof(char *));
    p->max_peers = max_peers;
    p->max_url = max_url;
    p->self_host = xstrdup(self_host ? self_host : "127.0.0.1");
    p->self_port = self_port;
    return p;
}

void peers_free(struct peers *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->urls[i]);
    free(p->urls);
    free(p->self_host);
    free(p->advertise);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void peers_set_store(struct peers *p, struct store *s)
{
    pthread_mutex_lock(&p->lock);
    p->store = s;
    pthread_mutex_unlock(&p->lock);
}

/* host (as libcurl gives it: IPv6 in brackets, lowercase) as an address: "localhost" is
 * 127.0.0.1 and 0.0.0.0 too (a connection to it goes to 127.0.0.1); an IPv4-mapped IPv6 address
 * is its IPv4 address. Returns AF_INET or AF_INET6 with *out set, or 0 for any other name. */
static int host_address(const char *host, struct in6_addr *out)
{
    char h[256];
    snprintf(h, sizeof(h), "%s", host);
    size_t n = strlen(h);
    if (n > 0 && h[n - 1] == '.')
        h[--n] = '\0'; /* "localhost." is "localhost" */
    struct in_addr v4;
    memset(out, 0, sizeof(*out));
    if (strcasecmp(h, "localhost") == 0)
        snprintf(h, sizeof(h), "127.0.0.1");
    if (inet_pton(AF_INET, h, &v4) != 1 && n > 2 && h[0] == '[' && h[n - 1] == ']') {
        h[n - 1] = '\0';
        if (inet_pton(AF_INET6, h + 1, out) != 1)
            return 0;
        if (!IN6_IS_ADDR_V4MAPPED(out))
            return AF_INET6;
        memcpy(&v4, out->s6_addr + 12, 4);
    } else if (inet_pton(AF_INET, h, &v4) != 1) {
        return 0;
    }
    if (v4.s_addr == htonl(INADDR_ANY))
        v4.s_addr = htonl(INADDR_LOOPBACK);
    memset(out, 0, sizeof(*out));
    memcpy(out->s6_addr, &v4, 4);
    return AF_INET;
}

/* True when a connection to host (at this node's port) reaches this node: it names the address
 * the node listens on (the same name, or the same address however written), or any address of
 * this machine's loopback when the node listens on every address (0.0.0.0 or ::). A node on
 * 127.0.0.1 is not reached at 127.0.0.2: other nodes listen there. */
static bool is_local_host(const struct peers *p, const char *host)
{
    if (strcasecmp(host, p->self_host) == 0)
        return true;
    struct in6_addr a, self;
    int af = host_address(host, &a);
    char bracketed[300];
    snprintf(bracketed, sizeof(bracketed), strchr(p->self_host, ':') ? "[%s]" : "%s", p->self_host);
    int self_af = host_address(bracketed, &self);
    if (af == 0 || self_af == 0)
        return false;
    bool self_any = strcmp(p->self_host, "0.0.0.0") == 0 || strcmp(p->self_host, "::") == 0;
    if (self_any) {
        static const struct in6_addr any6 = IN6ADDR_ANY_INIT;
        if (af == AF_INET6)
            return IN6_IS_ADDR_LOOPBACK(&a) || memcmp(&a, &any6, sizeof(a)) == 0;
        return a.s6_addr[0] == 127;
    }
    return af == self_af && memcmp(&a, &self, sizeof(a)) == 0;
}

static int invalid(char *err, size_t errsz, const char *msg)
{
    snprintf(err, errsz, "%s", msg);
    return PEERS_INVALID;
}

/* One pass of peers_normalize(), checking that the URL is not this node only when check_self is
 * set. */
static int normalize_once(const struct peers *p, const char *text, size_t len, char *out,
                          size_t outsz, char *err, size_t errsz, bool check_self)
{
    int rc = PEERS_INVALID;
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *query = NULL, *frag = NULL,
         *path = NULL;

    while (len > 0 && isspace((unsigned char)text[0]))
        text++, len--;
    while (len > 0 && (isspace((unsigned char)text[len - 1]) || text[len - 1] == '/'))
        len--;
    if (len == 0) {
        rc = invalid(err, errsz, "the body must be a peer URL such as http://127.0.0.1:8081");
        goto out;
    }
    if (len > p->max_url || len + 1 > outsz) {
        snprintf(err, errsz, "peer URL is %zu bytes; the limit is %zu", len, p->max_url);
        goto out;
    }
    if (memchr(text, '\0', len) || !pyjson_utf8_valid(text, len)) {
        rc = invalid(err, errsz, "peer URL must be printable text");
        goto out;
    }
    memcpy(out, text, len);
    out[len] = '\0';
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)out[i] <= 0x20 || (unsigned char)out[i] >= 0x7f) {
            rc = invalid(err, errsz, "peer URL must not contain spaces or control characters");
            goto out;
        }
    }
    if (strpbrk(out, "?#@")) {
        rc = invalid(err, errsz, "peer URL must not carry a user, query or fragment");
        goto out;
    }
    u = curl_url();
    if (u == NULL || curl_url_set(u, CURLUPART_URL, out, 0) != CURLUE_OK) {
        rc = invalid(err, errsz, "peer URL is malformed; expected http://HOST:PORT");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        rc = invalid(err, errsz, "peer URL must use http or https");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        rc = invalid(err, errsz, "peer URL has no host");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
        rc = invalid(err, errsz, "peer URL must not carry a user, query or fragment");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        atoi(port) <= 0) {
        rc = invalid(err, errsz, "peer URL has a bad port");
        goto out;
    }
    for (char *c = host; *c; c++) {
        /* libcurl decodes %XX in the host: only a plain name or address may come out. */
        if (!isalnum((unsigned char)*c) && !strchr(".-_:[]", *c)) {
            rc = invalid(err, errsz, "peer URL host must be a plain name or address");
            goto out;
        }
        *c = (char)tolower((unsigned char)*c);
    }
    if (check_self && is_local_host(p, host) && p->self_port != 0 &&
        atoi(port) == (int)p->self_port) {
        rc = invalid(err, errsz, "peer URL points at this node itself");
        goto out;
    }
    /* The canonical form: lowercase scheme and host, the port as given, no trailing '/'. */
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    char *given_port = NULL;
    bool has_port = curl_url_get(u, CURLUPART_PORT, &given_port, 0) == CURLUE_OK;
    size_t plen = path ? strlen(path) : 0;
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    int w = snprintf(out, outsz, "%s://%s%s%s%.*s", scheme, host, has_port ? ":" : "",
                     has_port ? given_port : "", (int)plen, path ? path : "");
    curl_free(given_port);
    if (w < 0 || (size_t)w >= outsz || (size_t)w > p->max_url) {
        snprintf(err, errsz, "peer URL is too long; the limit is %zu bytes", p->max_url);
        goto out;
    }
    if (check_self && p->advertise && strcmp(out, p->advertise) == 0) {
        rc = invalid(err, errsz, "peer URL is this node's own advertised URL (--advertise)");
        goto out;
    }
    rc = PEERS_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_free(query);
    curl_free(frag);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

/* normalize_once(), then once more on its own result: libcurl decodes %XX in a host but reads
 * numeric forms such as "027" or "0x27" only in the text it parses, so "http://%3027" would become
 * "http://027" and then "http://0.0.0.23". A URL whose canonical form is not a fixed point has two
 * meanings; it is refused. */
static int normalize(const struct peers *p, const char *text, size_t len, char *out, size_t outsz,
                     char *err, size_t errsz, bool check_self)
{
    int rc = normalize_once(p, text, len, out, outsz, err, errsz, check_self);
    if (rc != PEERS_OK)
        return rc;
    char *again = xmalloc(outsz);
    if (normalize_once(p, out, strlen(out), again, outsz, err, errsz, check_self) != PEERS_OK ||
        strcmp(out, again) != 0) {
        rc = invalid(err, errsz,
                     "peer URL host must be a plain name or address (it reads differently once "
                     "%XX is decoded)");
        out[0] = '\0';
    }
    free(again);
    return rc;
}

int peers_normalize(const struct peers *p, const char *text, size_t len, char *out, size_t outsz,
                    char *err, size_t errsz)
{
    return normalize(p, text, len, out, outsz, err, errsz, true);
}

int peers_set_advertise(struct peers *p, const char *text, size_t len, char *out, size_t outsz,
                        char *err, size_t errsz)
{
    int rc = normalize(p, text, len, out, outsz, err, errsz, false);
    if (rc == PEERS_OK) {
        free(p->advertise);
        p->advertise = xstrdup(out);
    }
    return rc;
}

static ssize_t find_locked(struct peers *p, const char *url)
{
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->urls[i], url) == 0)
            return (ssize_t)i;
    }
    return -1;
}

int peers_add(struct peers *p, const char *text, size_t len, char *err, size_t errsz)
{
    char *url = xmalloc(p->max_url + 1);
    int rc = peers_normalize(p, text, len, url, p->max_url + 1, err, errsz);
    if (rc != PEERS_OK)
        goto out;
    pthread_mutex_lock(&p->lock);
    if (find_locked(p, url) >= 0) {
        rc = PEERS_EXISTS;
    } else if (p->n >= p->max_peers) {
        snprintf(err, errsz, "this node already has %zu peers, the limit; remove one first",
                 p->max_peers);
        rc = PEERS_FULL;
    } else if (p->store && store_peer_add(p->store, url, err, errsz) < 0) {
        rc = PEERS_FAILED;
    } else {
        p->urls[p->n++] = xstrdup(url);
        p->generation++;
        log_info("peers: added %s", url);
    }
    pthread_mutex_unlock(&p->lock);
out:
    free(url);
    return rc;
}

int peers_remove(struct peers *p, const char *text, size_t len, char *err, size_t errsz)
{
    char *url = xmalloc(p->max_url + 1);
    int rc = peers_normalize(p, text, len, url, p->max_url + 1, err, errsz);
    if (rc != PEERS_OK)
        goto out;
    pthread_mutex_lock(&p->lock);
    ssize_t i = find_locked(p, url);
    if (i < 0) {
        snprintf(err, errsz, "'%.200s' is not a peer of this node", url);
        rc = PEERS_UNKNOWN;
    } else if (p->store && store_peer_remove(p->store, url, err, errsz) < 0) {
        rc = PEERS_FAILED;
    } else {
        log_info("peers: removed %s", url);
        free(p->urls[i]);
        memmove(&p->urls[i], &p->urls[i + 1], (p->n - (size_t)i - 1) * sizeof(char *));
        p->n--;
        p->generation++;
    }
    pthread_mutex_unlock(&p->lock);
out:
    free(url);
    return rc;
}

size_t peers_count(struct peers *p)
{
    pthread_mutex_lock(&p->lock);
    size_t n = p->n;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void peers_write_json(struct peers *p, struct buf *out)
{
    pthread_mutex_lock(&p->lock);
    buf_append_char(out, '[');
    for (size_t i = 0; i < p->n; i++) {
        if (i > 0)
            buf_append(out, ", ", 2);
        pyjson_write_string(out, p->urls[i], strlen(p->urls[i]));
    }
    buf_append_char(out, ']');
    pthread_mutex_unlock(&p->lock);
}

char **peers_list(struct peers *p, uint64_t *generation)
{
    pthread_mutex_lock(&p->lock);
    char **list = xcalloc(p->n + 1, sizeof(char *));
    for (size_t i = 0; i < p->n; i++)
        list[i] = xstrdup(p->urls[i]);
    if (generation)
        *generation = p->generation;
    pthread_mutex_unlock(&p->lock);
    return list;
}

uint64_t peers_generation(struct peers *p)
{
    pthread_mutex_lock(&p->lock);
    uint64_t g = p->generation;
    pthread_mutex_unlock(&p->lock);
    return g;
}

void peers_list_free(char **list)
{
    if (list == NULL)
        return;
    for (char **q = list; *q; q++)
        free(*q);
    free(list);
}
