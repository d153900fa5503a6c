/* xfer: one HTTP request from the gossip worker to a peer, on the worker's libcurl multi handle.
 *
 * Every request a node makes goes through here, so every one has the same guards: the connect
 * and total timeouts of the config, http and https only, no redirects followed, a byte cap on
 * what is read, and the local address of --source. An xfer is embedded in its owner's record; its
 * done callback runs on the worker thread when the request ends (never when it is aborted), and may
 * free that record. */
#ifndef CHAINLAB_XFER_H
#define CHAINLAB_XFER_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"

struct xfer;

/* The request ended: rc is libcurl's result, status the HTTP status (0 without an answer). The
 * easy handle is already released; x may be freed here. */
typedef void (*xfer_done_cb)(struct xfer *x, CURLcode rc, long status);
/* The first begin_len bytes of the answer are in x->body. Returns false to stop reading (the
 * request then ends with CURLE_WRITE_ERROR). Runs inside libcurl: no multi call is allowed. */
typedef bool (*xfer_begun_cb)(struct xfer *x);

struct xfer {
    CURL *easy;        /* NULL once released */
    xfer_done_cb done; /* called once when the request ends */
    void *arg;         /* the owner's */
    struct buf body;   /* the answer, when collected (xfer_collect()); freed by xfer_clear() */
    size_t cap;        /* bytes allowed; 0: the answer is read and dropped */
    size_t *spent;     /* bytes counted against cap, shared by several requests; NULL: body.len */
    bool too_big;      /* the answer passed cap: the request was stopped */
    size_t begin_len;  /* when > 0, begun is called once body holds this many bytes */
    xfer_begun_cb begun;
    char curl_err[CURL_ERROR_SIZE]; /* libcurl's detail on a failure, or "" */
};

/* Prepare x (zeroed by the caller) for GET base + path (base: a peer URL), with the peer
 * settings of cfg: timeouts, protocols, no redirects, the source address (--source). The caller
 * may set more options on x->easy before xfer_start(). */
void xfer_init(struct xfer *x, const struct config *cfg, const char *base, const char *path,
               xfer_done_cb done, void *arg);
/* Make x a POST of body (len bytes, borrowed until x ends) with headers (borrowed). */
void xfer_set_post(struct xfer *x, const char *body, size_t len, struct curl_slist *headers);
/* Keep the answer in x->body, at most cap bytes (counted in *spent when spent is not NULL:
 * several requests then share one cap); past it the request stops with x->too_big set. */
void xfer_collect(struct xfer *x, size_t cap, size_t *spent);
/* Run x on m. */
void xfer_start(CURLM *m, struct xfer *x);
/* A request of m ended (CURLMSG_DONE for e): release its handle and call its done callback. */
void xfer_finish(CURLM *m, CURL *e, CURLcode rc);
/* Stop x if it runs and release its handle and body; done is not called. NULL is a no-op. */
void xfer_abort(CURLM *m, struct xfer *x);
/* Release x's body (after done). */
void xfer_clear(struct xfer *x);
/* Whether x ended because its answer passed the cap. */
bool xfer_too_big(const struct xfer *x, CURLcode rc);
/* Why x failed with rc, for the log: libcurl's text for the code and, escaped, its detail when
 * that says more. Returns out. */
const char *xfer_strerror(const struct xfer *x, CURLcode rc, char *out, size_t outsz);

#endif
