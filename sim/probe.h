/* probe: the sim's HTTP client to its nodes; one keep-alive connection per node, many requests
 * in parallel through one libcurl multi handle. The sim observes and drives nodes directly, never
 * through the link layer. */
#ifndef CHAINLAB_PROBE_H
#define CHAINLAB_PROBE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "buf.h"

#define PROBE_MAX_BODY         (512u * 1024 * 1024) /* bytes read from one answer */
#define PROBE_IN_FLIGHT        256 /* requests at once by default (probe_set_limit) */
#define PROBE_KEEP_CONNECTIONS 512 /* idle connections kept for reuse by default */

struct probe;

struct probe_reply {
    long status;     /* HTTP status, 0 when no answer came */
    struct buf body; /* the answer (owned; probe_reply_clear() frees it) */
    char err[160];   /* why there was no answer, when status is 0 */
    double secs;     /* how long the request took */
};

/* One request of a batch. */
struct probe_req {
    unsigned node;            /* index into the addresses given to probe_new() */
    const char *method;       /* "GET", "POST" or "DELETE" */
    const char *path;         /* e.g. "/block" */
    const char *body;         /* request body (borrowed) or NULL */
    size_t len;               /* bytes of body */
    struct probe_reply reply; /* filled by probe_run() */
};

/* A client for n nodes listening on addr[i] (copied). Caller frees with probe_free(). */
struct probe *probe_new(const struct sockaddr_in *addr, size_t n);
void probe_free(struct probe *p);
/* Have probe_run() give up on what is left once *flag is non-zero (e.g. set by SIGINT). */
void probe_set_cancel(struct probe *p, volatile sig_atomic_t *flag);
/* Run at most max (>= 1) requests at once in probe_run() (default PROBE_IN_FLIGHT). */
void probe_set_limit(struct probe *p, size_t max);
/* Keep at most max idle connections for reuse (default PROBE_KEEP_CONNECTIONS): with one per
 * node, every request after the first reuses its connection; with fewer, the least recently used
 * are closed. Each costs a descriptor. */
void probe_set_connections(struct probe *p, size_t max);
/* Change node i's address. */
void probe_set_addr(struct probe *p, unsigned node, const struct sockaddr_in *addr);
/* Run every request of reqs in parallel (at most one per node at a time; requests to the same
 * node run one after the other; at most the limit at once) and fill their replies. Each request is
 * bounded by timeout_ms. Returns the number of requests that got an HTTP answer. */
size_t probe_run(struct probe *p, struct probe_req *reqs, size_t n, long timeout_ms);
/* One request; returns true when it got an HTTP answer. *out is filled either way (a failed
 * request may have read part of a body): free it with probe_reply_clear(). */
bool probe_one(struct probe *p, unsigned node, const char *method, const char *path,
               const char *body, size_t len, long timeout_ms, struct probe_reply *out);
/* Free a reply's body. */
void probe_reply_clear(struct probe_reply *r);
/* Bound every later request by ms instead of the bound its caller passes (the sim's
 * --request-timeout); 0 goes back to the callers' bounds. */
void probe_set_timeout(struct probe *p, long ms);
/* True for a 2xx answer: success for every request the sim sends (the original node answers
 * /append, POST /sync and POST /peers with 200 and an empty body). */
bool probe_reply_ok(const struct probe_reply *r);
/* The height node reports after answering r: the "index" (a block) or "height" (a sync answer)
 * of r's JSON body, or else the index of its GET /block (for implementations whose answers
 * carry neither). Returns 0 with *height and *asked (whether GET /block was needed), or -1 when
 * neither gives a height. */
int probe_height_after(struct probe *p, unsigned node, const struct probe_reply *r, long timeout_ms,
                       uint64_t *height, bool *asked);

#endif
