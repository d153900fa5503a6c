/* fuzz_http: the node's HTTP API on arbitrary requests, through the real stack: chain, peers,
 * gossip and api (libmicrohttpd) wired as main.c wires them, on an ephemeral 127.0.0.1 port.
 *
 * Input: requests separated by HTTP_FUZZ_SEP ("\n~~~\n"), at most HTTP_FUZZ_MAX_REQUESTS of them,
 * each sent on its own connection. A request is either
 *   - structured: its first line (up to '\n') is METHOD SP TARGET (no SP: the line is the method
 *     and the target is "/"; CR and NUL are dropped from the line), the rest is the body. The
 *     harness sends "METHOD TARGET HTTP/1.1" with Host, Content-Length and Connection: close.
 *   - raw: a first byte RAW_MARK (0x01); the bytes after it are sent as they are, so the parser
 *     and the callbacks see broken framing, bad Content-Length, chunked bodies and pipelining.
 * The harness writes the request, shuts down its sending side and reads to EOF; no EOF within
 * HTTP_FUZZ_WAIT_MS is a hang.
 *
 * Properties:
 *   - An answer starts with an HTTP/1.1 status line (after any 100 Continue) and a whole header
 *     block. An answer of ours (Content-Type application/json) is 200, 202, 400, 404, 405 (with
 *     Allow) or 413, never a 5xx (no database here, so no 500 either); its body is JSON, exactly
 *     {"error": "<sentence>"} for a 4xx, and Content-Length is its length. libmicrohttpd's own
 *     answers (HTML) are the 4xx and 5xx it sends for requests it cannot take, never its 500 (that
 *     one means a callback left a request unanswered). A well-formed structured request always gets
 *     an answer; a raw one may be closed without one. Raw: the first answer only. GET /metrics
 *     is the one answer of ours that is not JSON: 200, Content-Type METRICS_CONTENT_TYPE.
 *   - Structured requests with a plain target (no escapes) are checked against the endpoint table
 *     of DESIGN.md: 404, 405, 413 in routing order, then per endpoint the exact outcome computed
 *     from the chain and the peer set held before the request (block_parse() of a POST /block
 *     body, UTF-8 of an /append body, peers_normalize() of a /peers body): the answer's bytes where
 *     they are determined (GET /block, /blocks, /peers, POST /block, /sync) and the chain's growth.
 *   - After each input: the chain only grew, its new blocks are a valid segment linked to the old
 *     tip, GET /block serves the new tip, and every peer GET /peers lists is deleted by DELETE
 *     /peers with a 200. Before a reset: the whole chain re-parses from its JSON to the same bytes.
 *
 * State stays bounded: peers are deleted through the API after every input; the chain carries
 * over from input to input (every check is relative to the chain held before the request) until
 * it reaches HTTP_FUZZ_RESET_HEIGHT blocks, and then the whole stack is stopped and started again
 * (there is no public way to shorten a chain). Restarting after every input would create threads
 * so fast that thread ids wrap within minutes, and clang 14's LeakSanitizer then reports what a
 * live thread holds (a thread-specific EVP_MD_CTX in block.c) as leaked. An artifact replayed on
 * its own starts from genesis; on a failure the harness prints the height it ran at.
 *
 * No input can make the node reach anything: libcurl's proxy variables send every peer request to
 * a local port that is bound but not listening, so each one fails at once, with no DNS lookup, and
 * no other process on this host is ever contacted. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "fuzz.h"
#include "api.h"
#include "block.h"
#include "buf.h"
#include "chain.h"
#include "config.h"
#include "gossip.h"
#include "log.h"
#include "peers.h"
#include "metrics.h"
#include "pyjson.h"
#include "xalloc.h"

#define HTTP_FUZZ_SEP          "\n~~~\n" /* separates the requests of one input */
#define HTTP_FUZZ_MAX_REQUESTS 8         /* requests per input; the rest is ignored */
#define RAW_MARK               0x01      /* first byte of a request sent as it is */
#define HTTP_FUZZ_MAX_BODY     2048      /* cfg.max_body: small, so 413 is reachable */
#define HTTP_FUZZ_MAX_PEERS    4         /* cfg.max_peers: small, so a full set is reachable */
#define HTTP_FUZZ_CONNECT_MS   100       /* cfg.connect_timeout_ms */
#define HTTP_FUZZ_TIMEOUT_MS   500       /* cfg.timeout_ms */
#define HTTP_FUZZ_BROADCAST_MS 50        /* cfg.broadcast_wait_ms: > 0, so answers park */
#define HTTP_FUZZ_WAIT_MS      5000      /* an answer not complete by then is a hang */
#define HTTP_FUZZ_MAX_ANSWER   (4 << 20) /* bytes of answer kept; the rest is read and dropped */
#define HTTP_FUZZ_ID           "fuzz"    /* cfg.id, as /status reports it */
#define HTTP_FUZZ_RESET_HEIGHT 256       /* a chain this high is dropped: the stack restarts */
#define ERR_SZ                 300       /* error sentence buffer, as the node uses */

/* The node under test, built as main.c builds it. */
struct node {
    struct config cfg;
    struct chain *chain;
    struct peers *peers;
    struct gossip *gossip;
    struct api *api;
    uint16_t port;
};

static struct node node;
static int dead_fd = -1; /* bound, never listening: the proxy every peer request goes to */
static int diag_fd = -1; /* NETLINK_SOCK_DIAG: how much of a request the node has read */

/* A request as sent. */
struct request {
    bool raw;
    const char *method; /* structured only: NUL-terminated */
    const char *target;
    const char *body;
    size_t body_len;
    struct buf wire; /* the bytes sent */
};

/* An answer as read: the first response on the connection. */
struct answer {
    struct buf bytes; /* everything read */
    int status;       /* 0: no status line */
    bool json;        /* Content-Type: application/json */
    bool metrics;     /* Content-Type: METRICS_CONTENT_TYPE (GET /metrics) */
    long long clen;   /* Content-Length, -1 when absent */
    const char *allow;
    size_t allow_len;
    const char *body; /* after the headers (for raw requests: possibly more answers) */
    size_t body_len;
};

/* The exchange under way, printed when a property breaks. */
static const struct buf *current_wire, *current_answer;

static void dump(const char *what, const struct buf *b)
{
    char esc[4 * 2048 + 4];
    if (b != NULL)
        fprintf(stderr, "fuzz_http: %s (%zu bytes): %s\n", what, b->len,
                log_escape(b->data, b->len, 2048, esc, sizeof(esc)));
}

/* fuzz_fail() after printing the request and the answer that broke a property. */
__attribute__((noinline, noreturn)) static void http_fail(int line)
{
    dump("request", current_wire);
    dump("answer", current_answer);
    if (node.chain != NULL)
        fprintf(stderr, "fuzz_http: chain height %" PRIu64 "\n", chain_tip(node.chain, NULL));
    fuzz_fail(line);
}

/* ---- the node ---- */

/* Bind 127.0.0.1 on an ephemeral port; returns the fd and sets *port. */
static int bind_ephemeral(uint16_t *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        http_fail(__LINE__);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void node_start(void)
{
    char err[ERR_SZ];
    int fd = bind_ephemeral(&node.port);

    if (listen(fd, 1024) < 0)
        http_fail(__LINE__);
    config_defaults(&node.cfg);
    node.cfg.id = HTTP_FUZZ_ID;
    node.cfg.port = node.port;
    node.cfg.max_body = HTTP_FUZZ_MAX_BODY;
    node.cfg.max_peers = HTTP_FUZZ_MAX_PEERS;
    node.cfg.connect_timeout_ms = HTTP_FUZZ_CONNECT_MS;
    node.cfg.timeout_ms = HTTP_FUZZ_TIMEOUT_MS;
    node.cfg.broadcast_wait_ms = HTTP_FUZZ_BROADCAST_MS;
    node.peers = peers_new(node.cfg.max_peers, node.cfg.max_url, node.cfg.host, node.cfg.port);
    node.chain = chain_new();
    node.gossip = gossip_new(node.chain, node.peers, &node.cfg);
    node.api = api_new(&node.cfg, node.chain, node.peers, node.gossip);
    if (gossip_start(node.gossip, err, sizeof(err)) < 0 ||
        api_start(node.api, fd, err, sizeof(err)) < 0)
        http_fail(__LINE__);
}

/* Stop and free in main.c's order. */
static void node_stop(void)
{
    gossip_stop(node.gossip);
    api_free(node.api);
    gossip_free(node.gossip);
    peers_free(node.peers);
    chain_free(node.chain);
    memset(&node, 0, sizeof(node));
}

static void at_exit(void)
{
    if (node.api != NULL)
        node_stop();
    curl_global_cleanup();
}

/* Route every libcurl request of the gossip worker to a dead local proxy. */
static void isolate_peers(void)
{
    uint16_t port;
    char url[64];

    dead_fd = bind_ephemeral(&port); /* held, never listened on: connecting is refused */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
    if (setenv("all_proxy", url, 1) < 0 || setenv("ALL_PROXY", url, 1) < 0 ||
        setenv("http_proxy", url, 1) < 0 || setenv("https_proxy", url, 1) < 0 ||
        setenv("HTTPS_PROXY", url, 1) < 0 || unsetenv("no_proxy") < 0 || unsetenv("NO_PROXY") < 0)
        http_fail(__LINE__);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_setup(HTTP_FUZZ_ID, LOG_ERROR); /* the node logs every request refused at info level */
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        http_fail(__LINE__);
    isolate_peers();
    diag_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (diag_fd < 0) {
        fprintf(stderr, "fuzz_http: no sock_diag(7) socket: %s\n", strerror(errno));
        fuzz_fail(__LINE__);
    }
    node_start();
    atexit(at_exit);
    return 0;
}

/* ---- one exchange ---- */

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static bool starts_with(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

/* Skip 1xx interim answers (as "Expect: 100-continue" gets). Returns the first final answer. */
static const char *skip_interim(const char *s, size_t *len)
{
    while (s != NULL && starts_with(s, *len, "HTTP/1.1 1")) {
        const char *end = memmem(s, *len, "\r\n\r\n", 4);
        if (end == NULL)
            return NULL;
        *len -= (size_t)(end + 4 - s);
        s = end + 4;
    }
    return s;
}

/* True when s holds a whole first final answer: its headers and Content-Length body bytes. */
static bool answer_complete(const char *s, size_t len)
{
    s = skip_interim(s, &len);
    const char *end = s ? memmem(s, len, "\r\n\r\n", 4) : NULL;
    const char *cl = s ? memmem(s, len, "\r\nContent-Length: ", 18) : NULL;
    if (end == NULL || cl == NULL || cl > end)
        return false;
    return len - (size_t)(end + 4 - s) >= strtoull(cl + 18, NULL, 10);
}

/* Wait up to ms for the socket to be readable and append what comes (at most
 * HTTP_FUZZ_MAX_ANSWER bytes are kept). Returns 1 for data, 0 for EOF or a reset, -1 when nothing
 * came in time. */
static int read_some(int fd, int ms, struct buf *out)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    char chunk[16384];

    if (poll(&pfd, 1, ms) <= 0)
        return -1;
    ssize_t n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 1;
    if (n <= 0)
        return 0; /* an early answer may be followed by a reset when a body was left unread */
    if (out->len < HTTP_FUZZ_MAX_ANSWER)
        buf_append(out, chunk, (size_t)n);
    return 1;
}

/* Bytes the node has not yet read from its end of the connection from client_port (its socket's
 * receive queue, asked with sock_diag(7)), or -1 when that socket is gone. */
static long node_unread(uint16_t client_port)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
    } q = {
        .nlh = {.nlmsg_len = sizeof(q),
                .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                .nlmsg_flags = NLM_F_REQUEST},
        .req = {.sdiag_family = AF_INET,
                .sdiag_protocol = IPPROTO_TCP,
                .idiag_states = ~0U,
                .id = {.idiag_sport = htons(node.port),
                       .idiag_dport = htons(client_port),
                       .idiag_cookie = {INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE}}},
    };
    union {
        struct nlmsghdr nlh;
        char bytes[1024];
    } r;

    q.req.id.idiag_src[0] = htonl(INADDR_LOOPBACK);
    q.req.id.idiag_dst[0] = htonl(INADDR_LOOPBACK);
    if (send(diag_fd, &q, sizeof(q), 0) < 0)
        http_fail(__LINE__);
    ssize_t n = recv(diag_fd, &r, sizeof(r), 0);
    if (n < (ssize_t)sizeof(struct nlmsghdr) || !NLMSG_OK(&r.nlh, (size_t)n))
        http_fail(__LINE__);
    if (r.nlh.nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(&r.nlh);
        if (e->error != -ENOENT)
            http_fail(__LINE__); /* sock_diag refused: the raw mode cannot work here */
        return -1;               /* the node has closed it */
    }
    if (r.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY)
        http_fail(__LINE__);
    if (r.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
        http_fail(__LINE__);
    const struct inet_diag_msg *m = NLMSG_DATA(&r.nlh);
    return (long)m->idiag_rqueue;
}

/* Send wire on a new connection, shut down the sending side, read the answer to EOF.
 *
 * libmicrohttpd in epoll mode (as api.c runs it) misses an EOF that comes in one read with the last
 * bytes of a request: the connection then stays open until the idle timeout. A structured request
 * says Connection: close, so the node closes after its answer. For a raw one the harness shuts
 * down only once the node has read every byte sent (or the first answer is complete, or the node
 * closed), so that the EOF comes on its own. */
static void exchange(const struct buf *wire, bool raw, struct buf *out)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(node.port)};
    socklen_t sa_len = sizeof(sa);
    long long deadline = now_ms() + HTTP_FUZZ_WAIT_MS;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    size_t sent = 0;
    int rc = 1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        http_fail(__LINE__);
    while (sent < wire->len) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        long long left = deadline - now_ms();
        if (left <= 0)
            http_fail(__LINE__); /* the node stopped reading and never answered */
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        ssize_t n = send(fd, wire->data + sent, wire->len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0)
            break; /* answered and closed early: read what came */
        sent += (size_t)n;
    }
    if (raw && getsockname(fd, (struct sockaddr *)&sa, &sa_len) < 0)
        http_fail(__LINE__);
    while (raw && rc != 0 && !answer_complete(out->data, out->len) &&
           node_unread(ntohs(sa.sin_port)) > 0) {
        if (now_ms() > deadline)
            http_fail(__LINE__); /* the node stopped reading */
        rc = read_some(fd, 1, out);
    }
    shutdown(fd, SHUT_WR);
    while (rc != 0) {
        long long left = deadline - now_ms();
        if (left <= 0)
            http_fail(__LINE__); /* a hang: no EOF within HTTP_FUZZ_WAIT_MS */
        rc = read_some(fd, (int)left, out);
    }
    close(fd);
}

/* Split the first final answer in a->bytes (after any 1xx interim ones, as "Expect:
 * 100-continue" gets) into status, headers and body. Returns false when it is not a whole status
 * line and header block. */
static bool answer_parse(struct answer *a)
{
    const char *s = a->bytes.data;
    size_t len = a->bytes.len;

    s = skip_interim(s, &len);
    a->status = 0;
    a->json = false;
    a->metrics = false;
    a->clen = -1;
    a->allow = NULL;
    a->allow_len = 0;
    if (s == NULL || !starts_with(s, len, "HTTP/1.1 ") || len < 13 || s[9] < '2' || s[9] > '5' ||
        s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' || s[12] != ' ')
        return false;
    a->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    const char *end = memmem(s, len, "\r\n\r\n", 4);
    if (end == NULL)
        return false;
    a->body = end + 4;
    a->body_len = len - (size_t)(a->body - s);
    const char *line = memchr(s, '\n', len) + 1;
    while (line < end + 2) {
        const char *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon == NULL)
            return false;
        size_t name_len = (size_t)(colon - line);
        const char *v = colon + 1;
        while (v < eol && *v == ' ')
            v++;
        size_t v_len = (size_t)(eol - v);
        if (name_len == 12 && strncasecmp(line, "Content-Type", 12) == 0) {
            a->json = v_len == 16 && memcmp(v, "application/json", 16) == 0;
            a->metrics = v_len == strlen(METRICS_CONTENT_TYPE) &&
                         memcmp(v, METRICS_CONTENT_TYPE, v_len) == 0;
        } else if (name_len == 14 && strncasecmp(line, "Content-Length", 14) == 0)
            a->clen = strtoll(v, NULL, 10);
        else if (name_len == 5 && strncasecmp(line, "Allow", 5) == 0) {
            a->allow = v;
            a->allow_len = v_len;
        }
        line = eol + 2;
    }
    return true;
}

/* ---- properties of any answer ---- */

static bool is_our_status(int status)
{
    return status == 200 || status == 202 || status == 400 || status == 404 || status == 405 ||
           status == 413;
}

/* libmicrohttpd's own answers to a request it could not take (HTML bodies). */
static bool is_mhd_status(int status)
{
    return status == 400 || status == 413 || status == 414 || status == 417 || status == 431 ||
           status == 501 || status == 505;
}

/* A 4xx of ours: exactly {"error": "<non-empty sentence>"}. */
static void check_error_body(const char *body, size_t len)
{
    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
    const json_t *e = v ? json_object_get(v, "error") : NULL;

    if (v == NULL || !json_is_object(v) || json_object_size(v) != 1 || !json_is_string(e) ||
        json_string_length(e) == 0)
        http_fail(__LINE__);
    json_decref(v);
}

/* The properties every answer has; body_expected: the request was not HEAD. */
static void check_answer(const struct answer *a, bool body_expected)
{
    if (a->metrics) {
        if (a->status != 200 || (body_expected && (a->clen < 0 || (size_t)a->clen != a->body_len)))
            http_fail(__LINE__);
        return;
    }
    if (!a->json) {
        if (!is_mhd_status(a->status))
            http_fail(__LINE__); /* a 2xx without JSON, or libmicrohttpd's 500 */
        return;
    }
    if (!is_our_status(a->status))
        http_fail(__LINE__);
    if (a->status == 405 && a->allow == NULL)
        http_fail(__LINE__);
    if (!body_expected)
        return;
    if (a->clen < 0 || (size_t)a->clen != a->body_len)
        http_fail(__LINE__);
    json_error_t jerr;
    json_t *v = json_loadb(a->body, a->body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (v == NULL)
        http_fail(__LINE__);
    json_decref(v);
    if (a->status >= 400)
        check_error_body(a->body, a->body_len);
}

/* ---- the endpoint table ---- */

enum method { M_OTHER, M_GET, M_HEAD, M_POST, M_DELETE };

struct endpoint {
    const char *path;
    const char *allow; /* the Allow header of a 405 */
};

static const struct endpoint endpoints[] = {
    {"/peers", "GET, POST, DELETE"},
    {"/append", "POST"},
    {"/block", "GET, POST"},
    {"/blocks", "GET"},
    {"/sync", "POST"},
    {"/status", "GET"},
    {"/metrics", "GET"},
};

static enum method method_parse(const char *m)
{
    if (strcmp(m, "GET") == 0)
        return M_GET;
    if (strcmp(m, "HEAD") == 0)
        return M_HEAD;
    if (strcmp(m, "POST") == 0)
        return M_POST;
    if (strcmp(m, "DELETE") == 0)
        return M_DELETE;
    return M_OTHER;
}

static bool allowed(const struct endpoint *e, enum method m)
{
    bool get = m == M_GET || m == M_HEAD;
    if (strcmp(e->path, "/peers") == 0)
        return get || m == M_POST || m == M_DELETE;
    if (strcmp(e->path, "/block") == 0)
        return get || m == M_POST;
    if (strcmp(e->path, "/blocks") == 0 || strcmp(e->path, "/status") == 0 ||
        strcmp(e->path, "/metrics") == 0)
        return get;
    return m == M_POST;
}

/* An RFC 9110 token character (methods are tokens). */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* True when the request line is well formed: a token method, a target of visible ASCII. */
static bool well_formed(const struct request *q)
{
    if (q->method[0] == '\0' || q->target[0] == '\0')
        return false;
    for (const char *m = q->method; *m; m++)
        if (!is_tchar((unsigned char)*m))
            return false;
    for (const char *t = q->target; *t; t++)
        if ((unsigned char)*t <= ' ' || (unsigned char)*t >= 0x7f)
            return false;
    return true;
}

/* True when the request is plain enough that the route libmicrohttpd hands us is the target's
 * path as written: a well-formed line, a path of letters, digits and "/._-", an optional query
 * without '%', '+' or '#' (nothing libmicrohttpd would decode). *path_len is the path's length. */
static bool plain_request(const struct request *q, size_t *path_len)
{
    const char *t = q->target;
    size_t i = 0;

    if (!well_formed(q) || t[0] != '/')
        return false;
    for (; t[i] && t[i] != '?'; i++)
        if (!is_tchar((unsigned char)t[i]) && t[i] != '/')
            return false;
    *path_len = i;
    for (size_t j = i; t[j]; j++)
        if (strchr("%+#", t[j]) != NULL || (unsigned char)t[j] <= ' ' ||
            (unsigned char)t[j] >= 0x7f)
            return false;
    for (size_t j = 0; j < i; j++)
        if (strchr("%+#!$&'*^`|~", t[j]) != NULL)
            return false;
    return true;
}

/* What a request saw before it ran. */
struct before {
    uint64_t tip;
    char tip_hash[BLOCK_HASH_HEX + 1];
    size_t peers;
};

static void expect_bytes(const struct answer *a, const struct buf *want)
{
    if (a->body_len != want->len || memcmp(a->body, want->data, want->len) != 0)
        http_fail(__LINE__);
}

static void check_peers(const struct request *q, enum method m, const struct answer *a,
                        const struct before *b)
{
    char err[ERR_SZ];
    char url[CONFIG_MAX_URL + 1];
    struct buf want = BUF_INIT;
    size_t after = peers_count(node.peers);
    bool valid = peers_normalize(node.peers, q->body, q->body_len, url, sizeof(url), err,
                                 sizeof(err)) == PEERS_OK;

    if (a->status == 200) {
        peers_write_json(node.peers, &want);
        expect_bytes(a, &want);
        buf_free(&want);
    }
    if (m == M_GET || m == M_HEAD) {
        if (a->status != 200 || after != b->peers)
            http_fail(__LINE__);
    } else if (m == M_POST) {
        bool full = b->peers == HTTP_FUZZ_MAX_PEERS;
        if (!valid && a->status != 400)
            http_fail(__LINE__);
        if (valid && a->status != 200 && !(full && a->status == 400))
            http_fail(__LINE__);
        if (a->status == 200 ? after != b->peers && after != b->peers + 1 : after != b->peers)
            http_fail(__LINE__);
        if (after > HTTP_FUZZ_MAX_PEERS)
            http_fail(__LINE__);
    } else {
        if (!valid && a->status != 400)
            http_fail(__LINE__);
        if (valid && a->status != 200 && a->status != 404)
            http_fail(__LINE__);
        if (after != (a->status == 200 ? b->peers - 1 : b->peers))
            http_fail(__LINE__);
    }
}

static void check_append(const struct request *q, const struct answer *a, const struct before *b)
{
    char err[ERR_SZ];
    struct block blk;
    struct buf tip = BUF_INIT;

    if (!pyjson_utf8_valid(q->body, q->body_len)) {
        if (a->status != 400 || chain_tip(node.chain, NULL) != b->tip)
            http_fail(__LINE__);
        return;
    }
    if (a->status != 200 || chain_tip(node.chain, NULL) != b->tip + 1)
        http_fail(__LINE__);
    if (block_parse(a->body, a->body_len, &blk, err, sizeof(err)) < 0)
        http_fail(__LINE__);
    if (blk.index != b->tip + 1 || !blk.has_prev || strcmp(blk.prev_hash, b->tip_hash) != 0 ||
        blk.data_len != q->body_len || memcmp(blk.data, q->body, q->body_len) != 0)
        http_fail(__LINE__);
    chain_write_tip(node.chain, &tip);
    expect_bytes(a, &tip); /* the new block is the tip */
    buf_free(&tip);
    block_clear(&blk);
}

static void check_block(const struct request *q, enum method m, const struct answer *a,
                        const struct before *b)
{
    char err[ERR_SZ];
    struct block blk;
    struct buf want = BUF_INIT;
    uint64_t tip = chain_tip(node.chain, NULL);

    if (m == M_GET) {
        chain_write_tip(node.chain, &want);
        if (a->status != 200 || tip != b->tip)
            http_fail(__LINE__);
        expect_bytes(a, &want);
        buf_free(&want);
        return;
    }
    if (block_parse(q->body, q->body_len, &blk, err, sizeof(err)) < 0) {
        if (a->status != 400 || tip != b->tip)
            http_fail(__LINE__);
        return;
    }
    bool successor = blk.index == b->tip + 1 && blk.has_prev &&
                     memcmp(blk.prev_hash, b->tip_hash, BLOCK_HASH_HEX) == 0;
    const char *result = "sync";
    int status = 202;
    if (blk.index <= b->tip) {
        result = "ignored";
        status = 200;
    } else if (successor) {
        result = "appended";
        status = 200;
    }
    if (a->status != status || tip != (successor ? b->tip + 1 : b->tip))
        http_fail(__LINE__);
    buf_printf(&want, "{\"result\": \"%s\", \"height\": %" PRIu64 "}", result, tip);
    expect_bytes(a, &want);
    buf_free(&want);
    block_clear(&blk);
}

/* GET /blocks: without a query, the whole chain; with one, 400 or a slice of it. */
static void check_blocks(const struct request *q, const struct answer *a, const struct before *b)
{
    char err[ERR_SZ];
    struct buf want = BUF_INIT;

    if (chain_tip(node.chain, NULL) != b->tip)
        http_fail(__LINE__);
    if (strchr(q->target, '?') == NULL) {
        if (a->status != 200)
            http_fail(__LINE__);
        chain_write_json(node.chain, 0, UINT64_MAX, &want);
        expect_bytes(a, &want);
        buf_free(&want);
        return;
    }
    if (a->status == 400)
        return;
    if (a->status != 200)
        http_fail(__LINE__);
    if (a->body_len == 2 && memcmp(a->body, "[]", 2) == 0)
        return;
    json_error_t jerr;
    json_t *arr = json_loadb(a->body, a->body_len, JSON_ALLOW_NUL, &jerr);
    const json_t *first = arr ? json_array_get(arr, 0) : NULL;
    const json_t *index = first ? json_object_get(first, "index") : NULL;
    if (!json_is_integer(index))
        http_fail(__LINE__);
    uint64_t from = (uint64_t)json_integer_value(index);
    size_t n = json_array_size(arr);
    json_decref(arr);
    struct chain *seg = chain_parse_segment(a->body, a->body_len, from, err, sizeof(err));
    if (seg == NULL || chain_tip(seg, NULL) > b->tip)
        http_fail(__LINE__);
    chain_free(seg);
    chain_write_json(node.chain, from, n, &want);
    expect_bytes(a, &want); /* the slice is the chain's own bytes */
    buf_free(&want);
}

static void check_status(const struct answer *a, const struct before *b)
{
    json_error_t jerr;
    json_t *v = json_loadb(a->body, a->body_len, JSON_ALLOW_NUL, &jerr);
    const json_t *id = v ? json_object_get(v, "id") : NULL;
    const json_t *height = v ? json_object_get(v, "height") : NULL;
    const json_t *tip = v ? json_object_get(v, "tip") : NULL;
    const json_t *peers = v ? json_object_get(v, "peers") : NULL;

    if (a->status != 200 || !json_is_object(v) || !json_is_string(id) ||
        strcmp(json_string_value(id), HTTP_FUZZ_ID) != 0 || !json_is_integer(height) ||
        (uint64_t)json_integer_value(height) != b->tip || !json_is_string(tip) ||
        strcmp(json_string_value(tip), b->tip_hash) != 0 || !json_is_integer(peers) ||
        (size_t)json_integer_value(peers) != b->peers)
        http_fail(__LINE__);
    json_decref(v);
}

/* The exposition gives the height and the peer count held before the request. */
static void check_metrics(const struct answer *a, const struct before *b)
{
    struct buf want = BUF_INIT;
    struct buf body = BUF_INIT;

    if (a->status != 200 || !a->metrics)
        http_fail(__LINE__);
    buf_append_char(&body, '\n');
    buf_append(&body, a->body, a->body_len);
    buf_printf(&want, "\nchainlab_height %" PRIu64 "\n", b->tip);
    if (strstr(body.data, want.data) == NULL)
        http_fail(__LINE__);
    buf_clear(&want);
    buf_printf(&want, "\nchainlab_peers %zu\n", b->peers);
    if (strstr(body.data, want.data) == NULL)
        http_fail(__LINE__);
    buf_free(&want);
    buf_free(&body);
}

/* No peer is reachable, so a sync never replaces the chain. */
static void check_sync(const struct answer *a, const struct before *b)
{
    struct buf want = BUF_INIT;

    if (a->status != 200 || chain_tip(node.chain, NULL) != b->tip)
        http_fail(__LINE__);
    buf_printf(&want, "{\"replaced\": false, \"height\": %" PRIu64 "}", b->tip);
    expect_bytes(a, &want);
    buf_free(&want);
}

/* The outcome of a plain structured request, from the table of DESIGN.md. */
static void check_endpoint(const struct request *q, size_t path_len, const struct answer *a,
                           const struct before *b)
{
    const struct endpoint *e = NULL;
    enum method m = method_parse(q->method);

    if (!a->json && !a->metrics)
        http_fail(__LINE__); /* a plain request is always ours to answer */
    for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++)
        if (strlen(endpoints[i].path) == path_len &&
            memcmp(endpoints[i].path, q->target, path_len) == 0)
            e = &endpoints[i];
    if (e == NULL) {
        if (a->status != 404)
            http_fail(__LINE__);
        return;
    }
    if (!allowed(e, m)) {
        if (a->status != 405 || a->allow_len != strlen(e->allow) ||
            memcmp(a->allow, e->allow, a->allow_len) != 0)
            http_fail(__LINE__);
        return;
    }
    if (q->body_len > HTTP_FUZZ_MAX_BODY) {
        if (a->status != 413)
            http_fail(__LINE__);
        return;
    }
    if (m == M_HEAD) {
        if (a->status != 200 && !(a->status == 400 && strcmp(e->path, "/blocks") == 0))
            http_fail(__LINE__);
        if (a->body_len != 0)
            http_fail(__LINE__); /* HEAD: headers only */
        return;
    }
    if (strcmp(e->path, "/peers") == 0)
        check_peers(q, m, a, b);
    else if (strcmp(e->path, "/append") == 0)
        check_append(q, a, b);
    else if (strcmp(e->path, "/block") == 0)
        check_block(q, m, a, b);
    else if (strcmp(e->path, "/blocks") == 0)
        check_blocks(q, a, b);
    else if (strcmp(e->path, "/status") == 0)
        check_status(a, b);
    else if (strcmp(e->path, "/metrics") == 0)
        check_metrics(a, b);
    else
        check_sync(a, b);
}

/* ---- requests ---- */

/* Decode one request (len bytes at p) into q; the line's copy is in *line (caller frees). */
static void request_decode(const uint8_t *p, size_t len, struct request *q, char **line)
{
    memset(q, 0, sizeof(*q));
    *line = NULL;
    if (len > 0 && p[0] == RAW_MARK) {
        q->raw = true;
        buf_append(&q->wire, p + 1, len - 1);
        return;
    }
    const uint8_t *nl = memchr(p, '\n', len);
    size_t line_len = nl ? (size_t)(nl - p) : len;
    char *l = xmalloc(line_len + 1);
    size_t n = 0;
    for (size_t i = 0; i < line_len; i++)
        if (p[i] != '\r' && p[i] != '\0')
            l[n++] = (char)p[i];
    l[n] = '\0';
    char *sp = strchr(l, ' ');
    q->method = l;
    q->target = "/";
    if (sp != NULL) {
        *sp = '\0';
        q->target = sp + 1;
    }
    q->body = nl ? (const char *)nl + 1 : "";
    q->body_len = nl ? len - line_len - 1 : 0;
    buf_printf(&q->wire,
               "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Length: %zu\r\n"
               "Connection: close\r\n\r\n",
               q->method, q->target, node.port, q->body_len);
    buf_append(&q->wire, q->body, q->body_len);
    *line = l;
}

static void run_request(const uint8_t *p, size_t len)
{
    struct request q;
    struct answer a = {.bytes = BUF_INIT};
    struct before b;
    char *line;
    size_t path_len;

    request_decode(p, len, &q, &line);
    b.tip = chain_tip(node.chain, b.tip_hash);
    b.peers = peers_count(node.peers);
    current_wire = &q.wire;
    current_answer = &a.bytes;
    exchange(&q.wire, q.raw, &a.bytes);
    if (q.raw) {
        /* Garbage may be closed without an answer (after a 100 Continue, say); an answer is a
         * whole one. */
        size_t len_final = a.bytes.len;
        const char *final = skip_interim(a.bytes.data, &len_final);
        if (final != NULL && len_final > 0) {
            if (!answer_parse(&a))
                http_fail(__LINE__);
            /* A HEAD answer has no body, and a pipelined answer may follow it at once. */
            bool body = a.body_len > 0 && !starts_with(a.body, a.body_len, "HTTP/1.");
            if (a.clen >= 0 && (size_t)a.clen < a.body_len)
                a.body_len = (size_t)a.clen; /* pipelined answers follow */
            check_answer(&a, body);
        }
    } else {
        if (a.bytes.len == 0 && !well_formed(&q))
            goto out; /* libmicrohttpd closes on a broken request line without a word */
        if (!answer_parse(&a))
            http_fail(__LINE__); /* a well-formed request always gets an answer */
        check_answer(&a, method_parse(q.method) != M_HEAD);
        if (plain_request(&q, &path_len))
            check_endpoint(&q, path_len, &a, &b);
        else if (chain_tip(node.chain, NULL) > b.tip + 1)
            http_fail(__LINE__); /* one request adds at most one block */
    }
out:
    current_wire = current_answer = NULL;
    buf_free(&a.bytes);
    buf_free(&q.wire);
    free(line);
}

/* ---- after each input ---- */

/* A structured request to the node; returns its answer (caller frees a->bytes). */
static void call(const char *method, const char *path, const char *body, size_t len,
                 struct answer *a)
{
    struct buf wire = BUF_INIT;

    buf_printf(&wire,
               "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Length: %zu\r\n"
               "Connection: close\r\n\r\n",
               method, path, node.port, len);
    buf_append(&wire, body, len);
    a->bytes = (struct buf)BUF_INIT;
    current_wire = &wire;
    current_answer = &a->bytes;
    exchange(&wire, false, &a->bytes);
    if (!answer_parse(a))
        http_fail(__LINE__);
    check_answer(a, true);
    current_wire = current_answer = NULL;
    buf_free(&wire);
}

/* What the input did to the chain, which held start_tip with hash start_hash before it: the chain
 * only grows (no peer is reachable, so nothing replaces it), the new blocks are a valid segment
 * linked to the old tip, the tip block is what GET /block serves. */
static void check_growth(uint64_t start_tip, const char *start_hash)
{
    char err[ERR_SZ], hash[BLOCK_HASH_HEX + 1], seg_hash[BLOCK_HASH_HEX + 1];
    struct buf grown = BUF_INIT, tip = BUF_INIT, first = BUF_INIT;
    struct answer a;
    uint64_t height = chain_tip(node.chain, hash);

    if (height < start_tip || (height == start_tip && strcmp(hash, start_hash) != 0))
        http_fail(__LINE__);
    if (height == start_tip)
        return;
    chain_write_json(node.chain, start_tip, height - start_tip + 1, &grown);
    struct chain *seg = chain_parse_segment(grown.data, grown.len, start_tip, err, sizeof(err));
    if (seg == NULL || chain_tip(seg, seg_hash) != height || strcmp(seg_hash, hash) != 0)
        http_fail(__LINE__);
    chain_free(seg);
    chain_write_json(node.chain, start_tip, 1, &first); /* the old tip, unchanged */
    if (memmem(first.data, first.len, start_hash, BLOCK_HASH_HEX) == NULL)
        http_fail(__LINE__);
    call("GET", "/block", "", 0, &a);
    chain_write_tip(node.chain, &tip);
    if (a.status != 200)
        http_fail(__LINE__);
    expect_bytes(&a, &tip);
    buf_free(&a.bytes);
    buf_free(&tip);
    buf_free(&first);
    buf_free(&grown);
}

/* The whole chain re-parses from its own JSON (GET /blocks) to the same tip and bytes. */
static void check_round_trip(void)
{
    char err[ERR_SZ], hash[BLOCK_HASH_HEX + 1], hash2[BLOCK_HASH_HEX + 1];
    struct buf all = BUF_INIT, again_all = BUF_INIT;
    uint64_t height = chain_tip(node.chain, hash);

    chain_write_json(node.chain, 0, UINT64_MAX, &all);
    if (all.len != chain_json_size(node.chain))
        http_fail(__LINE__);
    struct chain *again = chain_parse(all.data, all.len, err, sizeof(err));
    if (again == NULL || chain_tip(again, hash2) != height || strcmp(hash, hash2) != 0)
        http_fail(__LINE__);
    chain_write_json(again, 0, UINT64_MAX, &again_all);
    if (again_all.len != all.len || memcmp(again_all.data, all.data, all.len) != 0)
        http_fail(__LINE__);
    chain_free(again);
    buf_free(&again_all);
    buf_free(&all);
}

/* Delete every peer through the API: each URL GET /peers lists is deleted with a 200. */
static void clear_peers(void)
{
    struct answer a;
    json_error_t jerr;

    call("GET", "/peers", "", 0, &a);
    json_t *list = json_loadb(a.body, a.body_len, JSON_ALLOW_NUL, &jerr);
    if (a.status != 200 || !json_is_array(list) || json_array_size(list) != peers_count(node.peers))
        http_fail(__LINE__);
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *url = json_array_get(list, i);
        struct answer d;
        if (!json_is_string(url))
            http_fail(__LINE__);
        call("DELETE", "/peers", json_string_value(url), json_string_length(url), &d);
        if (d.status != 200)
            http_fail(__LINE__);
        buf_free(&d.bytes);
    }
    if (peers_count(node.peers) != 0)
        http_fail(__LINE__);
    json_decref(list);
    buf_free(&a.bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data;
    size_t left = size;
    size_t sep_len = strlen(HTTP_FUZZ_SEP);
    char start_hash[BLOCK_HASH_HEX + 1];
    uint64_t start_tip = chain_tip(node.chain, start_hash);

    for (int i = 0; i < HTTP_FUZZ_MAX_REQUESTS; i++) {
        const uint8_t *sep = memmem(p, left, HTTP_FUZZ_SEP, sep_len);
        size_t len = sep ? (size_t)(sep - p) : left;
        run_request(p, len);
        if (sep == NULL)
            break;
        p = sep + sep_len;
        left -= len + sep_len;
    }
    check_growth(start_tip, start_hash);
    if (peers_count(node.peers) > 0)
        clear_peers();
    if (chain_tip(node.chain, NULL) >= HTTP_FUZZ_RESET_HEIGHT) {
        check_round_trip();
        node_stop(); /* no way to shorten a chain: start afresh */
        node_start();
    }
    return 0;
}
