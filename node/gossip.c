/* gossip: the node's one worker thread that talks to peers (broadcasts and syncs).
 *
 * Design: other threads only touch the inbox (a list of blocks to broadcast, the sync request
 * counter and the waiters) under g->lock, then wake the worker with curl_multi_wakeup(). The
 * worker owns everything else: one state per peer with a bounded queue of blocks and at most one
 * POST in flight (so a peer receives blocks in order), and the sync in progress.
 *
 * Syncs are numbered. A request takes ticket = ++requested. When no sync runs and requested >
 * started, the worker starts one and sets started = requested: that sync began after every
 * request up to `started`, so when it finishes, completed = started and every waiter with
 * ticket <= completed is answered. Requests that arrive during a sync have a larger ticket and
 * cause exactly one more sync.
 *
 * A sync holds one fetch per peer: GET /block to learn the peer's height, then the peer's chain in
 * one answer or in pages of cfg.sync_page blocks, at most GOSSIP_PAGES_IN_FLIGHT at a time. Each
 * answer is handed to the parsers, a few threads started on the first sync that parse and
 * validate it with chain_parse_segment() without holding any lock, and hand the segment back
 * through a done list (under parse.lock) and curl_multi_wakeup(). The worker joins a fetch's
 * pages in order as they come back, so it never parses a chain itself. A fetch is settled (its
 * chain compared with the best, its errors logged, then freed) once none of its transfers and
 * parses is outstanding. A peer that ignores ?from=&limit= answers every page with its whole
 * chain: a page past the first that begins with "[" and the genesis block (json.dumps bytes) is
 * cut off after those bytes, and a first page holding more blocks than asked is the whole chain.
 * Either way the first answer is used and the other pages are dropped.
 *
 * A node that holds blocks asks only for the ones it lacks: pages from its tip index + 1. The
 * segment fetched is kept when its first block's prev_hash is the hash of our block before it
 * (the peer then holds our chain up to there, hash links being unforgeable) and is joined to our
 * prefix by chain_extend_if_longer(); otherwise the peer forked below our tip and its whole
 * chain is fetched from genesis. A peer that ignores the query answers with its whole chain,
 * which is used as such. So after a partition a node downloads what it missed, not the chain. */
#include "gossip.h"

#include <curl/curl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

/* How the answer of a peer that ignores ?from= begins: "[" and genesis as json.dumps writes it. */
static const char genesis_array[] = "[{\"index\": 0, \"data\": null, \"prev_hash\": null, "
                                    "\"hash\": \"" BLOCK_GENESIS_HASH "\"}";
#define GENESIS_ARRAY_LEN (sizeof(genesis_array) - 1)

/* A block's JSON shared by the queues of every peer. */
struct bcast {
    unsigned refs;                /* worker-only after the inbox: queue entries and posts */
    unsigned pending;             /* counted deliveries not yet settled */
    bool all_ok;                  /* every counted delivery so far was answered 2xx */
    struct gossip_waiter *waiter; /* answered when pending reaches 0 or at the deadline */
    int64_t deadline_ms;
    size_t len;
    struct bcast *next; /* inbox link */
    char data[];
};

/* A block queued for one peer. counted: the broadcast's waiter waits for this delivery. */
struct qentry {
    struct bcast *b;
    bool counted;
};

enum xfer_kind { XFER_POST_BLOCK, XFER_GET_TIP, XFER_GET_PAGE };

struct peer_state;
struct fetch;

struct xfer {
    enum xfer_kind kind;
    struct peer_state *peer; /* XFER_POST_BLOCK: the peer posted to */
    struct fetch *fetch;     /* XFER_GET_TIP, XFER_GET_PAGE: the fetch it belongs to */
    size_t page;             /* XFER_GET_PAGE: which page of the fetch */
    struct bcast *b;         /* XFER_POST_BLOCK: the block sent (a reference) */
    bool counted;            /* XFER_POST_BLOCK: its broadcast waits for this answer */
    struct buf body;         /* GET: the answer so far */
    size_t cap;              /* GET: bytes allowed (for a page: over all pages of the fetch) */
    bool too_big;            /* the answer passed cap */
    bool at_genesis;         /* XFER_GET_PAGE: starts at genesis though asked from further on */
    char curl_err[CURL_ERROR_SIZE]; /* libcurl's detail on a failure, or "" */
    CURL *easy;
};

enum page_state {
    PAGE_WAITING,  /* not requested yet */
    PAGE_FETCHING, /* its GET is in flight (page.xfer) */
    PAGE_PARSING,  /* with the parsers */
    PAGE_PARSED,   /* page.seg holds it, waiting for the pages before it */
    PAGE_JOINED,   /* part of fetch.chain */
    PAGE_DROPPED,  /* failed, aborted or not needed */
};

struct page {
    enum page_state state;
    struct xfer *xfer; /* PAGE_FETCHING */
    struct chain *seg; /* PAGE_PARSED (owned) */
};

enum cancel { CANCEL_NONE, CANCEL_LATER_PAGES, CANCEL_ALL };

/* One peer's part of the running sync. Worker-only, except `cancel`, which the parsers read. */
struct fetch {
    struct peer_state *peer; /* NULL once the peer has left the peer set */
    char *url;               /* the peer's URL (owned) */
    struct xfer *tip;        /* GET /block in flight */
    uint64_t height;         /* the peer's tip index, from GET /block */
    uint64_t from;           /* index of the first block asked: 0, or our tip + 1 */
    bool refetch;            /* what came from `from` on is of no use: start again from genesis */
    uint64_t page_blocks;    /* blocks per page asked; 0: one GET /blocks without a query */
    struct page *pages;      /* npages entries */
    size_t npages;
    size_t next_page;    /* the next page to request */
    size_t in_flight;    /* transfers running */
    size_t parsing;      /* pages with the parsers */
    size_t joined;       /* pages [0, joined) are in chain */
    struct chain *chain; /* the pages joined so far (unshared, owned), or NULL */
    size_t bytes;        /* bytes received over all pages */
    bool whole;          /* the first page is the peer's whole chain */
    bool paging;         /* a page began as asked (not at genesis): the peer honours ?from= */
    bool stopped;        /* request no more pages */
    bool skipped;        /* nothing to gain from this peer: not fetched */
    bool removed;        /* the peer left the peer set */
    bool failed;         /* err says why; the fetch gives no chain */
    bool unreachable;    /* failed on the network (the peer is marked down) */
    int cancel;          /* enum cancel, atomic: pages the parsers should skip */
    size_t page_err_at;  /* the first page that failed to parse (when page_err is set) */
    char page_err[256];  /* why; fatal unless the first page turns out to be the whole chain */
    char err[300];
};

/* A page handed to the parsers. Owned by the parse queue, then the parser, then the done list. */
struct job {
    struct fetch *fetch; /* its fetch outlives the job; the parser reads only fetch->cancel */
    size_t page;
    uint64_t from;     /* index of the page's first block */
    struct buf text;   /* the answer (owned; freed once parsed) */
    struct chain *seg; /* the result (owned), or NULL with err set or skipped */
    bool skipped;
    char err[256];
    struct job *next;
};

struct peer_state {
    char *url;
    struct qentry *queue; /* ring of cfg.queue entries */
    size_t qhead, qlen;
    struct xfer *post;   /* in flight, or NULL */
    struct fetch *fetch; /* this peer's part of the running sync, or NULL */
    bool down;           /* the last request failed (logged once per change) */
    bool lagging;        /* missed a broadcast deadline: not waited for until it answers again */
};

struct gossip {
    struct chain *chain;
    struct peers *peers;
    struct config cfg;
    CURLM *multi;
    struct curl_slist *post_headers;
    pthread_t thread;
    bool started;

    pthread_mutex_t lock; /* guards the fields down to stats */
    struct bcast *inbox, *inbox_tail;
    uint64_t requested, started_gen, completed;
    struct gossip_waiter *waiters;
    bool stopping;
    struct gossip_stats stats;

    struct {
        pthread_mutex_t lock; /* guards queue, done and stop */
        pthread_cond_t wake;  /* signalled when a job is queued or stop is set */
        struct job *queue, *queue_tail;
        struct job *done; /* parsed, for the worker to collect */
        bool stop;
        pthread_t threads[GOSSIP_MAX_PARSERS]; /* worker-only */
        size_t nthreads;                       /* worker-only; 0 until the first job */
    } parse;

    /* worker-only state */
    struct peer_state **ps;
    size_t nps;
    uint64_t peers_gen;
    bool syncing;
    size_t fetches_left; /* fetches of the running sync not yet settled */
    struct chain *best;  /* the longest valid chain fetched in this sync, or a segment of it
                          * that links to ours (chain_base() > 0) */
    size_t sync_bytes;   /* fetched in this sync, over all peers */
    uint64_t best_height;
    struct bcast **waiting; /* broadcasts whose waiter has not been answered */
    size_t nwaiting, capwaiting;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void bcast_unref(struct bcast *b)
{
    if (b && --b->refs == 0)
        free(b);
}

struct gossip *gossip_new(struct chain *c, struct peers *p, const struct config *cfg)
{
    struct gossip *g = xcalloc(1, sizeof(*g));
    g->chain = c;
    g->peers = p;
    g->cfg = *cfg;
    if (g->cfg.queue == 0)
        g->cfg.queue = 1;
    if (g->cfg.sync_page == 0)
        g->cfg.sync_page = 1;
    pthread_mutex_init(&g->lock, NULL);
    pthread_mutex_init(&g->parse.lock, NULL);
    pthread_cond_init(&g->parse.wake, NULL);
    g->peers_gen = UINT64_MAX;
    return g;
}

/* ---- broadcast waiters ---- */

/* Answer b's waiter (once). */
static void answer(struct gossip *g, struct bcast *b)
{
    struct gossip_waiter *w = b->waiter;
    if (w == NULL)
        return;
    b->waiter = NULL;
    for (size_t i = 0; i < g->nwaiting; i++) {
        if (g->waiting[i] == b) {
            g->waiting[i] = g->waiting[--g->nwaiting];
            break;
        }
    }
    w->cb(w->arg, b->all_ok && b->pending == 0, chain_tip(g->chain, NULL));
    bcast_unref(b);
}

/* One counted delivery of b ended (answered 2xx when ok). */
static void settle(struct gossip *g, struct bcast *b, bool ok)
{
    if (!ok)
        b->all_ok = false;
    if (b->pending > 0 && --b->pending == 0)
        answer(g, b);
}

/* ---- transfers ---- */

static size_t discard_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    (void)ptr;
    (void)arg;
    return size * nmemb;
}

static size_t collect_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;
    size_t *total = x->kind == XFER_GET_PAGE ? &x->fetch->bytes : &x->body.len;
    if (*total + n > x->cap) {
        x->too_big = true;
        return 0; /* aborts the transfer */
    }
    size_t before = x->body.len;
    buf_append(&x->body, ptr, n);
    if (x->kind == XFER_GET_PAGE)
        x->fetch->bytes += n;
    /* A page that starts at genesis although it was asked from a later index: the peer ignores
     * the query and sends its whole chain. Past the first page that is only a shortcut (the
     * first page is used as the whole chain): the transfer stops. The first page, asked from
     * our tip on, is the whole chain and is read to its end. */
    if (x->kind == XFER_GET_PAGE && (x->page > 0 || x->fetch->from > 0) &&
        before < GENESIS_ARRAY_LEN && x->body.len >= GENESIS_ARRAY_LEN) {
        if (memcmp(x->body.data, genesis_array, GENESIS_ARRAY_LEN) == 0) {
            x->at_genesis = true;
            if (x->page > 0)
                return 0;
        } else {
            x->fetch->paging = true;
        }
    }
    return n;
}

/* A new easy handle for base (a peer URL) + path, tied to x. */
static CURL *easy_for(struct gossip *g, struct xfer *x, const char *base, const char *path)
{
    char url[CONFIG_MAX_URL + 96];
    CURL *e = curl_easy_init();
    if (e == NULL)
        abort();
    snprintf(url, sizeof(url), "%s%s", base, path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, g->cfg.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, g->cfg.timeout_ms);
    x->curl_err[0] = '\0';
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
    x->easy = e;
    return e;
}

/* Why x failed with rc, for the log: libcurl's text for the code and, escaped, its detail when
 * that says more (which limit a peer's answer broke, the timeout that passed). Returns out. */
static const char *xfer_strerror(const struct xfer *x, CURLcode rc, char *out, size_t outsz)
{
    char esc[200];
    const char *what = curl_easy_strerror(rc);
    size_t n = strcspn(x->curl_err, "\r\n");
    if (rc == CURLE_OUT_OF_MEMORY && n == 0) /* all libcurl says of an over-long header line */
        snprintf(out, outsz, "%s (or a response header line over %d bytes)", what,
                 CURL_MAX_HTTP_HEADER);
    else if (n == 0 || strcmp(x->curl_err, what) == 0)
        snprintf(out, outsz, "%s", what);
    else
        snprintf(out, outsz, "%s (%s)", what, log_escape(x->curl_err, n, 120, esc, sizeof(esc)));
    return out;
}

static void xfer_free(struct xfer *x)
{
    if (x == NULL)
        return;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    bcast_unref(x->b);
    buf_free(&x->body);
    free(x);
}

static void start_post(struct gossip *g, struct peer_state *p)
{
    struct xfer *x = xcalloc(1, sizeof(*x));
    x->kind = XFER_POST_BLOCK;
    x->peer = p;
    x->b = p->queue[p->qhead].b;
    x->counted = p->queue[p->qhead].counted;
    p->qhead = (p->qhead + 1) % g->cfg.queue;
    p->qlen--;
    CURL *e = easy_for(g, x, p->url, "/block");
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, &x->b->data[0]);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)x->b->len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, g->post_headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb);
    p->post = x;
    curl_multi_add_handle(g->multi, e);
}

/* Start a GET of path for fetch f, its answer collected up to cap bytes. */
static struct xfer *start_get(struct gossip *g, struct fetch *f, enum xfer_kind kind,
                              const char *path, size_t cap)
{
    struct xfer *x = xcalloc(1, sizeof(*x));
    x->kind = kind;
    x->fetch = f;
    x->cap = cap;
    CURL *e = easy_for(g, x, f->url, path);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_multi_add_handle(g->multi, e);
    f->in_flight++;
    return x;
}

/* Stop a transfer and free it (a broadcast that waited for it counts it as failed). */
static void abort_xfer(struct gossip *g, struct xfer *x)
{
    if (x == NULL)
        return;
    curl_multi_remove_handle(g->multi, x->easy);
    if (x->b && x->counted)
        settle(g, x->b, false);
    if (x->fetch)
        x->fetch->in_flight--;
    xfer_free(x);
}

/* ---- parsers ---- */

static void parse_job(struct job *j)
{
    int cancel = __atomic_load_n(&j->fetch->cancel, __ATOMIC_ACQUIRE);
    const char *text = j->text.data ? j->text.data : "";
    if (cancel == CANCEL_ALL || (cancel == CANCEL_LATER_PAGES && j->page > 0)) {
        j->skipped = true;
    } else {
        j->seg = chain_parse_segment(text, j->text.len, j->from, j->err, sizeof(j->err));
        /* Asked from our tip on, a peer that ignores the query answers its whole chain (in a
         * formatting collect_cb did not recognise): take it as such when it is one. */
        if (j->seg == NULL && j->page == 0 && j->from > 0) {
            char err[sizeof(j->err)];
            j->seg = chain_parse_segment(text, j->text.len, 0, err, sizeof(err));
        }
    }
    buf_free(&j->text);
}

static void *parser_main(void *arg)
{
    struct gossip *g = arg;
    pthread_mutex_lock(&g->parse.lock);
    for (;;) {
        while (!g->parse.stop && g->parse.queue == NULL)
            pthread_cond_wait(&g->parse.wake, &g->parse.lock);
        struct job *j = g->parse.queue;
        if (j == NULL)
            break; /* stopping, and nothing left */
        g->parse.queue = j->next;
        if (g->parse.queue == NULL)
            g->parse.queue_tail = NULL;
        pthread_mutex_unlock(&g->parse.lock);
        parse_job(j); /* no lock held: this is the long part */
        pthread_mutex_lock(&g->parse.lock);
        j->next = g->parse.done;
        g->parse.done = j;
        pthread_mutex_unlock(&g->parse.lock);
        curl_multi_wakeup(g->multi);
        pthread_mutex_lock(&g->parse.lock);
    }
    pthread_mutex_unlock(&g->parse.lock);
    return NULL;
}

/* Start the parser threads: one per online CPU, at most GOSSIP_MAX_PARSERS. */
static void start_parsers(struct gossip *g)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = cpus < 1 ? 1 : cpus > GOSSIP_MAX_PARSERS ? GOSSIP_MAX_PARSERS : (size_t)cpus;
    while (g->parse.nthreads < want &&
           pthread_create(&g->parse.threads[g->parse.nthreads], NULL, parser_main, g) == 0)
        g->parse.nthreads++;
    if (g->parse.nthreads == 0)
        log_warn("cannot start a parser thread: syncs parse on the gossip thread");
    else
        log_debug("started %zu parser threads", g->parse.nthreads);
}

/* Hand page of fetch f (its answer taken from body) to the parsers. */
static void submit_page(struct gossip *g, struct fetch *f, size_t page, struct buf *body)
{
    struct job *j = xcalloc(1, sizeof(*j));
    j->fetch = f;
    j->page = page;
    j->from = f->whole ? 0 : f->from + page * f->page_blocks;
    j->text = *body;
    *body = (struct buf)BUF_INIT;
    f->pages[page].state = PAGE_PARSING;
    f->parsing++;
    if (g->parse.nthreads == 0)
        start_parsers(g);
    if (g->parse.nthreads == 0) {
        parse_job(j); /* no thread at all: parse here rather than never */
        j->next = NULL;
    }
    pthread_mutex_lock(&g->parse.lock);
    if (g->parse.nthreads == 0) {
        j->next = g->parse.done;
        g->parse.done = j;
    } else {
        if (g->parse.queue_tail)
            g->parse.queue_tail->next = j;
        else
            g->parse.queue = j;
        g->parse.queue_tail = j;
        pthread_cond_signal(&g->parse.wake);
    }
    pthread_mutex_unlock(&g->parse.lock);
}

/* Take the parsed pages (oldest first). Returns the list; the caller owns the jobs. */
static struct job *take_parsed(struct gossip *g)
{
    pthread_mutex_lock(&g->parse.lock);
    struct job *j = g->parse.done, *list = NULL;
    g->parse.done = NULL;
    pthread_mutex_unlock(&g->parse.lock);
    while (j) { /* the done list is newest first */
        struct job *next = j->next;
        j->next = list;
        list = j;
        j = next;
    }
    return list;
}

/* Stop the parser threads: pages still queued come back skipped, the running ones finish. */
static void stop_parsers(struct gossip *g)
{
    pthread_mutex_lock(&g->parse.lock);
    g->parse.stop = true;
    while (g->parse.queue) {
        struct job *j = g->parse.queue;
        g->parse.queue = j->next;
        buf_free(&j->text);
        j->skipped = true;
        j->next = g->parse.done;
        g->parse.done = j;
    }
    g->parse.queue_tail = NULL;
    pthread_cond_broadcast(&g->parse.wake);
    pthread_mutex_unlock(&g->parse.lock);
    for (size_t i = 0; i < g->parse.nthreads; i++)
        pthread_join(g->parse.threads[i], NULL);
    g->parse.nthreads = 0;
}

/* ---- peers ---- */

static void fetch_peer_gone(struct gossip *g, struct fetch *f);

static void peer_free(struct gossip *g, struct peer_state *p)
{
    abort_xfer(g, p->post);
    if (p->fetch)
        fetch_peer_gone(g, p->fetch);
    while (p->qlen > 0) {
        struct qentry q = p->queue[p->qhead];
        p->qhead = (p->qhead + 1) % g->cfg.queue;
        p->qlen--;
        if (q.counted)
            settle(g, q.b, false);
        bcast_unref(q.b);
    }
    free(p->queue);
    free(p->url);
    free(p);
}

/* Bring the worker's peer states in line with the peer set. */
static void reconcile_peers(struct gossip *g)
{
    uint64_t gen = peers_generation(g->peers);
    if (gen == g->peers_gen)
        return;
    char **urls = peers_list(g->peers, &gen);
    size_t n = 0;
    while (urls[n])
        n++;
    struct peer_state **next = xcalloc(n ? n : 1, sizeof(*next));
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < g->nps; j++) {
            if (g->ps[j] && strcmp(g->ps[j]->url, urls[i]) == 0) {
                next[i] = g->ps[j];
                g->ps[j] = NULL;
                break;
            }
        }
        if (next[i] == NULL) {
            next[i] = xcalloc(1, sizeof(struct peer_state));
            next[i]->url = xstrdup(urls[i]);
            next[i]->queue = xcalloc(g->cfg.queue, sizeof(struct qentry));
        }
    }
    for (size_t j = 0; j < g->nps; j++) {
        if (g->ps[j])
            peer_free(g, g->ps[j]);
    }
    free(g->ps);
    g->ps = next;
    g->nps = n;
    g->peers_gen = gen;
    peers_list_free(urls);
}

static void enqueue(struct gossip *g, struct peer_state *p, struct bcast *b)
{
    if (p->qlen == g->cfg.queue) {
        /* Drop the oldest: a later block with a gap makes the peer sync, so nothing is lost. */
        struct qentry old = p->queue[p->qhead];
        p->qhead = (p->qhead + 1) % g->cfg.queue;
        p->qlen--;
        if (old.counted)
            settle(g, old.b, false);
        bcast_unref(old.b);
        pthread_mutex_lock(&g->lock);
        g->stats.posts_dropped++;
        pthread_mutex_unlock(&g->lock);
    }
    /* A peer known to be down or slow is still sent the block, but not waited for. */
    bool counted = b->waiter != NULL && !p->down && !p->lagging;
    b->refs++;
    p->queue[(p->qhead + p->qlen) % g->cfg.queue] = (struct qentry){b, counted};
    p->qlen++;
    if (counted)
        b->pending++;
}

/* b's deadline passed: the peers still holding it are lagging; answer its waiter. */
static void expire(struct gossip *g, struct bcast *b)
{
    for (size_t i = 0; i < g->nps; i++) {
        struct peer_state *p = g->ps[i];
        if (p->post && p->post->b == b && p->post->counted) {
            p->post->counted = false;
            p->lagging = true;
        }
        for (size_t k = 0; k < p->qlen; k++) {
            struct qentry *q = &p->queue[(p->qhead + k) % g->cfg.queue];
            if (q->b == b && q->counted) {
                q->counted = false;
                p->lagging = true;
            }
        }
        if (p->lagging)
            log_debug("peer %s is lagging: broadcasts no longer wait for it", p->url);
    }
    b->all_ok = false;
    answer(g, b);
}

static void mark_peer(struct peer_state *p, bool ok, const char *what)
{
    if (ok && p->down) {
        log_info("peer %s is reachable again", p->url);
    } else if (!ok && !p->down) {
        log_warn("peer %s: %s", p->url, what);
    } else if (!ok) {
        log_debug("peer %s: %s", p->url, what);
    }
    p->down = !ok;
}

/* ---- syncs ---- */

static struct fetch *fetch_new(struct gossip *g, struct peer_state *p)
{
    struct fetch *f = xcalloc(1, sizeof(*f));
    f->peer = p;
    f->url = xstrdup(p->url);
    p->fetch = f;
    g->fetches_left++;
    return f;
}

static void fetch_free(struct fetch *f)
{
    for (size_t k = 0; k < f->npages; k++)
        chain_free(f->pages[k].seg);
    free(f->pages);
    chain_free(f->chain);
    free(f->url);
    free(f);
}

/* The path of page k: the whole chain when the fetch is not paged. */
static void page_path(const struct fetch *f, size_t k, char *out, size_t outsz)
{
    if (f->page_blocks == 0)
        snprintf(out, outsz, "/blocks");
    else
        snprintf(out, outsz, "/blocks?from=%llu&limit=%llu",
                 (unsigned long long)(f->from + k * f->page_blocks),
                 (unsigned long long)f->page_blocks);
}

/* Request no more pages; abort the transfers of pages [first, npages) and drop those pages.
 * Pages with the parsers are dropped when they come back. */
static void drop_pages(struct gossip *g, struct fetch *f, size_t first)
{
    for (size_t k = first; k < f->npages; k++) {
        struct page *pg = &f->pages[k];
        if (pg->state == PAGE_FETCHING) {
            abort_xfer(g, pg->xfer);
            pg->xfer = NULL;
        }
        chain_free(pg->seg);
        pg->seg = NULL;
        if (pg->state != PAGE_PARSING && pg->state != PAGE_JOINED)
            pg->state = PAGE_DROPPED;
    }
    f->stopped = true;
}

/* The fetch gives no chain: say why (the first reason wins) and stop all its work. */
static void fetch_fail(struct gossip *g, struct fetch *f, bool unreachable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fetch_fail(struct gossip *g, struct fetch *f, bool unreachable, const char *fmt, ...)
{
    if (!f->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->err, sizeof(f->err), fmt, ap);
        va_end(ap);
        f->failed = true;
        f->unreachable = unreachable;
    }
    if (f->tip) {
        abort_xfer(g, f->tip);
        f->tip = NULL;
    }
    drop_pages(g, f, 0);
    __atomic_store_n(&f->cancel, CANCEL_ALL, __ATOMIC_RELEASE);
}

/* The peer ignores ?from=&limit=: its first answer is its whole chain; drop the other pages. */
static void fetch_whole(struct gossip *g, struct fetch *f)
{
    if (f->failed)
        return;
    if (!f->whole)
        log_debug("peer %s ignores ?from=&limit=: its first answer is its whole chain", f->url);
    f->whole = true;
    drop_pages(g, f, 1);
    __atomic_store_n(&f->cancel, CANCEL_LATER_PAGES, __ATOMIC_RELEASE);
}

/* Request pages in order while fewer than GOSSIP_PAGES_IN_FLIGHT transfers run (2 until the
 * peer has shown that it honours the query: an original sends its whole chain for each). */
static void fetch_pump(struct gossip *g, struct fetch *f)
{
    size_t most = f->paging ? GOSSIP_PAGES_IN_FLIGHT : 2;
    while (!f->failed && !f->stopped && f->next_page < f->npages && f->in_flight < most) {
        size_t k = f->next_page++;
        char path[96];
        page_path(f, k, path, sizeof(path));
        struct xfer *x = start_get(g, f, XFER_GET_PAGE, path, g->cfg.max_chain_bytes);
        x->page = k;
        f->pages[k].xfer = x;
        f->pages[k].state = PAGE_FETCHING;
    }
}

/* Fetch the chain as npages pages of page_blocks blocks, or (page_blocks 0) in one answer. */
static void fetch_plan(struct gossip *g, struct fetch *f, uint64_t page_blocks, size_t npages)
{
    f->page_blocks = page_blocks;
    f->npages = npages;
    f->pages = xcalloc(npages, sizeof(*f->pages));
    f->whole = page_blocks == 0;
    fetch_pump(g, f);
}

/* Fetch blocks [f->from, f->height]: from genesis, a chain of at most cfg.sync_page blocks comes in
 * one GET /blocks (as the original asks); anything else in pages, at most GOSSIP_MAX_PAGES of them.
 */
static void fetch_range(struct gossip *g, struct fetch *f)
{
    uint64_t count = f->height - f->from + 1, page = g->cfg.sync_page;
    if (f->from == 0 && count <= page) {
        fetch_plan(g, f, 0, 1);
        return;
    }
    if (count / GOSSIP_MAX_PAGES >= page)
        page = (count + GOSSIP_MAX_PAGES - 1) / GOSSIP_MAX_PAGES;
    size_t n = (size_t)((count - 1) / page) + 1;
    log_debug("peer %s: height %llu: fetching %zu pages of %llu blocks from block %llu", f->url,
              (unsigned long long)f->height, n, (unsigned long long)page,
              (unsigned long long)f->from);
    fetch_plan(g, f, page, n);
}

/* The blocks f fetched after our tip do not follow our chain: the peer forked below our tip.
 * Fetch no more of them; fetch_settle() starts f again from genesis. */
static void fork_below_tip(struct gossip *g, struct fetch *f)
{
    f->refetch = true;
    drop_pages(g, f, 1);
    __atomic_store_n(&f->cancel, CANCEL_LATER_PAGES, __ATOMIC_RELEASE);
}

/* Start f again from genesis, once (from is 0 then). Call with nothing of f outstanding. The
 * byte cap applies to each attempt. */
static void fetch_from_genesis(struct gossip *g, struct fetch *f)
{
    log_debug("peer %s: its blocks from %llu do not follow ours (it forked below our tip): "
              "fetching its whole chain",
              f->url, (unsigned long long)f->from);
    f->refetch = false;
    for (size_t k = 0; k < f->npages; k++)
        chain_free(f->pages[k].seg);
    free(f->pages);
    f->pages = NULL;
    chain_free(f->chain);
    f->chain = NULL;
    f->npages = f->next_page = f->joined = 0;
    g->sync_bytes += f->bytes;
    f->bytes = 0;
    f->from = 0;
    f->whole = f->stopped = f->paging = false;
    f->page_err[0] = '\0';
    f->page_err_at = 0;
    __atomic_store_n(&f->cancel, CANCEL_NONE, __ATOMIC_RELEASE);
    fetch_range(g, f);
}

/* Log the outcome of f, keep its chain if it is the best so far, and free f. Or, when the peer
 * forked below our tip and can still beat the best chain fetched, start f again from genesis. */
static void fetch_settle(struct gossip *g, struct fetch *f)
{
    struct peer_state *p = f->peer;
    struct chain *c = NULL;
    if (f->refetch && !f->failed) {
        if (f->height > g->best_height) {
            fetch_from_genesis(g, f);
            return;
        }
        log_debug("peer %s: forked below our tip, and its height %llu is not above %llu: not "
                  "fetched whole",
                  f->url, (unsigned long long)f->height, (unsigned long long)g->best_height);
        f->skipped = true;
    }
    if (!f->failed && !f->skipped) {
        if (f->chain && (f->whole || f->joined == f->npages)) {
            c = f->chain;
            f->chain = NULL;
        } else if (f->page_err[0]) {
            snprintf(f->err, sizeof(f->err), "sync: ignoring an invalid chain: %s", f->page_err);
            f->failed = true;
        } else {
            snprintf(f->err, sizeof(f->err), "sync: ignoring an incomplete chain");
            f->failed = true;
        }
    }
    if (f->removed) {
        log_debug("sync: dropped what came from %s: it left the peer set", f->url);
    } else if (f->failed) {
        if (p)
            mark_peer(p, !f->unreachable, f->err);
        if (!f->unreachable)
            log_warn("peer %s: %s", f->url, f->err);
    } else if (p) {
        mark_peer(p, true, NULL);
    }
    if (c) {
        uint64_t h = chain_tip(c, NULL);
        if (h > g->best_height) {
            chain_free(g->best);
            g->best = c;
            g->best_height = h;
        } else {
            chain_free(c);
        }
    }
    if (p)
        p->fetch = NULL;
    g->sync_bytes += f->bytes;
    fetch_free(f);
    g->fetches_left--;
}

/* Settle f once nothing of it is outstanding. f may be freed, or started again from genesis. */
static void fetch_check(struct gossip *g, struct fetch *f)
{
    if (f->in_flight == 0 && f->parsing == 0 &&
        (f->failed || f->stopped || f->next_page == f->npages))
        fetch_settle(g, f);
}

static void fetch_peer_gone(struct gossip *g, struct fetch *f)
{
    f->peer->fetch = NULL;
    f->peer = NULL;
    f->removed = true;
    fetch_fail(g, f, false, "the peer left the peer set");
    fetch_check(g, f);
}

static void start_sync(struct gossip *g)
{
    g->syncing = true;
    g->fetches_left = 0;
    g->best = NULL;
    g->best_height = chain_tip(g->chain, NULL);
    g->sync_bytes = 0;
    for (size_t i = 0; i < g->nps; i++) {
        struct fetch *f = fetch_new(g, g->ps[i]);
        f->tip = start_get(g, f, XFER_GET_TIP, "/block", GOSSIP_TIP_BYTES);
    }
    log_debug("sync started with %zu peers", g->fetches_left);
}

/* GET /block of f ended: fetch nothing, the whole chain, or pages. */
static void tip_fetched(struct gossip *g, struct fetch *f, struct xfer *x, CURLcode rc, long status)
{
    char why[200] = "";
    struct block b = {0};
    bool too_big = x->too_big || rc == CURLE_FILESIZE_EXCEEDED;
    int parsed = -1;
    f->tip = NULL;
    f->in_flight--;
    if (too_big)
        snprintf(why, sizeof(why), "more than %d bytes", GOSSIP_TIP_BYTES);
    else if (rc == CURLE_OK && status != 200)
        snprintf(why, sizeof(why), "HTTP %ld", status);
    else if (rc == CURLE_OK)
        parsed = block_parse(x->body.data ? x->body.data : "", x->body.len, &b, why, sizeof(why));
    uint64_t h = b.index;
    block_clear(&b);

    if (rc != CURLE_OK && !too_big) {
        fetch_fail(g, f, true, "sync: GET /block failed: %s",
                   xfer_strerror(x, rc, why, sizeof(why)));
    } else if (parsed < 0) {
        /* No height to go by: ask for the whole chain, as the original does. */
        log_debug("peer %s: no height from GET /block (%s): fetching its whole chain", f->url, why);
        fetch_plan(g, f, 0, 1);
    } else if (h <= g->best_height) {
        log_debug("peer %s: height %llu is not above %llu: not fetched", f->url,
                  (unsigned long long)h, (unsigned long long)g->best_height);
        f->skipped = true;
        f->stopped = true;
    } else if (h >= g->cfg.max_chain_bytes / GOSSIP_MIN_BLOCK_BYTES) {
        fetch_fail(g, f, false, "sync: ignoring the chain: more than %zu bytes (height %llu)",
                   g->cfg.max_chain_bytes, (unsigned long long)h);
    } else {
        /* our tip now: blocks appended since the sync started need not be fetched either */
        uint64_t held = chain_tip(g->chain, NULL);
        f->height = h;
        f->from = held > 0 ? held + 1 : 0;
        if (f->from > h) {
            f->skipped = true;
            f->stopped = true;
        } else {
            fetch_range(g, f);
        }
    }
    fetch_check(g, f);
}

/* A page's GET ended: hand the answer to the parsers, or fail the fetch. */
static void page_fetched(struct gossip *g, struct fetch *f, struct xfer *x, CURLcode rc,
                         long status)
{
    char path[96], why[200];
    size_t k = x->page;
    f->in_flight--;
    f->pages[k].xfer = NULL;
    f->pages[k].state = PAGE_DROPPED;
    page_path(f, k, path, sizeof(path));
    if (x->at_genesis && k > 0) {
        fetch_whole(g, f);
    } else if (x->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        fetch_fail(g, f, false, "sync: ignoring the chain: more than %zu bytes",
                   g->cfg.max_chain_bytes);
    } else if (rc != CURLE_OK) {
        fetch_fail(g, f, true, "sync: GET %s failed: %s", path,
                   xfer_strerror(x, rc, why, sizeof(why)));
    } else if (status != 200) {
        fetch_fail(g, f, false, "sync: GET %s answered HTTP %ld", path, status);
    } else if (!f->failed && !(f->whole && k > 0)) {
        if (x->at_genesis) /* asked from our tip on, the peer sent its whole chain */
            fetch_whole(g, f);
        submit_page(g, f, k, &x->body);
    }
    fetch_pump(g, f);
    fetch_check(g, f);
}

/* Join the parsed pages that follow the joined ones, in order. */
static void fetch_join(struct gossip *g, struct fetch *f)
{
    char why[200];
    while (!f->failed && f->joined < f->npages && f->pages[f->joined].state == PAGE_PARSED) {
        size_t k = f->joined++;
        struct chain *seg = f->pages[k].seg;
        f->pages[k].seg = NULL;
        f->pages[k].state = PAGE_JOINED;
        if (k == 0) {
            char prev[BLOCK_HASH_HEX + 1];
            uint64_t base = chain_base(seg, prev);
            f->chain = seg;
            if (base > 0 && !chain_links_at(g->chain, base, prev)) {
                /* known from the first page: the rest would be of no use */
                fork_below_tip(g, f);
            } else if (f->page_blocks > 0 && chain_tip(seg, NULL) >= f->from + f->page_blocks) {
                fetch_whole(g, f); /* more blocks than asked for: the peer ignored the query */
            }
        } else if (chain_join(f->chain, seg, why, sizeof(why)) < 0) {
            /* Each page is valid alone: the peer's chain changed between pages, or it was never
             * valid (a broken link right at a page boundary). The log must not guess. */
            fetch_fail(g, f, false,
                       "sync: ignoring the chain: its pages do not join (%s): it changed while "
                       "its pages were fetched, or it is invalid",
                       why);
        }
    }
}

/* A page came back from the parsers. */
static void page_parsed(struct gossip *g, struct job *j)
{
    struct fetch *f = j->fetch;
    struct page *pg = &f->pages[j->page];
    f->parsing--;
    pg->state = PAGE_DROPPED;
    if (f->failed || j->skipped || (f->whole && j->page > 0)) {
        chain_free(j->seg);
    } else if (j->seg == NULL && (j->page == 0 || f->pages[0].state == PAGE_JOINED)) {
        fetch_fail(g, f, false, "sync: ignoring an invalid chain: %s", j->err);
    } else if (j->seg == NULL) {
        /* Fatal unless the first page, still to come, is the whole chain. */
        if (f->page_err[0] == '\0' || j->page < f->page_err_at) {
            snprintf(f->page_err, sizeof(f->page_err), "%s", j->err);
            f->page_err_at = j->page;
        }
        drop_pages(g, f, 1);
        __atomic_store_n(&f->cancel, CANCEL_LATER_PAGES, __ATOMIC_RELEASE);
    } else {
        if (j->page == 0 && chain_base(j->seg, NULL) == 0 && f->from > 0)
            fetch_whole(g, f); /* parse_job found the peer's whole chain */
        pg->seg = j->seg;
        pg->state = PAGE_PARSED;
        fetch_join(g, f);
    }
    free(j);
    fetch_check(g, f);
}

static void finish_sync(struct gossip *g)
{
    struct buf tip = BUF_INIT;
    bool replaced = false;
    if (g->best) {
        replaced = chain_base(g->best, NULL) > 0 ? chain_extend_if_longer(g->chain, g->best, &tip)
                                                 : chain_adopt_if_longer(g->chain, g->best, &tip);
        chain_free(g->best);
        g->best = NULL;
    }
    /* A sync that fetched much leaves freed pages behind: hand them back to the system. */
    if (g->sync_bytes >= GOSSIP_TRIM_BYTES)
        malloc_trim(0);
    uint64_t height = chain_tip(g->chain, NULL);
    if (replaced) {
        log_info("sync: replaced the chain, height now %llu", (unsigned long long)height);
        gossip_broadcast(g, tip.data, tip.len, NULL, NULL, NULL);
    } else {
        log_debug("sync: kept the chain at height %llu", (unsigned long long)height);
    }
    buf_free(&tip);
    g->syncing = false;

    struct gossip_waiter *ready = NULL;
    pthread_mutex_lock(&g->lock);
    g->completed = g->started_gen;
    g->stats.syncs++;
    g->stats.syncs_replaced += replaced;
    struct gossip_waiter **pp = &g->waiters;
    while (*pp) {
        struct gossip_waiter *w = *pp;
        if (w->ticket <= g->completed) {
            *pp = w->next;
            w->next = ready;
            ready = w;
        } else {
            pp = &w->next;
        }
    }
    pthread_mutex_unlock(&g->lock);
    while (ready) {
        struct gossip_waiter *w = ready;
        ready = w->next;
        w->cb(w->arg, replaced, height);
    }
}

/* ---- the worker ---- */

static void done(struct gossip *g, CURL *e, CURLcode rc)
{
    struct xfer *x = NULL;
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(g->multi, e);
    struct peer_state *p = x->peer;
    if (x->kind == XFER_POST_BLOCK) {
        bool ok = rc == CURLE_OK && status >= 200 && status < 300;
        if (x->counted)
            settle(g, x->b, ok);
        if (rc == CURLE_OK)
            p->lagging = false;
        char what[256], why[200];
        if (rc != CURLE_OK)
            snprintf(what, sizeof(what), "POST /block failed: %s",
                     xfer_strerror(x, rc, why, sizeof(why)));
        else
            snprintf(what, sizeof(what), "POST /block answered HTTP %ld", status);
        mark_peer(p, rc == CURLE_OK, what);
        if (rc == CURLE_OK && !ok)
            log_debug("peer %s: %s", p->url, what);
        pthread_mutex_lock(&g->lock);
        if (ok)
            g->stats.posts_sent++;
        else
            g->stats.posts_failed++;
        pthread_mutex_unlock(&g->lock);
        p->post = NULL;
    } else if (x->kind == XFER_GET_TIP) {
        tip_fetched(g, x->fetch, x, rc, status);
    } else {
        page_fetched(g, x->fetch, x, rc, status);
    }
    xfer_free(x);
}

static void *worker_main(void *arg)
{
    struct gossip *g = arg;
    for (;;) {
        pthread_mutex_lock(&g->lock);
        bool stop = g->stopping;
        struct bcast *in = g->inbox;
        g->inbox = g->inbox_tail = NULL;
        bool want_sync = !g->syncing && g->requested > g->started_gen;
        if (want_sync)
            g->started_gen = g->requested;
        pthread_mutex_unlock(&g->lock);
        if (stop) {
            while (in) {
                struct bcast *b = in;
                in = b->next;
                if (b->waiter)
                    b->waiter->cb(b->waiter->arg, false, chain_tip(g->chain, NULL));
                free(b);
            }
            break;
        }

        reconcile_peers(g);
        while (in) {
            struct bcast *b = in;
            in = b->next;
            b->refs = 1; /* held by this loop until distributed */
            if (b->waiter) {
                b->refs++; /* held by the waiting list until answered */
                if (g->nwaiting == g->capwaiting) {
                    g->capwaiting = g->capwaiting ? g->capwaiting * 2 : 64;
                    g->waiting = xrealloc(g->waiting, g->capwaiting * sizeof(*g->waiting));
                }
                g->waiting[g->nwaiting++] = b;
            }
            for (size_t i = 0; i < g->nps; i++)
                enqueue(g, g->ps[i], b);
            if (b->waiter && b->pending == 0)
                answer(g, b);
            bcast_unref(b);
        }
        if (want_sync)
            start_sync(g);
        for (size_t i = 0; i < g->nps; i++) {
            if (g->ps[i]->post == NULL && g->ps[i]->qlen > 0)
                start_post(g, g->ps[i]);
        }

        int running = 0, left = 0;
        curl_multi_perform(g->multi, &running);
        CURLMsg *m;
        while ((m = curl_multi_info_read(g->multi, &left)) != NULL) {
            if (m->msg == CURLMSG_DONE)
                done(g, m->easy_handle, m->data.result);
        }
        for (struct job *j = take_parsed(g), *next; j; j = next) {
            next = j->next;
            page_parsed(g, j);
        }
        if (g->syncing && g->fetches_left == 0)
            finish_sync(g);

        /* Answer the broadcasts whose deadline passed; sleep until the next deadline. */
        int64_t now = now_ms(), wait = 1000;
        for (size_t i = 0; i < g->nwaiting;) {
            struct bcast *b = g->waiting[i];
            if (b->deadline_ms <= now) {
                expire(g, b); /* removes b from the list */
                continue;
            }
            if (b->deadline_ms - now < wait)
                wait = b->deadline_ms - now;
            i++;
        }
        /* Loop again at once when there is queued work that could start now. */
        bool more = g->syncing && g->fetches_left == 0;
        pthread_mutex_lock(&g->lock);
        more = more || (!g->syncing && g->requested > g->started_gen) || g->inbox != NULL;
        pthread_mutex_unlock(&g->lock);
        for (size_t i = 0; i < g->nps && !more; i++)
            more = g->ps[i]->post == NULL && g->ps[i]->qlen > 0;
        if (!more)
            curl_multi_poll(g->multi, NULL, 0, (int)wait, NULL);
    }

    /* Stopping: abort everything and answer every waiter. */
    stop_parsers(g);
    for (struct job *j = take_parsed(g), *next; j; j = next) {
        next = j->next;
        page_parsed(g, j);
    }
    for (size_t i = 0; i < g->nps; i++)
        peer_free(g, g->ps[i]);
    free(g->ps);
    g->ps = NULL;
    g->nps = 0;
    chain_free(g->best);
    g->best = NULL;
    while (g->nwaiting > 0)
        answer(g, g->waiting[0]);
    free(g->waiting);
    g->waiting = NULL;
    uint64_t height = chain_tip(g->chain, NULL);
    pthread_mutex_lock(&g->lock);
    struct gossip_waiter *w = g->waiters;
    g->waiters = NULL;
    pthread_mutex_unlock(&g->lock);
    while (w) {
        struct gossip_waiter *next = w->next;
        w->cb(w->arg, false, height);
        w = next;
    }
    return NULL;
}

int gossip_start(struct gossip *g, char *err, size_t errsz)
{
    g->multi = curl_multi_init();
    if (g->multi == NULL) {
        snprintf(err, errsz, "cannot create a libcurl multi handle");
        return -1;
    }
    curl_multi_setopt(g->multi, CURLMOPT_MAXCONNECTS, (long)(g->cfg.max_peers * 2 + 4));
    g->post_headers = curl_slist_append(NULL, "Content-Type: application/json");
    g->post_headers = curl_slist_append(g->post_headers, "Expect:");
    if (pthread_create(&g->thread, NULL, worker_main, g) != 0) {
        snprintf(err, errsz, "cannot start the gossip thread");
        return -1;
    }
    g->started = true;
    return 0;
}

void gossip_broadcast(struct gossip *g, const char *json, size_t len, struct gossip_waiter *w,
                      gossip_done_cb cb, void *arg)
{
    struct bcast *b = xmalloc(sizeof(*b) + len + 1);
    *b = (struct bcast){.all_ok = true, .len = len};
    memcpy(b->data, json, len);
    b->data[len] = '\0';
    if (w) {
        w->cb = cb;
        w->arg = arg;
        b->waiter = w;
        b->deadline_ms = now_ms() + g->cfg.broadcast_wait_ms;
    }
    pthread_mutex_lock(&g->lock);
    bool stopping = g->stopping;
    if (!stopping) {
        if (g->inbox_tail)
            g->inbox_tail->next = b;
        else
            g->inbox = b;
        g->inbox_tail = b;
    }
    pthread_mutex_unlock(&g->lock);
    if (stopping) {
        free(b);
        if (w)
            cb(arg, false, chain_tip(g->chain, NULL));
        return;
    }
    if (g->multi)
        curl_multi_wakeup(g->multi);
}

void gossip_request_sync(struct gossip *g)
{
    pthread_mutex_lock(&g->lock);
    g->requested++;
    g->stats.sync_requests++;
    pthread_mutex_unlock(&g->lock);
    if (g->multi)
        curl_multi_wakeup(g->multi);
}

void gossip_sync_wait(struct gossip *g, struct gossip_waiter *w, gossip_done_cb cb, void *arg)
{
    w->cb = cb;
    w->arg = arg;
    pthread_mutex_lock(&g->lock);
    bool stopping = g->stopping;
    if (!stopping) {
        w->ticket = ++g->requested;
        g->stats.sync_requests++;
        w->next = g->waiters;
        g->waiters = w;
    }
    pthread_mutex_unlock(&g->lock);
    if (stopping)
        cb(arg, false, chain_tip(g->chain, NULL));
    else if (g->multi)
        curl_multi_wakeup(g->multi);
}

void gossip_get_stats(struct gossip *g, struct gossip_stats *out)
{
    pthread_mutex_lock(&g->lock);
    *out = g->stats;
    pthread_mutex_unlock(&g->lock);
}

void gossip_stop(struct gossip *g)
{
    if (g == NULL || !g->started)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = true;
    pthread_mutex_unlock(&g->lock);
    curl_multi_wakeup(g->multi);
    pthread_join(g->thread, NULL);
    g->started = false;
}

void gossip_free(struct gossip *g)
{
    if (g == NULL)
        return;
    gossip_stop(g);
    struct bcast *b = g->inbox;
    while (b) {
        struct bcast *next = b->next;
        if (b->waiter)
            b->waiter->cb(b->waiter->arg, false, chain_tip(g->chain, NULL));
        free(b);
        b = next;
    }
    if (g->multi)
        curl_multi_cleanup(g->multi);
    curl_slist_free_all(g->post_headers);
    pthread_cond_destroy(&g->parse.wake);
    pthread_mutex_destroy(&g->parse.lock);
    pthread_mutex_destroy(&g->lock);
    free(g);
}
