/* sync: fetches from every peer, parsed on a parse pool and joined in order (see sync.h).
 *
 * Design: each fetch is a struct syncplan (the planner's view: one state) plus what the I/O
 * needs: the request in flight for its tip, one record per page (waiting, fetching, with the
 * parsers, parsed, joined or dropped), the pages joined so far, and the first error. Every
 * answer goes through fetch_classify(), which asks syncplan_classify() and carries out what a
 * change of state implies (fetch_enter(): abort the pages no longer used, tell the parsers
 * which pages to skip). The parsers read only `cancel`, an atomic copy of what the state says
 * they may skip; they hand each page back on a done list (under lock) and wake the worker with
 * curl_multi_wakeup(). */
#include "sync.h"

#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parsepool.h"
#include "syncplan.h"
#include "xalloc.h"
#include "xfer.h"

enum page_state {
    PAGE_WAITING,  /* not requested yet */
    PAGE_FETCHING, /* its GET is in flight (page.get) */
    PAGE_PARSING,  /* with the parsers */
    PAGE_PARSED,   /* page.seg holds it, waiting for the pages before it */
    PAGE_JOINED,   /* part of fetch.chain */
    PAGE_DROPPED,  /* failed, aborted or not needed */
};

/* What the parsers may skip (fetch.cancel), as the fetch's state says. */
enum cancel { CANCEL_NONE, CANCEL_LATER_PAGES, CANCEL_ALL };

/* Why a fetch failed, for the log and the peer's health. */
enum failure { FAILURE_NONE, FAILURE_ANSWER, FAILURE_UNREACHABLE, FAILURE_GONE };

struct fetch;

/* A GET of a fetch: its tip or one page. */
struct get {
    struct xfer x;
    struct fetch *f;
    size_t page;     /* which page (a page's GET) */
    bool at_genesis; /* the answer begins with "[" + genesis (syncplan_at_genesis()) */
};

struct page {
    enum page_state state;
    struct get *get;   /* PAGE_FETCHING */
    struct chain *seg; /* PAGE_PARSED (owned) */
};

/* One peer's part of the running sync. Worker-only, except `cancel`, which the parsers read. */
struct fetch {
    struct sync *s;
    char *url;            /* the peer's URL (owned) */
    struct syncplan plan; /* where the fetch stands */
    struct get *tip;      /* GET /block in flight */
    struct page *pages;   /* plan.npages entries */
    size_t next_page;     /* the next page to request */
    size_t in_flight;     /* requests running */
    size_t parsing;       /* pages with the parsers */
    size_t joined;        /* pages [0, joined) are in chain */
    struct chain *chain;  /* the pages joined so far (unshared, owned), or NULL */
    size_t bytes;         /* bytes received over all pages of this attempt */
    int cancel;           /* enum cancel, atomic */
    enum failure failure; /* why it failed (err says it) */
    size_t page_err_at;   /* the first page found invalid (when page_err is set) */
    char page_err[256];   /* why; fatal unless the first page turns out to be the whole chain */
    char err[300];
    struct fetch *prev, *next; /* the running sync's list */
};

/* A page handed to the parsers. Owned by the pool, then by the done list, then the worker. */
struct job {
    struct parsepool_task task;
    struct fetch *f; /* outlives the job; the parser reads only f->cancel and f->s */
    size_t page;
    uint64_t from;     /* index of the page's first block */
    bool or_chain;     /* when not that, try the text as a whole chain from genesis */
    struct buf text;   /* the answer (owned; freed once parsed) */
    struct chain *seg; /* the result (owned), or NULL with err set or skipped */
    bool skipped;
    char err[256];
    struct job *next;
};

struct sync {
    CURLM *multi;
    struct chain *chain;
    struct config cfg;
    struct parsepool *pool;
    sync_peer_cb peer_cb;
    void *peer_arg;
    struct sync_stats stats; /* atomic */

    pthread_mutex_t lock; /* guards done */
    struct job *done;     /* parsed, for the worker to collect (newest first) */

    /* worker-only */
    bool running;
    struct fetch *fetches; /* of the running sync, not yet settled */
    struct chain *best;    /* the best chain fetched in this sync, or a segment of it that links
                            * to ours (chain_base() > 0) */
    char *best_url;        /* the peer it came from (owned) */
    size_t bytes;          /* fetched in this sync, over all peers */
    struct syncplan_ctx ctx;
};

struct sync *sync_new(CURLM *multi, struct chain *c, const struct config *cfg, sync_peer_cb peer_cb,
                      void *arg)
{
    struct sync *s = xcalloc(1, sizeof(*s));
    s->multi = multi;
    s->chain = c;
    s->cfg = *cfg;
    s->pool = parsepool_new(0);
    s->peer_cb = peer_cb;
    s->peer_arg = arg;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

/* ---- requests ---- */

static void page_done_cb(struct xfer *x, CURLcode rc, long status);
static void tip_done_cb(struct xfer *x, CURLcode rc, long status);

/* The first bytes of a page's answer are in: record whether it begins at genesis, and stop
 * reading a page the planner has no use for. */
static bool page_begun_cb(struct xfer *x)
{
    struct get *g = x->arg;
    struct fetch *f = g->f;
    g->at_genesis = syncplan_at_genesis(x->body.data, x->body.len);
    struct syncplan_answer a = {
        .stage = SYNCPLAN_BEGUN, .page = g->page, .at_genesis = g->at_genesis};
    enum syncplan_verdict v = syncplan_classify(&f->plan, &f->s->ctx, &a);
    return !(v == SYNCPLAN_WHOLE_CHAIN && g->page > 0);
}

/* The path of page k: the whole chain when the fetch is not paged. */
static void page_path(const struct fetch *f, size_t k, char *out, size_t outsz)
{
    if (f->plan.page_blocks == 0)
        snprintf(out, outsz, "/blocks");
    else
        snprintf(out, outsz, "/blocks?from=%llu&limit=%llu",
                 (unsigned long long)syncplan_page_from(&f->plan, k),
                 (unsigned long long)f->plan.page_blocks);
}

/* A GET of path for f (the caller sets how its answer is collected, then starts it). */
static struct get *get_start(struct fetch *f, const char *path, xfer_done_cb done)
{
    struct get *g = xcalloc(1, sizeof(*g));
    g->f = f;
    xfer_init(&g->x, &f->s->cfg, f->url, path, done, g);
    f->in_flight++;
    return g;
}

/* Stop a GET and free it. */
static void get_abort(struct fetch *f, struct get *g)
{
    if (g == NULL)
        return;
    xfer_abort(f->s->multi, &g->x);
    f->in_flight--;
    free(g);
}

static void get_free(struct get *g)
{
    xfer_clear(&g->x);
    free(g);
}

/* ---- parsers ---- */

/* Parse a page (on a pool thread), then hand it back to the worker. */
static void job_run_cb(void *arg)
{
    struct job *j = arg;
    struct sync *s = j->f->s;
    int cancel = __atomic_load_n(&j->f->cancel, __ATOMIC_ACQUIRE);
    if (cancel == CANCEL_ALL || (cancel == CANCEL_LATER_PAGES && j->page > 0)) {
        j->skipped = true;
    } else { /* a page kept as received takes j->text's memory */
        j->seg = chain_parse_segment_buf(&j->text, j->from, j->err, sizeof(j->err));
        if (j->seg == NULL && j->or_chain) {
            char err[sizeof(j->err)];
            j->seg = chain_parse_segment_buf(&j->text, 0, err, sizeof(err));
        }
    }
    buf_free(&j->text);
    pthread_mutex_lock(&s->lock);
    j->next = s->done;
    s->done = j;
    pthread_mutex_unlock(&s->lock);
    curl_multi_wakeup(s->multi);
}

/* Hand page k of f (its answer taken from body) to the parsers. */
static void submit_page(struct fetch *f, size_t k, struct buf *body)
{
    struct job *j = xcalloc(1, sizeof(*j));
    j->f = f;
    j->page = k;
    syncplan_parse_as(&f->plan, k, &j->from, &j->or_chain);
    j->text = *body;
    *body = (struct buf)BUF_INIT;
    j->task = (struct parsepool_task){.run = job_run_cb, .arg = j};
    f->pages[k].state = PAGE_PARSING;
    f->parsing++;
    parsepool_submit(f->s->pool, &j->task);
}

/* ---- fetches ---- */

/* Abort the requests of pages [first, npages) and drop those pages. Pages with the parsers
 * are dropped when they come back. */
static void drop_pages(struct fetch *f, size_t first)
{
    for (size_t k = first; k < f->plan.npages; k++) {
        struct page *pg = &f->pages[k];
        if (pg->state == PAGE_FETCHING) {
            get_abort(f, pg->get);
            pg->get = NULL;
        }
        chain_free(pg->seg);
        pg->seg = NULL;
        if (pg->state != PAGE_PARSING && pg->state != PAGE_JOINED)
            pg->state = PAGE_DROPPED;
    }
}

/* f's state changed: stop what the new state makes useless, and tell the parsers. */
static void fetch_enter(struct fetch *f)
{
    enum cancel cancel = CANCEL_NONE;
    if (f->plan.state == SYNCPLAN_FAILED) {
        get_abort(f, f->tip);
        f->tip = NULL;
        drop_pages(f, 0);
        cancel = CANCEL_ALL;
    } else if (syncplan_later_pages_dropped(&f->plan)) {
        drop_pages(f, 1);
        cancel = CANCEL_LATER_PAGES;
    }
    __atomic_store_n(&f->cancel, cancel, __ATOMIC_RELEASE);
}

/* Ask the planner about answer a of f, and carry out the change of state. */
static enum syncplan_verdict fetch_classify(struct fetch *f, const struct syncplan_answer *a)
{
    enum syncplan_state before = f->plan.state;
    enum syncplan_verdict v = syncplan_classify(&f->plan, &f->s->ctx, a);
    if (v == SYNCPLAN_WHOLE_CHAIN && before != SYNCPLAN_WHOLE)
        log_debug("peer %s ignores ?from=&limit=: its first answer is its whole chain", f->url);
    if (f->plan.state != before)
        fetch_enter(f);
    return v;
}

/* The fetch has failed (the planner says so): record why (the first reason wins). */
static void fetch_why(struct fetch *f, enum failure failure, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fetch_why(struct fetch *f, enum failure failure, const char *fmt, ...)
{
    if (f->failure != FAILURE_NONE)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->err, sizeof(f->err), fmt, ap);
    va_end(ap);
    f->failure = failure;
}

/* Request pages in order while the planner allows. */
static void fetch_pump(struct fetch *f)
{
    while (syncplan_may_request(&f->plan, f->next_page, f->in_flight)) {
        size_t k = f->next_page++;
        char path[96];
        page_path(f, k, path, sizeof(path));
        struct get *g = get_start(f, path, page_done_cb);
        g->page = k;
        xfer_collect(&g->x, f->s->cfg.max_chain_bytes, &f->bytes);
        g->x.begin_len = SYNCPLAN_BEGIN_BYTES;
        g->x.begun = page_begun_cb;
        f->pages[k].get = g;
        f->pages[k].state = PAGE_FETCHING;
        xfer_start(f->s->multi, &g->x);
    }
}

/* Fetch the pages the plan holds. */
static void fetch_pages(struct fetch *f)
{
    if (f->plan.page_blocks > 0)
        log_debug("peer %s: height %llu: fetching %zu pages of %llu blocks from block %llu", f->url,
                  (unsigned long long)f->plan.height, f->plan.npages,
                  (unsigned long long)f->plan.page_blocks, (unsigned long long)f->plan.from);
    f->pages = xcalloc(f->plan.npages, sizeof(*f->pages));
    fetch_pump(f);
}

/* Forget what f fetched (its npages pages, chain and errors): it starts again. */
static void fetch_reset(struct fetch *f, size_t npages)
{
    for (size_t k = 0; k < npages && f->pages; k++)
        chain_free(f->pages[k].seg);
    free(f->pages);
    f->pages = NULL;
    chain_free(f->chain);
    f->chain = NULL;
    f->next_page = f->joined = 0;
    f->s->bytes += f->bytes;
    f->bytes = 0;
    f->page_err[0] = '\0';
    f->page_err_at = 0;
    __atomic_store_n(&f->cancel, CANCEL_NONE, __ATOMIC_RELEASE);
}

static void fetch_free(struct fetch *f)
{
    fetch_reset(f, f->plan.npages);
    free(f->url);
    free(f);
}

/* Whether chain c (a whole chain or a segment after our prefix) beats the best of this sync. */
static bool sync_better(struct sync *s, struct chain *c)
{
    char hash[BLOCK_HASH_HEX + 1];
    uint64_t h = chain_tip(c, hash);
    return forkchoice_wins(s->ctx.rule, h, hash, s->ctx.best_height, s->ctx.best_hash);
}

/* Report f's outcome: the peer's health, and the log. */
static void fetch_report(struct fetch *f)
{
    struct sync *s = f->s;
    if (f->failure == FAILURE_GONE) {
        log_debug("sync: dropped what came from %s: it left the peer set", f->url);
    } else if (f->plan.state == SYNCPLAN_FAILED) {
        bool unreachable = f->failure == FAILURE_UNREACHABLE;
        s->peer_cb(s->peer_arg, f->url, !unreachable, f->err);
        if (!unreachable)
            log_warn("peer %s: %s", f->url, f->err);
    } else {
        s->peer_cb(s->peer_arg, f->url, true, NULL);
    }
}

/* Nothing of f is outstanding: keep its chain if it is the best so far, log, and free f. Or,
 * when the peer forked below our tip and can still win, start f again from genesis. */
static void fetch_settle(struct fetch *f)
{
    struct sync *s = f->s;
    uint64_t from = f->plan.from;
    size_t npages = f->plan.npages; /* the pages held, whatever the plan becomes */
    struct chain *c = NULL;
    switch (syncplan_settle(&f->plan, &s->ctx, f->chain != NULL, f->joined)) {
    case SYNCPLAN_REFETCH:
        log_debug("peer %s: its blocks from %llu do not follow ours (it forked below our tip): "
                  "fetching its whole chain",
                  f->url, (unsigned long long)from);
        fetch_reset(f, npages);
        fetch_pages(f);
        return;
    case SYNCPLAN_LET_GO:
        log_debug("peer %s: forked below our tip, and its height %llu is not above %llu: not "
                  "fetched whole",
                  f->url, (unsigned long long)f->plan.height,
                  (unsigned long long)s->ctx.best_height);
        break;
    case SYNCPLAN_TAKE:
        c = f->chain;
        f->chain = NULL;
        break;
    case SYNCPLAN_BAD_PAGE:
        fetch_why(f, FAILURE_ANSWER, "sync: ignoring an invalid chain: %s", f->page_err);
        break;
    case SYNCPLAN_INCOMPLETE:
        fetch_why(f, FAILURE_ANSWER, "sync: ignoring an incomplete chain");
        break;
    case SYNCPLAN_NOTHING:
        break;
    }
    fetch_report(f);
    if (c && sync_better(s, c)) {
        chain_free(s->best);
        free(s->best_url);
        s->best = c;
        s->best_url = xstrdup(f->url);
        s->ctx.best_height = chain_tip(c, s->ctx.best_hash);
    } else {
        chain_free(c);
    }
    if (f->prev)
        f->prev->next = f->next;
    else
        s->fetches = f->next;
    if (f->next)
        f->next->prev = f->prev;
    fetch_free(f);
}

/* Settle f once nothing of it is outstanding. f may be freed, or started again from genesis. */
static void fetch_check(struct fetch *f)
{
    if (f->in_flight == 0 && f->parsing == 0 && !syncplan_may_request(&f->plan, f->next_page, 0))
        fetch_settle(f);
}

/* GET /block of f ended: fetch nothing, the whole chain, or pages. */
static void tip_done_cb(struct xfer *x, CURLcode rc, long status)
{
    struct get *g = x->arg;
    struct fetch *f = g->f;
    struct sync *s = f->s;
    struct block b = {0};
    char why[200] = "";
    struct syncplan_answer a = {.stage = SYNCPLAN_TIP, .status = status};
    f->tip = NULL;
    f->in_flight--;
    if (xfer_too_big(x, rc)) {
        a.transfer = SYNCPLAN_XFER_TOO_BIG;
        snprintf(why, sizeof(why), "more than %d bytes", SYNC_TIP_BYTES);
    } else if (rc != CURLE_OK) {
        a.transfer = SYNCPLAN_XFER_FAILED;
    } else if (status != 200) {
        snprintf(why, sizeof(why), "HTTP %ld", status);
    } else {
        a.tip_parsed =
            block_parse(x->body.data ? x->body.data : "", x->body.len, &b, why, sizeof(why)) == 0;
        a.tip_height = b.index;
        a.tip_hash = b.hash;
    }
    /* blocks appended since the sync began count */
    s->ctx.held = chain_tip(s->chain, s->ctx.held_hash);
    switch (fetch_classify(f, &a)) {
    case SYNCPLAN_UNREACHABLE:
        fetch_why(f, FAILURE_UNREACHABLE, "sync: GET /block failed: %s",
                  xfer_strerror(x, rc, why, sizeof(why)));
        break;
    case SYNCPLAN_TOO_BIG:
        fetch_why(f, FAILURE_ANSWER, "sync: ignoring the chain: more than %zu bytes (height %llu)",
                  s->cfg.max_chain_bytes, (unsigned long long)a.tip_height);
        break;
    case SYNCPLAN_SKIP:
        if (a.tip_height <= s->ctx.best_height)
            log_debug("peer %s: height %llu is not above %llu: not fetched", f->url,
                      (unsigned long long)a.tip_height, (unsigned long long)s->ctx.best_height);
        break;
    case SYNCPLAN_FETCH:
        if (!a.tip_parsed)
            log_debug("peer %s: no height from GET /block (%s): fetching its whole chain", f->url,
                      why);
        else if (a.tip_height <= s->ctx.held)
            log_debug("peer %s: tip %.*s wins the tie at height %llu (--fork-choice %s)", f->url,
                      BLOCK_SHORT_HASH, b.hash, (unsigned long long)a.tip_height,
                      forkchoice_name(s->ctx.rule));
        fetch_pages(f);
        break;
    default:
        break;
    }
    block_clear(&b);
    get_free(g);
    fetch_check(f);
}

/* A page's GET ended: hand the answer to the parsers, or fail the fetch. */
static void page_done_cb(struct xfer *x, CURLcode rc, long status)
{
    struct get *g = x->arg;
    struct fetch *f = g->f;
    size_t k = g->page;
    char path[96], why[200];
    struct syncplan_answer a = {
        .stage = SYNCPLAN_RECEIVED, .page = k, .status = status, .at_genesis = g->at_genesis};
    f->in_flight--;
    f->pages[k].get = NULL;
    f->pages[k].state = PAGE_DROPPED;
    page_path(f, k, path, sizeof(path));
    a.transfer = xfer_too_big(x, rc) ? SYNCPLAN_XFER_TOO_BIG
                 : rc != CURLE_OK    ? SYNCPLAN_XFER_FAILED
                                     : SYNCPLAN_XFER_OK;
    switch (fetch_classify(f, &a)) {
    case SYNCPLAN_TOO_BIG:
        fetch_why(f, FAILURE_ANSWER, "sync: ignoring the chain: more than %zu bytes",
                  f->s->cfg.max_chain_bytes);
        break;
    case SYNCPLAN_UNREACHABLE:
        fetch_why(f, FAILURE_UNREACHABLE, "sync: GET %s failed: %s", path,
                  xfer_strerror(x, rc, why, sizeof(why)));
        break;
    case SYNCPLAN_HTTP_ERROR:
        fetch_why(f, FAILURE_ANSWER, "sync: GET %s answered HTTP %ld", path, status);
        break;
    case SYNCPLAN_WHOLE_CHAIN: /* the first page is the whole chain; a later one is dropped */
    case SYNCPLAN_USE:
        if (k == 0 || f->plan.state != SYNCPLAN_WHOLE)
            submit_page(f, k, &x->body);
        break;
    default:
        break;
    }
    get_free(g);
    fetch_pump(f);
    fetch_check(f);
}

/* Join the parsed pages that follow the joined ones, in order. */
static void fetch_join(struct fetch *f)
{
    char why[200];
    while (f->plan.state != SYNCPLAN_FAILED && f->joined < f->plan.npages &&
           f->pages[f->joined].state == PAGE_PARSED) {
        size_t k = f->joined++;
        struct chain *seg = f->pages[k].seg;
        f->pages[k].seg = NULL;
        f->pages[k].state = PAGE_JOINED;
        if (k == 0) {
            f->chain = seg;
            continue;
        }
        struct syncplan_answer a = {.stage = SYNCPLAN_JOINED, .page = k};
        a.joins = chain_join(f->chain, seg, why, sizeof(why)) == 0; /* seg is consumed */
        if (fetch_classify(f, &a) == SYNCPLAN_CHANGED)
            /* Each page is valid alone: the peer's chain changed between pages, or it was never
             * valid (a broken link right at a page boundary). The log must not guess. */
            fetch_why(f, FAILURE_ANSWER,
                      "sync: ignoring the chain: its pages do not join (%s): it changed while "
                      "its pages were fetched, or it is invalid",
                      why);
    }
}

/* A page came back from the parsers. */
static void page_parsed(struct job *j)
{
    struct fetch *f = j->f;
    size_t k = j->page;
    struct page *pg = &f->pages[k];
    struct syncplan_answer a = {.stage = SYNCPLAN_PARSED,
                                .page = k,
                                .parsed = !j->skipped,
                                .valid = j->seg != NULL,
                                .page0_joined = f->pages[0].state == PAGE_JOINED};
    f->parsing--;
    pg->state = PAGE_DROPPED;
    if (j->seg) {
        char prev[BLOCK_HASH_HEX + 1];
        a.base = chain_base(j->seg, prev);
        a.last = chain_tip(j->seg, NULL);
        a.links = a.base > 0 && k == 0 && chain_links_at(f->s->chain, a.base, prev);
    }
    switch (fetch_classify(f, &a)) {
    case SYNCPLAN_INVALID:
        fetch_why(f, FAILURE_ANSWER, "sync: ignoring an invalid chain: %s", j->err);
        break;
    case SYNCPLAN_BROKEN_PAGE:
        if (f->page_err[0] == '\0' || k < f->page_err_at) {
            snprintf(f->page_err, sizeof(f->page_err), "%s", j->err);
            f->page_err_at = k;
        }
        break;
    case SYNCPLAN_WHOLE_CHAIN:
    case SYNCPLAN_USE:
        pg->seg = j->seg;
        j->seg = NULL;
        pg->state = PAGE_PARSED;
        fetch_join(f);
        break;
    default:
        break;
    }
    chain_free(j->seg);
    free(j);
    fetch_check(f);
}

/* ---- syncs ---- */

/* Forget the best chain of the sync and where it came from. */
static void sync_drop_best(struct sync *s)
{
    chain_free(s->best);
    s->best = NULL;
    free(s->best_url);
    s->best_url = NULL;
}

/* A fetch of url for the running sync, probing the peer's tip. */
static void fetch_start(struct sync *s, const char *url)
{
    struct fetch *f = xcalloc(1, sizeof(*f));
    f->s = s;
    f->url = xstrdup(url);
    syncplan_init(&f->plan);
    f->next = s->fetches;
    if (s->fetches)
        s->fetches->prev = f;
    s->fetches = f;
    f->tip = get_start(f, "/block", tip_done_cb);
    xfer_collect(&f->tip->x, SYNC_TIP_BYTES, NULL);
    xfer_start(s->multi, &f->tip->x);
}

void sync_start(struct sync *s, char *const *urls)
{
    size_t n = 0;
    s->running = true;
    s->best = NULL;
    s->bytes = 0;
    s->ctx = (struct syncplan_ctx){.rule = s->cfg.fork_choice,
                                   .sync_page = s->cfg.sync_page,
                                   .max_chain_bytes = s->cfg.max_chain_bytes};
    s->ctx.best_height = chain_tip(s->chain, s->ctx.best_hash);
    for (; urls[n]; n++)
        fetch_start(s, urls[n]);
    log_debug("sync started with %zu peers", n);
}

bool sync_running(struct sync *s)
{
    return s->running;
}

/* f's peer left the peer set (or the node stops): what comes from it is dropped. */
static void fetch_gone(struct fetch *f)
{
    struct syncplan_answer a = {.stage = SYNCPLAN_LEFT};
    fetch_classify(f, &a);
    f->failure = FAILURE_GONE;
}

void sync_keep_peers(struct sync *s, char *const *urls)
{
    struct fetch *f = s->fetches, *next;
    for (; f; f = next) {
        next = f->next;
        bool kept = false;
        for (size_t i = 0; urls[i] && !kept; i++)
            kept = strcmp(urls[i], f->url) == 0;
        if (!kept && f->failure != FAILURE_GONE) {
            fetch_gone(f);
            fetch_check(f);
        }
    }
}

void sync_collect(struct sync *s)
{
    pthread_mutex_lock(&s->lock);
    struct job *j = s->done, *list = NULL;
    s->done = NULL;
    pthread_mutex_unlock(&s->lock);
    while (j) { /* the done list is newest first */
        struct job *next = j->next;
        j->next = list;
        list = j;
        j = next;
    }
    for (struct job *next; list; list = next) {
        next = list->next;
        page_parsed(list);
    }
}

bool sync_finish(struct sync *s, bool *replaced, struct buf *tip_json)
{
    if (!s->running || s->fetches != NULL)
        return false;
    uint64_t base = 0;
    *replaced = false;
    if (s->best) {
        base = chain_base(s->best, NULL);
        *replaced = base > 0 ? chain_extend_if_longer(s->chain, s->best, tip_json)
                             : chain_adopt_if_longer(s->chain, s->best, tip_json);
    }
    char tip[BLOCK_HASH_HEX + 1];
    uint64_t height = chain_tip(s->chain, tip);
    if (*replaced) {
        log_info("sync: replaced the chain, height now %llu", (unsigned long long)height);
        log_debug("sync: took the chain of %s up to block %llu %.*s (fetched from block %llu on)",
                  s->best_url, (unsigned long long)height, BLOCK_SHORT_HASH, tip,
                  (unsigned long long)base);
    } else {
        log_debug("sync: kept the chain at height %llu", (unsigned long long)height);
    }
    sync_drop_best(s);
    /* A sync that fetched much leaves freed pages behind: hand them back to the system. */
    if (s->bytes >= SYNC_TRIM_BYTES)
        malloc_trim(0);
    s->running = false;
    __atomic_add_fetch(&s->stats.syncs, 1, __ATOMIC_RELAXED);
    if (*replaced)
        __atomic_add_fetch(&s->stats.syncs_replaced, 1, __ATOMIC_RELAXED);
    return true;
}

void sync_stop(struct sync *s)
{
    for (struct fetch *f = s->fetches; f; f = f->next)
        fetch_gone(f);
    parsepool_wait(s->pool); /* the pages queued are skipped: their fetches failed */
    sync_collect(s);
    for (struct fetch *f = s->fetches, *next; f; f = next) {
        next = f->next;
        fetch_check(f);
    }
    sync_drop_best(s);
    s->running = false;
}

void sync_get_stats(struct sync *s, struct sync_stats *out)
{
    out->syncs = __atomic_load_n(&s->stats.syncs, __ATOMIC_RELAXED);
    out->syncs_replaced = __atomic_load_n(&s->stats.syncs_replaced, __ATOMIC_RELAXED);
}

void sync_free(struct sync *s)
{
    if (s == NULL)
        return;
    sync_stop(s);
    parsepool_free(s->pool);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
