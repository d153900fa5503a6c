/* probe: the sim's HTTP client to its nodes, parallel through one libcurl multi handle. */
#include "probe.h"

#include <arpa/inet.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct probe {
    CURLM *multi;
    CURL **easy; /* one per node, kept for its keep-alive connection */
    struct sockaddr_in *addr;
    size_t n;
    struct curl_slist *headers;
    volatile sig_atomic_t *cancel; /* or NULL */
    size_t limit;                  /* most requests at once */
    long timeout_ms;               /* > 0: bounds every request (probe_set_timeout) */
};

void probe_set_limit(struct probe *p, size_t max)
{
    p->limit = max > 0 ? max : 1;
}

void probe_set_timeout(struct probe *p, long ms)
{
    p->timeout_ms = ms > 0 ? ms : 0;
}

bool probe_reply_ok(const struct probe_reply *r)
{
    return r->status >= 200 && r->status < 300;
}

/* *height = the integer at key of the JSON object in body, when there is one. */
static bool body_height(const struct buf *body, const char *key, uint64_t *height)
{
    json_t *doc = body->len > 0 ? json_loadb(body->data, body->len, 0, NULL) : NULL;
    json_t *v = json_object_get(doc, key);
    bool ok = json_is_integer(v) && json_integer_value(v) >= 0;
    if (ok)
        *height = (uint64_t)json_integer_value(v);
    json_decref(doc);
    return ok;
}

int probe_height_after(struct probe *p, unsigned node, const struct probe_reply *r, long timeout_ms,
                       uint64_t *height, bool *asked)
{
    struct probe_reply tip = {0};
    int rc = -1;

    *asked = false;
    if (body_height(&r->body, "index", height) || body_height(&r->body, "height", height))
        return 0;
    *asked = true;
    if (probe_one(p, node, "GET", "/block", NULL, 0, timeout_ms, &tip) && tip.status == 200 &&
        body_height(&tip.body, "index", height))
        rc = 0;
    probe_reply_clear(&tip);
    return rc;
}

void probe_set_connections(struct probe *p, size_t max)
{
    curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)(max > 0 ? max : 1));
}

void probe_set_cancel(struct probe *p, volatile sig_atomic_t *flag)
{
    p->cancel = flag;
}

struct probe *probe_new(const struct sockaddr_in *addr, size_t n)
{
    struct probe *p = xcalloc(1, sizeof(*p));
    p->multi = curl_multi_init();
    if (p->multi == NULL)
        abort();
    p->easy = xcalloc(n ? n : 1, sizeof(CURL *));
    p->addr = xcalloc(n ? n : 1, sizeof(*p->addr));
    memcpy(p->addr, addr, n * sizeof(*p->addr));
    p->limit = PROBE_IN_FLIGHT;
    /* Connections kept between requests: one per node for small clusters; for large ones, a
     * bounded cache (each poll of every node then opens a new connection to most of them). */
    curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)PROBE_KEEP_CONNECTIONS);
    p->n = n;
    p->headers = curl_slist_append(NULL, "Expect:");
    p->headers = curl_slist_append(p->headers, "Content-Type: text/plain");
    return p;
}

void probe_free(struct probe *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n; i++) {
        if (p->easy[i])
            curl_easy_cleanup(p->easy[i]);
    }
    curl_multi_cleanup(p->multi);
    curl_slist_free_all(p->headers);
    free(p->easy);
    free(p->addr);
    free(p);
}

void probe_set_addr(struct probe *p, unsigned node, const struct sockaddr_in *addr)
{
    if (node < p->n)
        p->addr[node] = *addr;
}

void probe_reply_clear(struct probe_reply *r)
{
    buf_free(&r->body);
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct probe_reply *r = arg;
    size_t n = size * nmemb;
    if (r->body.len + n > PROBE_MAX_BODY)
        return 0;
    buf_append(&r->body, ptr, n);
    return n;
}

static CURL *prepare(struct probe *p, struct probe_req *q, long timeout_ms)
{
    char url[96];
    CURL *e = p->easy[q->node];
    if (e == NULL) {
        e = p->easy[q->node] = curl_easy_init();
        if (e == NULL)
            abort();
    }
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &p->addr[q->node].sin_addr, host, sizeof(host));
    snprintf(url, sizeof(url), "http://%s:%u%s", host, ntohs(p->addr[q->node].sin_port), q->path);
    if (p->timeout_ms > 0)
        timeout_ms = p->timeout_ms;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 1000 ? timeout_ms : 1000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &q->reply);
    curl_easy_setopt(e, CURLOPT_PRIVATE, q);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    if (strcmp(q->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)q->len);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, q->body ? q->body : "");
        if (strcmp(q->method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method);
    }
    memset(&q->reply, 0, sizeof(q->reply));
    return e;
}

size_t probe_run(struct probe *p, struct probe_req *reqs, size_t n, long timeout_ms)
{
    size_t answered = 0, next = 0, active = 0;
    bool *busy = xcalloc(p->n ? p->n : 1, sizeof(bool));
    bool *started = xcalloc(n ? n : 1, sizeof(bool));
    while (next < n || active > 0) {
        if (p->cancel && *p->cancel) {
            /* Abandon everything in flight; their replies stay empty with an error. */
            for (size_t i = 0; i < n; i++) {
                if (started[i] && reqs[i].reply.status == 0 && busy[reqs[i].node]) {
                    curl_multi_remove_handle(p->multi, p->easy[reqs[i].node]);
                    busy[reqs[i].node] = false;
                }
                if (reqs[i].reply.status == 0 && reqs[i].reply.err[0] == '\0')
                    snprintf(reqs[i].reply.err, sizeof(reqs[i].reply.err), "interrupted");
            }
            break;
        }
        /* Start every request whose node is idle, in order. */
        for (size_t i = next; i < n && active < p->limit; i++) {
            if (started[i] || busy[reqs[i].node])
                continue;
            curl_multi_add_handle(p->multi, prepare(p, &reqs[i], timeout_ms));
            busy[reqs[i].node] = true;
            started[i] = true;
            active++;
        }
        while (next < n && started[next])
            next++;
        int running = 0, left = 0;
        curl_multi_perform(p->multi, &running);
        CURLMsg *m;
        while ((m = curl_multi_info_read(p->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct probe_req *q = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&q);
            CURLcode rc = m->data.result;
            curl_easy_getinfo(m->easy_handle, CURLINFO_TOTAL_TIME, &q->reply.secs);
            if (rc == CURLE_OK) {
                curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &q->reply.status);
                answered++;
            } else {
                q->reply.status = 0;
                snprintf(q->reply.err, sizeof(q->reply.err), "%s", curl_easy_strerror(rc));
            }
            buf_reserve(&q->reply.body, 0);
            q->reply.body.data[q->reply.body.len] = '\0';
            curl_multi_remove_handle(p->multi, m->easy_handle);
            busy[q->node] = false;
            active--;
        }
        if (active > 0)
            curl_multi_poll(p->multi, NULL, 0, 100, NULL);
    }
    free(busy);
    free(started);
    return answered;
}

bool probe_one(struct probe *p, unsigned node, const char *method, const char *path,
               const char *body, size_t len, long timeout_ms, struct probe_reply *out)
{
    struct probe_req q = {.node = node, .method = method, .path = path, .body = body, .len = len};
    size_t ok = probe_run(p, &q, 1, timeout_ms);
    *out = q.reply;
    return ok == 1;
}
