/* api: the node's HTTP endpoints served by libmicrohttpd.
 *
 * Design: a request is routed on its first call (unknown path 404, wrong method 405, a declared
 * body over the limit 413, all before any body is read), its body is collected up to max_body,
 * and the endpoint runs on the last call. POST /sync suspends its connection and is resumed by
 * the gossip worker when a sync that started after the request has finished, so no HTTP thread
 * ever waits on a peer. */
#include "api.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <pthread.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "pyjson.h"
#include "xalloc.h"

struct api {
    struct config cfg;
    struct chain *chain;
    struct peers *peers;
    struct gossip *gossip;
    struct MHD_Daemon *mhd;
    int listen_fd;
    struct timespec started;
    struct metrics metrics; /* the handlers' counters (atomics) */
    /* rate limit of the warnings about refused clients (mhd_log_cb) */
    pthread_mutex_t refused_lock;
    time_t refused_next_s;
    unsigned long refused_left_out;
};

/* The answer when the store (--db) fails a write; the log has SQLite's reason. */
#define STORE_FAILED_MSG "the node could not save the change to its database; see its log"

enum method { M_GET = 1, M_POST = 2, M_DELETE = 4 };

struct request;
typedef void (*endpoint_fn)(struct api *a, struct request *r, enum method m);

struct route {
    const char *path;
    unsigned methods; /* enum method bits */
    const char *allow;
    endpoint_fn fn;
};

struct request {
    const struct route *route;
    struct MHD_Connection *conn;
    struct buf body;
    bool too_large;
    /* the answer, when the endpoint has made one */
    unsigned status;
    struct buf out;
    const char *content_type; /* of the answer; NULL: application/json */
    bool head;                /* a HEAD request: the answer's body is not sent */
    const char *allow;        /* 405: the Allow header */
    bool replied;             /* the answer is queued */
    /* parked: suspended until the gossip worker calls back (sync done, broadcast delivered) */
    struct gossip_waiter waiter;
    bool parked;
    bool resumed;                      /* set by the worker (atomic), read by the HTTP thread */
    bool ok;                           /* from the callback */
    uint64_t height;                   /* from the callback */
    void (*finish)(struct request *r); /* builds the answer once resumed; NULL: already built */
};

static void resume_cb(void *arg, bool ok, uint64_t height)
{
    struct request *r = arg;
    struct MHD_Connection *conn = r->conn; /* r is not touched once resumed is set */
    r->ok = ok;
    r->height = height;
    __atomic_store_n(&r->resumed, true, __ATOMIC_RELEASE);
    MHD_resume_connection(conn);
}

/* Suspend the connection until the worker calls resume_cb. Call before handing r->waiter over. */
static void park(struct request *r, void (*finish)(struct request *r))
{
    r->parked = true;
    r->finish = finish;
    MHD_suspend_connection(r->conn);
}

/* Broadcast a block; hold the answer until the peers have it when broadcast_wait_ms says so. */
static void broadcast(struct api *a, struct request *r, const char *json, size_t len)
{
    if (peers_count(a->peers) == 0)
        return; /* nobody to tell: no copy, no wake-up of the gossip worker */
    if (a->cfg.broadcast_wait_ms <= 0) {
        gossip_broadcast(a->gossip, json, len, NULL, NULL, NULL);
        return;
    }
    park(r, NULL);
    gossip_broadcast(a->gossip, json, len, &r->waiter, resume_cb, r);
}

/* ---- answers ---- */

static void reply_error(struct request *r, unsigned status, const char *msg)
{
    r->status = status;
    buf_clear(&r->out);
    pyjson_write_error(&r->out, msg);
}

static enum MHD_Result send_reply(struct api *a, struct request *r)
{
    r->replied = true;
    size_t len;
    char *body = buf_steal(&r->out, &len);
    metrics_count_response(&a->metrics, r->status);
    if (!r->head)
        metrics_add(&a->metrics.bytes_served, len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type ? r->content_type : "application/json");
    if (r->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    enum MHD_Result ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The address and port the request came from, for log lines. Returns out. */
static const char *request_client(struct request *r, char *out, size_t outsz)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, outsz, "%s:%u", host, port);
    return out;
}

/* ---- endpoints ---- */

static void ep_peers(struct api *a, struct request *r, enum method m)
{
    char err[300];
    int rc = PEERS_OK;
    if (m == M_POST)
        rc = peers_add(a->peers, r->body.data ? r->body.data : "", r->body.len, err, sizeof(err));
    else if (m == M_DELETE)
        rc =
            peers_remove(a->peers, r->body.data ? r->body.data : "", r->body.len, err, sizeof(err));
    if (rc == PEERS_UNKNOWN) {
        reply_error(r, MHD_HTTP_NOT_FOUND, err);
        return;
    }
    if (rc == PEERS_FAILED) {
        reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
        return;
    }
    if (rc < 0) {
        reply_error(r, MHD_HTTP_BAD_REQUEST, err);
        return;
    }
    r->status = MHD_HTTP_OK;
    peers_write_json(a->peers, &r->out);
}

static void ep_append(struct api *a, struct request *r, enum method m)
{
    (void)m;
    const char *data = r->body.data ? r->body.data : "";
    if (!pyjson_utf8_valid(data, r->body.len)) {
        reply_error(r, MHD_HTTP_BAD_REQUEST, "the body of /append must be UTF-8 text");
        return;
    }
    if (chain_append_data(a->chain, data, r->body.len, &r->out) < 0) {
        reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, STORE_FAILED_MSG);
        return;
    }
    char label[BLOCK_LABEL_SIZE];
    metrics_add(&a->metrics.appends, 1);
    gossip_note_append(a->gossip, r->out.data, r->out.len, data, r->body.len);
    log_debug("block %s: appended (POST /append)", block_label(r->out.data, r->out.len, label));
    r->status = MHD_HTTP_OK;
    broadcast(a, r, r->out.data, r->out.len);
}

static void ep_block(struct api *a, struct request *r, enum method m)
{
    if (m == M_GET) {
        r->status = MHD_HTTP_OK;
        chain_write_tip(a->chain, &r->out);
        return;
    }
    char err[300];
    struct block b;
    if (block_parse(r->body.data ? r->body.data : "", r->body.len, &b, err, sizeof(err)) < 0) {
        char esc[120];
        log_info("block refused: %s (body %s)", err,
                 log_escape(r->body.data, r->body.len, 60, esc, sizeof(esc)));
        reply_error(r, MHD_HTTP_BAD_REQUEST, err);
        return;
    }
    struct buf json = BUF_INIT;
    char from[INET6_ADDRSTRLEN + 8];
    enum chain_offer o = chain_offer_block(a->chain, &b, &json);
    uint64_t height = chain_tip(a->chain, NULL);
    const char *result = "ignored";
    metrics_add(&a->metrics.blocks_received, 1);
    r->status = MHD_HTTP_OK;
    if (o == CHAIN_FAILED) {
        reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, STORE_FAILED_MSG);
        buf_free(&json);
        block_clear(&b);
        return;
    }
    if (o == CHAIN_APPENDED) {
        result = "appended";
        metrics_add(&a->metrics.blocks_appended, 1);
    } else if (o == CHAIN_IGNORED) {
        metrics_add(&a->metrics.blocks_ignored, 1);
    } else if (o == CHAIN_NEEDS_SYNC) {
        result = "sync";
        r->status = MHD_HTTP_ACCEPTED;
        gossip_request_sync(a->gossip);
    }
    if (o == CHAIN_APPENDED)
        log_debug("block %" PRIu64 " %.*s from %s: appended", b.index, BLOCK_SHORT_HASH, b.hash,
                  request_client(r, from, sizeof(from)));
    else if (o == CHAIN_IGNORED)
        log_debug("block %" PRIu64 " %.*s from %s: ignored (our tip is %" PRIu64 ")", b.index,
                  BLOCK_SHORT_HASH, b.hash, request_client(r, from, sizeof(from)), height);
    else
        log_debug("block %" PRIu64 " %.*s from %s: does not follow our tip %" PRIu64 ": syncing",
                  b.index, BLOCK_SHORT_HASH, b.hash, request_client(r, from, sizeof(from)), height);
    buf_printf(&r->out, "{\"result\": \"%s\", \"height\": %" PRIu64 "}", result, height);
    if (o == CHAIN_APPENDED)
        broadcast(a, r, json.data, json.len);
    buf_free(&json);
    block_clear(&b);
}

/* Parse a query argument as a non-negative integer; absent gives dflt. Returns -1 if bad. */
static int query_u64(struct request *r, const char *name, uint64_t dflt, uint64_t *out)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    *out = dflt;
    if (v == NULL)
        return 0;
    if (v[0] < '0' || v[0] > '9' || strlen(v) > 19)
        return -1;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end != '\0')
        return -1;
    *out = n;
    return 0;
}

static void ep_blocks(struct api *a, struct request *r, enum method m)
{
    (void)m;
    uint64_t from, limit;
    if (query_u64(r, "from", 0, &from) < 0 || query_u64(r, "limit", UINT64_MAX, &limit) < 0) {
        reply_error(r, MHD_HTTP_BAD_REQUEST, "from and limit must be non-negative integers");
        return;
    }
    r->status = MHD_HTTP_OK;
    chain_write_json(a->chain, from, limit, &r->out);
}

static void sync_finish(struct request *r)
{
    r->status = MHD_HTTP_OK;
    buf_printf(&r->out, "{\"replaced\": %s, \"height\": %" PRIu64 "}", r->ok ? "true" : "false",
               r->height);
}

static void ep_sync(struct api *a, struct request *r, enum method m)
{
    (void)m;
    park(r, sync_finish);
    gossip_sync_wait(a->gossip, &r->waiter, resume_cb, r);
}

/* Append a JSON string, or null for NULL. */
static void write_string_or_null(struct buf *out, const char *s)
{
    if (s)
        pyjson_write_string(out, s, strlen(s));
    else
        buf_append_str(out, "null");
}

/* Append ", "variants": {...}}": the protocol variants of cfg, closing the /status object. */
static void status_write_variants(const struct config *cfg, struct buf *out)
{
    buf_printf(out,
               ", \"variants\": {\"fork_choice\": \"%s\", \"anti_entropy_ms\": %ld"
               ", \"sync_on_connect\": %s, \"peer_exchange\": %s"
               ", \"peer_exchange_interval_ms\": %ld, \"advertise\": ",
               forkchoice_name(cfg->fork_choice), cfg->anti_entropy_ms,
               cfg->sync_on_connect ? "true" : "false", cfg->peer_exchange ? "true" : "false",
               cfg->pex_interval_ms);
    write_string_or_null(out, cfg->advertise);
    buf_append_str(out, ", \"source\": ");
    write_string_or_null(out, cfg->source);
    buf_printf(out, ", \"reappend_orphans\": %s}}", cfg->reappend_orphans ? "true" : "false");
}

static void ep_status(struct api *a, struct request *r, enum method m)
{
    (void)m;
    char hash[BLOCK_HASH_HEX + 1];
    struct gossip_stats st;
    struct timespec now;
    uint64_t height = chain_tip(a->chain, hash);
    gossip_get_stats(a->gossip, &st);
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long up =
        (now.tv_sec - a->started.tv_sec) * 1000LL + (now.tv_nsec - a->started.tv_nsec) / 1000000;
    r->status = MHD_HTTP_OK;
    buf_append_str(&r->out, "{\"id\": ");
    pyjson_write_string(&r->out, a->cfg.id, strlen(a->cfg.id));
    buf_printf(&r->out,
               ", \"version\": \"%s\", \"height\": %" PRIu64 ", \"tip\": \"%s\", \"peers\": %zu"
               ", \"uptime_ms\": %lld, \"syncs\": %" PRIu64 ", \"syncs_replaced\": %" PRIu64
               ", \"sync_requests\": %" PRIu64 ", \"posts_sent\": %" PRIu64
               ", \"posts_failed\": %" PRIu64 ", \"posts_dropped\": %" PRIu64,
               CHAINLAB_VERSION, height, hash, peers_count(a->peers), up, st.syncs,
               st.syncs_replaced, st.sync_requests, st.posts_sent, st.posts_failed,
               st.posts_dropped);
    status_write_variants(&a->cfg, &r->out);
}

static void ep_metrics(struct api *a, struct request *r, enum method m)
{
    (void)m;
    struct metrics_snapshot s = {0};
    struct gossip_stats st;
    metrics_copy(&a->metrics, &s.http);
    gossip_get_stats(a->gossip, &st);
    s.posts_sent = st.posts_sent;
    s.posts_failed = st.posts_failed;
    s.posts_dropped = st.posts_dropped;
    s.syncs = st.syncs;
    s.sync_replacements = st.syncs_replaced;
    s.queue_depth = st.queued;
    s.height = chain_tip(a->chain, NULL);
    s.peers = peers_count(a->peers);
    r->status = MHD_HTTP_OK;
    r->content_type = METRICS_CONTENT_TYPE;
    metrics_write(&s, &r->out);
}

static const struct route routes[] = {
    {"/peers", M_GET | M_POST | M_DELETE, "GET, POST, DELETE", ep_peers},
    {"/append", M_POST, "POST", ep_append},
    {"/block", M_GET | M_POST, "GET, POST", ep_block},
    {"/blocks", M_GET, "GET", ep_blocks},
    {"/sync", M_POST, "POST", ep_sync},
    {"/status", M_GET, "GET", ep_status},
    {"/metrics", M_GET, "GET", ep_metrics},
};

/* ---- libmicrohttpd callbacks ---- */

static enum method method_of(const char *m)
{
    if (strcmp(m, MHD_HTTP_METHOD_GET) == 0 || strcmp(m, MHD_HTTP_METHOD_HEAD) == 0)
        return M_GET;
    if (strcmp(m, MHD_HTTP_METHOD_POST) == 0)
        return M_POST;
    if (strcmp(m, MHD_HTTP_METHOD_DELETE) == 0)
        return M_DELETE;
    return 0;
}

/* Route a new request; on a routing error r->status is set. */
static void route_request(struct api *a, struct request *r, const char *url, enum method m)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(url, routes[i].path) == 0) {
            r->route = &routes[i];
            break;
        }
    }
    if (r->route == NULL) {
        reply_error(r, MHD_HTTP_NOT_FOUND,
                    "unknown path; the endpoints are /peers, /append, /block, /blocks, /sync, "
                    "/status, /metrics");
        return;
    }
    if ((r->route->methods & m) == 0) {
        char msg[96];
        snprintf(msg, sizeof(msg), "method not allowed on %s; use %s", r->route->path,
                 r->route->allow);
        reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, msg);
        r->allow = r->route->allow;
        return;
    }
    const char *cl =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > a->cfg.max_body) {
        char msg[96];
        snprintf(msg, sizeof(msg), "request body over the limit of %zu bytes", a->cfg.max_body);
        reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, msg);
    }
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct api *a = cls;
    struct request *r = *con_cls;
    (void)version;
    if (r == NULL) {
        r = xcalloc(1, sizeof(*r));
        r->conn = conn;
        r->head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
        *con_cls = r;
        route_request(a, r, url, method_of(method));
        if (r->status != 0)
            return send_reply(a, r);
        return MHD_YES;
    }
    if (r->replied) {
        *upload_data_size = 0; /* answered early (an error); the rest of the body is dropped */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (r->body.len + *upload_data_size > a->cfg.max_body)
            r->too_large = true;
        else
            buf_append(&r->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->too_large) {
        char msg[96];
        snprintf(msg, sizeof(msg), "request body over the limit of %zu bytes", a->cfg.max_body);
        reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, msg);
        return send_reply(a, r);
    }
    if (r->parked) {
        if (!__atomic_load_n(&r->resumed, __ATOMIC_ACQUIRE))
            return MHD_YES; /* called again while waiting */
        if (r->finish)
            r->finish(r);
        return send_reply(a, r);
    }
    r->route->fn(a, r, method_of(method));
    if (r->parked)
        return MHD_YES; /* answered when the worker resumes the connection */
    return send_reply(a, r);
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct request *r = *con_cls;
    if (r == NULL)
        return;
    buf_free(&r->body);
    buf_free(&r->out);
    free(r);
    *con_cls = NULL;
}

/* libmicrohttpd's messages. Those about a limit (connections, per-address connections, header
 * memory) say what a client was refused and why, so they are warnings; under a flood they are
 * rate-limited to one a second with a count of the ones left out. The rest are debug. */
static void mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
    struct api *a = cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    if (strstr(line, "limit") == NULL && strstr(line, "too big") == NULL &&
        strstr(line, "too large") == NULL) {
        log_debug("http: %s", line);
        return;
    }
    /* "... code is 431 ('<html>...</html>')). ...": the code says it, the page adds nothing */
    char *page = strstr(line, " ('<html"), *end = page ? strstr(page, "')") : NULL;
    if (end)
        memmove(page, end + 2, strlen(end + 2) + 1);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&a->refused_lock);
    bool say = now.tv_sec >= a->refused_next_s;
    unsigned long left_out = a->refused_left_out;
    if (say) {
        a->refused_next_s = now.tv_sec + 1;
        a->refused_left_out = 0;
    } else {
        a->refused_left_out++;
    }
    pthread_mutex_unlock(&a->refused_lock);
    if (say && left_out > 0)
        log_warn("http: %s (and %lu more refusals in the last second)", line, left_out);
    else if (say)
        log_warn("http: %s", line);
}

struct api *api_new(const struct config *cfg, struct chain *c, struct peers *p, struct gossip *g)
{
    struct api *a = xcalloc(1, sizeof(*a));
    a->cfg = *cfg;
    a->chain = c;
    a->peers = p;
    a->gossip = g;
    a->listen_fd = -1;
    pthread_mutex_init(&a->refused_lock, NULL);
    clock_gettime(CLOCK_MONOTONIC, &a->started);
    return a;
}

int api_start(struct api *a, int listen_fd, char *err, size_t errsz)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    a->listen_fd = listen_fd;
    a->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, access_cb, a, MHD_OPTION_EXTERNAL_LOGGER, mhd_log_cb, a,
        MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(a->cfg.threads > 1 ? a->cfg.threads : 1), MHD_OPTION_CONNECTION_LIMIT,
        a->cfg.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, a->cfg.max_per_ip,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, a->cfg.conn_memory, MHD_OPTION_CONNECTION_TIMEOUT,
        a->cfg.idle_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, completed_cb, a, MHD_OPTION_END);
    if (a->mhd == NULL) {
        snprintf(err, errsz, "cannot start the HTTP server (libmicrohttpd)");
        return -1;
    }
    return 0;
}

void api_free(struct api *a)
{
    if (a == NULL)
        return;
    if (a->mhd)
        MHD_stop_daemon(a->mhd);
    if (a->listen_fd >= 0)
        close(a->listen_fd);
    pthread_mutex_destroy(&a->refused_lock);
    free(a);
}
