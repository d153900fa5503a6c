/* syncplan: the decisions of a sync, as pure functions of their facts (see syncplan.h). */
#include "syncplan.h"

#include <stdio.h>
#include <string.h>

#include "block.h"

/* How the answer of a peer that ignores ?from= begins: "[" and genesis as json.dumps writes it. */
static const char genesis_array[] = "[{\"index\": 0, \"data\": null, \"prev_hash\": null, "
                                    "\"hash\": \"" BLOCK_GENESIS_HASH "\"}";
_Static_assert(sizeof(genesis_array) - 1 == SYNCPLAN_BEGIN_BYTES, "SYNCPLAN_BEGIN_BYTES");

void syncplan_init(struct syncplan *p)
{
    *p = (struct syncplan){.state = SYNCPLAN_PROBING};
}

bool syncplan_at_genesis(const char *body, size_t len)
{
    return len >= SYNCPLAN_BEGIN_BYTES && memcmp(body, genesis_array, SYNCPLAN_BEGIN_BYTES) == 0;
}

/* Whether a chain whose tip is (h, hash) can beat the best one known in this sync. */
static bool syncplan_can_win(const struct syncplan_ctx *ctx, uint64_t h, const char *hash)
{
    return forkchoice_wins(ctx->rule, h, hash, ctx->best_height, ctx->best_hash);
}

/* Plan the fetch of blocks [p->from, p->height]: from genesis, a chain of at most sync_page
 * blocks in one GET /blocks; anything else in pages, at most SYNCPLAN_MAX_PAGES of them. */
static void syncplan_plan_range(struct syncplan *p, const struct syncplan_ctx *ctx)
{
    uint64_t count = p->height - p->from + 1;
    uint64_t page = ctx->sync_page > 0 ? ctx->sync_page : 1;
    if (p->from == 0 && count <= page) {
        p->page_blocks = 0;
        p->npages = 1;
        p->state = SYNCPLAN_WHOLE;
        return;
    }
    if (count / SYNCPLAN_MAX_PAGES >= page)
        page = (count + SYNCPLAN_MAX_PAGES - 1) / SYNCPLAN_MAX_PAGES;
    p->page_blocks = page;
    p->npages = (size_t)((count - 1) / page) + 1;
    p->state = SYNCPLAN_PAGING;
}

/* The answer is the peer's whole chain: state WHOLE (unless the fetch failed). */
static enum syncplan_verdict syncplan_whole(struct syncplan *p)
{
    p->state = SYNCPLAN_WHOLE;
    return SYNCPLAN_WHOLE_CHAIN;
}

/* The fetch gives no chain, for reason v. */
static enum syncplan_verdict syncplan_fail(struct syncplan *p, enum syncplan_verdict v)
{
    p->state = SYNCPLAN_FAILED;
    return v;
}

/* GET /block ended: fetch nothing, the whole chain, or pages. */
static enum syncplan_verdict syncplan_classify_tip(struct syncplan *p,
                                                   const struct syncplan_ctx *ctx,
                                                   const struct syncplan_answer *a)
{
    if (a->transfer == SYNCPLAN_XFER_FAILED)
        return syncplan_fail(p, SYNCPLAN_UNREACHABLE);
    if (a->transfer != SYNCPLAN_XFER_OK || a->status != 200 || !a->tip_parsed) {
        /* No height to go by: ask for the whole chain, as the original does. */
        p->from = 0;
        p->page_blocks = 0;
        p->npages = 1;
        p->state = SYNCPLAN_WHOLE;
        return SYNCPLAN_FETCH;
    }
    uint64_t h = a->tip_height;
    const char *hash = a->tip_hash ? a->tip_hash : "";
    if (!syncplan_can_win(ctx, h, hash)) {
        p->state = SYNCPLAN_SKIPPED;
        return SYNCPLAN_SKIP;
    }
    if (h >= ctx->max_chain_bytes / SYNCPLAN_MIN_BLOCK_BYTES)
        return syncplan_fail(p, SYNCPLAN_TOO_BIG);
    p->height = h;
    snprintf(p->tip, sizeof(p->tip), "%s", hash);
    if (h > ctx->held) {
        p->from = ctx->held > 0 ? ctx->held + 1 : 0;
    } else if (forkchoice_wins(ctx->rule, h, hash, ctx->held, ctx->held_hash)) {
        /* as high as we are (now), with a tip that wins the tie: its last page */
        p->from = h >= ctx->sync_page ? h + 1 - ctx->sync_page : 0;
    } else { /* appended since the sync began: the peer's chain no longer wins */
        p->state = SYNCPLAN_SKIPPED;
        return SYNCPLAN_SKIP;
    }
    syncplan_plan_range(p, ctx);
    return SYNCPLAN_FETCH;
}

/* Whether an answer to page k, asked from p->from on, should not begin at genesis. */
static bool syncplan_asked_past_genesis(const struct syncplan *p, size_t k)
{
    return k > 0 || p->from > 0;
}

/* Whether answer a shows that the peer ignores ?from=&limit= and answers its whole chain: the
 * one place this is decided. It does when an answer asked from further on begins with "[" and
 * genesis (json.dumps), or when the first page parsed as a chain from genesis though asked from
 * further on (another formatting), or holds more blocks than asked (and does not fork from us). */
static bool syncplan_ignores_query(const struct syncplan *p, const struct syncplan_answer *a)
{
    switch (a->stage) {
    case SYNCPLAN_BEGUN:
    case SYNCPLAN_RECEIVED:
        return a->at_genesis && syncplan_asked_past_genesis(p, a->page);
    case SYNCPLAN_PARSED:
        return a->page == 0 && a->parsed && a->valid &&
               ((a->base == 0 && p->from > 0) ||
                ((a->base == 0 || a->links) && p->page_blocks > 0 &&
                 a->last >= p->from + p->page_blocks));
    default:
        return false;
    }
}

/* A page's GET ended. */
static enum syncplan_verdict syncplan_classify_received(struct syncplan *p,
                                                        const struct syncplan_answer *a)
{
    size_t k = a->page;
    bool whole = syncplan_ignores_query(p, a);
    if (p->state == SYNCPLAN_FAILED)
        return SYNCPLAN_DROP;
    if (whole && k > 0) /* cut short at BEGUN: no need to look at how it ended */
        return p->state == SYNCPLAN_WHOLE ? SYNCPLAN_DROP : syncplan_whole(p);
    if (k > 0 && syncplan_later_pages_dropped(p))
        return SYNCPLAN_DROP;
    if (a->transfer == SYNCPLAN_XFER_TOO_BIG)
        return syncplan_fail(p, SYNCPLAN_TOO_BIG);
    if (a->transfer == SYNCPLAN_XFER_FAILED)
        return syncplan_fail(p, SYNCPLAN_UNREACHABLE);
    if (a->status != 200)
        return syncplan_fail(p, SYNCPLAN_HTTP_ERROR);
    if (whole)
        return syncplan_whole(p); /* asked from our tip on, the peer sent its whole chain */
    if (syncplan_asked_past_genesis(p, k) && p->state == SYNCPLAN_PAGING)
        p->state = SYNCPLAN_PAGED; /* it began where it was asked */
    return SYNCPLAN_USE;
}

/* The parsers are done with a page. */
static enum syncplan_verdict syncplan_classify_parsed(struct syncplan *p,
                                                      const struct syncplan_answer *a)
{
    size_t k = a->page;
    if (p->state == SYNCPLAN_FAILED || !a->parsed)
        return SYNCPLAN_DROP;
    if (k > 0 && (p->state == SYNCPLAN_WHOLE || p->state == SYNCPLAN_FORKED))
        return SYNCPLAN_DROP;
    if (!a->valid && (k == 0 || a->page0_joined))
        return syncplan_fail(p, SYNCPLAN_INVALID);
    if (!a->valid) {
        /* Fatal unless the first page, still to come, is the whole chain. */
        p->state = SYNCPLAN_BROKEN;
        return SYNCPLAN_BROKEN_PAGE;
    }
    if (k > 0)
        return p->state == SYNCPLAN_BROKEN ? SYNCPLAN_DROP : SYNCPLAN_USE;
    if (syncplan_ignores_query(p, a))
        return syncplan_whole(p);
    if (a->base > 0 && !a->links) {
        p->state = SYNCPLAN_FORKED; /* known from the first page: the rest is of no use */
        return SYNCPLAN_FORK;
    }
    return SYNCPLAN_USE;
}

enum syncplan_verdict syncplan_classify(struct syncplan *p, const struct syncplan_ctx *ctx,
                                        const struct syncplan_answer *a)
{
    switch (a->stage) {
    case SYNCPLAN_TIP:
        return syncplan_classify_tip(p, ctx, a);
    case SYNCPLAN_BEGUN:
        if (p->state != SYNCPLAN_FAILED && syncplan_ignores_query(p, a))
            return SYNCPLAN_WHOLE_CHAIN;
        return SYNCPLAN_READ_ON;
    case SYNCPLAN_RECEIVED:
        return syncplan_classify_received(p, a);
    case SYNCPLAN_PARSED:
        return syncplan_classify_parsed(p, a);
    case SYNCPLAN_JOINED:
        if (p->state == SYNCPLAN_FAILED)
            return SYNCPLAN_DROP;
        return a->joins ? SYNCPLAN_USE : syncplan_fail(p, SYNCPLAN_CHANGED);
    case SYNCPLAN_LEFT:
        return syncplan_fail(p, SYNCPLAN_GONE);
    }
    return SYNCPLAN_DROP;
}

enum syncplan_outcome syncplan_settle(struct syncplan *p, const struct syncplan_ctx *ctx,
                                      bool have_chain, size_t joined)
{
    switch (p->state) {
    case SYNCPLAN_FAILED:
    case SYNCPLAN_SKIPPED:
        return SYNCPLAN_NOTHING;
    case SYNCPLAN_FORKED:
        if (!syncplan_can_win(ctx, p->height, p->tip)) {
            p->state = SYNCPLAN_SKIPPED;
            return SYNCPLAN_LET_GO;
        }
        p->from = 0;
        syncplan_plan_range(p, ctx);
        return SYNCPLAN_REFETCH;
    case SYNCPLAN_BROKEN:
        p->state = SYNCPLAN_FAILED;
        return SYNCPLAN_BAD_PAGE;
    case SYNCPLAN_WHOLE:
        if (have_chain)
            return SYNCPLAN_TAKE;
        break;
    case SYNCPLAN_PAGING:
    case SYNCPLAN_PAGED:
        if (have_chain && joined == p->npages)
            return SYNCPLAN_TAKE;
        break;
    case SYNCPLAN_PROBING:
        break;
    }
    p->state = SYNCPLAN_FAILED;
    return SYNCPLAN_INCOMPLETE;
}

bool syncplan_may_request(const struct syncplan *p, size_t k, size_t in_flight)
{
    if (k >= p->npages)
        return false;
    switch (p->state) {
    case SYNCPLAN_PAGING:
        return in_flight < SYNCPLAN_PAGES_PROBING;
    case SYNCPLAN_PAGED:
        return in_flight < SYNCPLAN_PAGES_IN_FLIGHT;
    case SYNCPLAN_WHOLE:
        return k == 0; /* one GET /blocks; once a peer is known to ignore the query, no page */
    default:
        return false;
    }
}

uint64_t syncplan_page_from(const struct syncplan *p, size_t k)
{
    return p->from + (uint64_t)k * p->page_blocks;
}

void syncplan_parse_as(const struct syncplan *p, size_t k, uint64_t *from, bool *or_chain)
{
    *from = p->state == SYNCPLAN_WHOLE ? 0 : syncplan_page_from(p, k);
    *or_chain = k == 0 && *from > 0;
}

bool syncplan_later_pages_dropped(const struct syncplan *p)
{
    return p->state == SYNCPLAN_WHOLE || p->state == SYNCPLAN_FORKED ||
           p->state == SYNCPLAN_BROKEN || p->state == SYNCPLAN_FAILED;
}

const char *syncplan_state_name(enum syncplan_state s)
{
    static const char *const names[] = {
        [SYNCPLAN_PROBING] = "probing", [SYNCPLAN_PAGING] = "paging", [SYNCPLAN_PAGED] = "paged",
        [SYNCPLAN_WHOLE] = "whole",     [SYNCPLAN_BROKEN] = "broken", [SYNCPLAN_FORKED] = "forked",
        [SYNCPLAN_SKIPPED] = "skipped", [SYNCPLAN_FAILED] = "failed",
    };
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}
