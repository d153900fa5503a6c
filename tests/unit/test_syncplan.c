/* test_syncplan: the sync planner's decisions: tip answers, page answers as they begin, end and
 * come back from the parsers, joins, settling, which pages to ask and how to parse them, and
 * whole fetches walked answer by answer (an original peer, a fork below our tip). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "syncplan.h"

#define ROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define MB      (1024 * 1024)

#define P_PROBING SYNCPLAN_PROBING
#define P_PAGING  SYNCPLAN_PAGING
#define P_PAGED   SYNCPLAN_PAGED
#define P_WHOLE   SYNCPLAN_WHOLE
#define P_BROKEN  SYNCPLAN_BROKEN
#define P_FORKED  SYNCPLAN_FORKED
#define P_SKIPPED SYNCPLAN_SKIPPED
#define P_FAILED  SYNCPLAN_FAILED

/* A fetch as the planner sees it, its tip hash unknown. */
#define PLAN(state_, height_, from_, page_, n_)                                                    \
    {                                                                                              \
        .state = state_, .height = height_, .from = from_, .page_blocks = page_, .npages = n_      \
    }
/* A plan in the middle of paging: blocks [11, 40] asked in 4 pages of 8 (from our tip 10). */
#define PAGING_11(state) PLAN(state, 40, 11, 8, 4)
/* The same fetched from genesis: blocks [0, 40] in 6 pages of 8. */
#define PAGING_0(state) PLAN(state, 40, 0, 8, 6)

static const struct syncplan_ctx ctx_at_10 = {
    .best_height = 10, .held = 10, .sync_page = 8, .max_chain_bytes = MB};

/* ---- GET /block ---- */

struct tip_row {
    const char *what;
    struct syncplan_ctx ctx;
    enum syncplan_transfer transfer;
    long status;
    bool parsed;
    uint64_t height;
    enum syncplan_verdict verdict;
    enum syncplan_state state;
    uint64_t from, page_blocks; /* the plan after a FETCH */
    size_t npages;
};

#define CTX(best_, held_, page_, bytes_)                                                           \
    {                                                                                              \
        .best_height = best_, .held = held_, .sync_page = page_, .max_chain_bytes = bytes_         \
    }

static const struct tip_row tip_rows[] = {
    {"refused", CTX(10, 10, 8, MB), SYNCPLAN_XFER_FAILED, 0, false, 0, SYNCPLAN_UNREACHABLE,
     P_FAILED, 0, 0, 0},
    {"answer over the cap: no height, the whole chain", CTX(10, 10, 8, MB), SYNCPLAN_XFER_TOO_BIG,
     200, false, 0, SYNCPLAN_FETCH, P_WHOLE, 0, 0, 1},
    {"HTTP 404: the whole chain", CTX(10, 10, 8, MB), SYNCPLAN_XFER_OK, 404, false, 0,
     SYNCPLAN_FETCH, P_WHOLE, 0, 0, 1},
    {"not a block: the whole chain", CTX(10, 10, 8, MB), SYNCPLAN_XFER_OK, 200, false, 0,
     SYNCPLAN_FETCH, P_WHOLE, 0, 0, 1},
    {"as high as the best: cannot win", CTX(10, 10, 8, MB), SYNCPLAN_XFER_OK, 200, true, 10,
     SYNCPLAN_SKIP, P_SKIPPED, 0, 0, 0},
    {"lower", CTX(10, 10, 8, MB), SYNCPLAN_XFER_OK, 200, true, 3, SYNCPLAN_SKIP, P_SKIPPED, 0, 0,
     0},
    {"one higher: one page after our tip", CTX(10, 10, 8, MB), SYNCPLAN_XFER_OK, 200, true, 11,
     SYNCPLAN_FETCH, P_PAGING, 11, 8, 1},
    {"30 blocks after our tip: 4 pages", CTX(10, 10, 8, MB), SYNCPLAN_XFER_OK, 200, true, 40,
     SYNCPLAN_FETCH, P_PAGING, 11, 8, 4},
    {"beaten by a fetch of this sync", CTX(40, 10, 8, MB), SYNCPLAN_XFER_OK, 200, true, 40,
     SYNCPLAN_SKIP, P_SKIPPED, 0, 0, 0},
    {"genesis only, short chain: one GET /blocks", CTX(0, 0, 8, MB), SYNCPLAN_XFER_OK, 200, true, 7,
     SYNCPLAN_FETCH, P_WHOLE, 0, 0, 1},
    {"genesis only, one block over a page: pages", CTX(0, 0, 8, MB), SYNCPLAN_XFER_OK, 200, true, 8,
     SYNCPLAN_FETCH, P_PAGING, 0, 8, 2},
    {"appended past the peer since the sync began", CTX(10, 20, 8, MB), SYNCPLAN_XFER_OK, 200, true,
     15, SYNCPLAN_SKIP, P_SKIPPED, 0, 0, 0},
    {"a height that cannot fit max-chain-bytes", CTX(0, 0, 8, 12000), SYNCPLAN_XFER_OK, 200, true,
     100, SYNCPLAN_TOO_BIG, P_FAILED, 0, 0, 0},
    {"the highest that can", CTX(0, 0, 8, 12000), SYNCPLAN_XFER_OK, 200, true, 99, SYNCPLAN_FETCH,
     P_PAGING, 0, 8, 13},
    {"more than SYNCPLAN_MAX_PAGES pages: larger pages", CTX(0, 0, 1, MB), SYNCPLAN_XFER_OK, 200,
     true, 5000, SYNCPLAN_FETCH, P_PAGING, 0, 5, 1001},
    {"exactly SYNCPLAN_MAX_PAGES pages", CTX(0, 0, 2, MB), SYNCPLAN_XFER_OK, 200, true, 2047,
     SYNCPLAN_FETCH, P_PAGING, 0, 2, 1024},
};

START_TEST(test_tip)
{
    const struct tip_row *row = &tip_rows[_i];
    struct syncplan p;
    struct syncplan_answer a = {.stage = SYNCPLAN_TIP,
                                .transfer = row->transfer,
                                .status = row->status,
                                .tip_parsed = row->parsed,
                                .tip_height = row->height};
    syncplan_init(&p);
    ck_assert_int_eq(p.state, SYNCPLAN_PROBING);
    ck_assert_msg(syncplan_classify(&p, &row->ctx, &a) == row->verdict, "%s", row->what);
    ck_assert_msg(p.state == row->state, "%s: state %s", row->what, syncplan_state_name(p.state));
    if (row->verdict == SYNCPLAN_FETCH) {
        ck_assert_uint_eq(p.from, row->from);
        ck_assert_uint_eq(p.page_blocks, row->page_blocks);
        ck_assert_uint_eq(p.npages, row->npages);
        /* the pages cover [from, height] exactly */
        if (p.page_blocks > 0) {
            ck_assert_uint_le(syncplan_page_from(&p, p.npages - 1), row->height);
            ck_assert_uint_gt(syncplan_page_from(&p, p.npages - 1) + p.page_blocks, row->height);
            ck_assert_uint_le(p.npages, SYNCPLAN_MAX_PAGES);
        }
    }
}
END_TEST

/* ---- GET /block under --fork-choice longest-lowest-hash: ties ---- */

#define LO "0000000000000000000000000000000000000000000000000000000000000001"
#define HI "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

struct tie_row {
    const char *what;
    enum forkchoice rule;
    uint64_t held; /* our tip (and the best so far), its hash HI */
    uint64_t sync_page;
    uint64_t height; /* the peer's tip */
    const char *hash;
    enum syncplan_verdict verdict;
    enum syncplan_state state;
    uint64_t from, page_blocks;
};

static const struct tie_row tie_rows[] = {
    {"a lower tip at our height: its last page", FORKCHOICE_LOWEST_HASH, 10, 8, 10, LO,
     SYNCPLAN_FETCH, P_PAGING, 3, 8},
    {"a short chain: all of it at once", FORKCHOICE_LOWEST_HASH, 10, 50, 10, LO, SYNCPLAN_FETCH,
     P_WHOLE, 0, 0},
    {"the same tip", FORKCHOICE_LOWEST_HASH, 10, 8, 10, HI, SYNCPLAN_SKIP, P_SKIPPED, 0, 0},
    {"a tie under longest", FORKCHOICE_LONGEST, 10, 8, 10, LO, SYNCPLAN_SKIP, P_SKIPPED, 0, 0},
    {"higher still wins by height", FORKCHOICE_LOWEST_HASH, 10, 8, 12, HI, SYNCPLAN_FETCH, P_PAGING,
     11, 8},
    {"lower never wins", FORKCHOICE_LOWEST_HASH, 10, 8, 9, LO, SYNCPLAN_SKIP, P_SKIPPED, 0, 0},
};

START_TEST(test_tip_tie)
{
    const struct tie_row *row = &tie_rows[_i];
    struct syncplan_ctx ctx = {.rule = row->rule,
                               .best_height = row->held,
                               .best_hash = HI,
                               .held = row->held,
                               .held_hash = HI,
                               .sync_page = row->sync_page,
                               .max_chain_bytes = MB};
    struct syncplan_answer a = {.stage = SYNCPLAN_TIP,
                                .status = 200,
                                .tip_parsed = true,
                                .tip_height = row->height,
                                .tip_hash = row->hash};
    struct syncplan p;
    syncplan_init(&p);
    ck_assert_msg(syncplan_classify(&p, &ctx, &a) == row->verdict, "%s", row->what);
    ck_assert_msg(p.state == row->state, "%s: %s", row->what, syncplan_state_name(p.state));
    if (row->verdict == SYNCPLAN_FETCH) {
        ck_assert_uint_eq(p.from, row->from);
        ck_assert_uint_eq(p.page_blocks, row->page_blocks);
        ck_assert_str_eq(p.tip, row->hash);
    }
}
END_TEST

/* A fork below our tip found by a tie fetch is fetched from genesis only while its tip wins. */
START_TEST(test_tie_forked_settles_by_hash)
{
    struct syncplan_ctx ctx = {.rule = FORKCHOICE_LOWEST_HASH,
                               .best_height = 10,
                               .best_hash = HI,
                               .held = 10,
                               .held_hash = HI,
                               .sync_page = 8,
                               .max_chain_bytes = MB};
    struct syncplan p = PLAN(P_FORKED, 10, 3, 8, 1);
    snprintf(p.tip, sizeof(p.tip), "%s", LO);
    ck_assert_int_eq(syncplan_settle(&p, &ctx, false, 0), SYNCPLAN_REFETCH);
    ck_assert_uint_eq(p.from, 0);
    ck_assert_uint_eq(p.npages, 2);
    p = (struct syncplan)PLAN(P_FORKED, 10, 3, 8, 1);
    snprintf(p.tip, sizeof(p.tip), "%s", LO);
    ctx.rule = FORKCHOICE_LONGEST;
    ck_assert_int_eq(syncplan_settle(&p, &ctx, false, 0), SYNCPLAN_LET_GO);
}
END_TEST

/* ---- page answers ---- */

struct answer_row {
    const char *what;
    struct syncplan plan;
    struct syncplan_answer a;
    enum syncplan_verdict verdict;
    enum syncplan_state state; /* after */
};

#define BEGUN(k_, gen_)                                                                            \
    {                                                                                              \
        .stage = SYNCPLAN_BEGUN, .page = k_, .at_genesis = gen_                                    \
    }
#define RECEIVED(k_, xfer_, status_, gen_)                                                         \
    {                                                                                              \
        .stage = SYNCPLAN_RECEIVED, .page = k_, .transfer = xfer_, .status = status_,              \
        .at_genesis = gen_                                                                         \
    }
#define OK200(k_) RECEIVED(k_, SYNCPLAN_XFER_OK, 200, false)
#define PARSED(k_, valid_, base_, last_, links_, joined0_)                                         \
    {                                                                                              \
        .stage = SYNCPLAN_PARSED, .page = k_, .parsed = true, .valid = valid_, .base = base_,      \
        .last = last_, .links = links_, .page0_joined = joined0_                                   \
    }
#define INVALID(k_, joined0_) PARSED(k_, false, 0, 0, false, joined0_)

static const struct answer_row answer_rows[] = {
    /* the first bytes: only a later page that is the whole chain is not read on */
    {"begun: a later page at genesis", PAGING_11(P_PAGING), BEGUN(1, true), SYNCPLAN_WHOLE_CHAIN,
     P_PAGING},
    {"begun: the first page at genesis though asked from 11", PAGING_11(P_PAGING), BEGUN(0, true),
     SYNCPLAN_WHOLE_CHAIN, P_PAGING},
    {"begun: a later page where asked", PAGING_11(P_PAGING), BEGUN(1, false), SYNCPLAN_READ_ON,
     P_PAGING},
    {"begun: the first page from genesis, asked from genesis", PAGING_0(P_PAGING), BEGUN(0, true),
     SYNCPLAN_READ_ON, P_PAGING},
    {"begun: a failed fetch", PAGING_11(P_FAILED), BEGUN(1, true), SYNCPLAN_READ_ON, P_FAILED},

    /* a page's GET ended */
    {"received: the fetch failed already", PAGING_11(P_FAILED), OK200(0), SYNCPLAN_DROP, P_FAILED},
    {"received: a later page cut at genesis", PAGING_11(P_PAGING),
     RECEIVED(1, SYNCPLAN_XFER_FAILED, 200, true), SYNCPLAN_WHOLE_CHAIN, P_WHOLE},
    {"received: another one, once whole", PAGING_11(P_WHOLE),
     RECEIVED(2, SYNCPLAN_XFER_FAILED, 200, true), SYNCPLAN_DROP, P_WHOLE},
    {"received: a later page once whole", PAGING_11(P_WHOLE), OK200(2), SYNCPLAN_DROP, P_WHOLE},
    {"received: a later page once forked", PAGING_11(P_FORKED), OK200(1), SYNCPLAN_DROP, P_FORKED},
    {"received: over the cap", PAGING_11(P_PAGING), RECEIVED(0, SYNCPLAN_XFER_TOO_BIG, 200, false),
     SYNCPLAN_TOO_BIG, P_FAILED},
    {"received: timed out", PAGING_11(P_PAGED), RECEIVED(2, SYNCPLAN_XFER_FAILED, 0, false),
     SYNCPLAN_UNREACHABLE, P_FAILED},
    {"received: HTTP 500", PAGING_11(P_PAGING), RECEIVED(0, SYNCPLAN_XFER_OK, 500, false),
     SYNCPLAN_HTTP_ERROR, P_FAILED},
    {"received: HTTP 400 to a later page", PAGING_0(P_PAGED),
     RECEIVED(3, SYNCPLAN_XFER_OK, 400, false), SYNCPLAN_HTTP_ERROR, P_FAILED},
    {"received: the first page, asked from 11, is the whole chain", PAGING_11(P_PAGING),
     RECEIVED(0, SYNCPLAN_XFER_OK, 200, true), SYNCPLAN_WHOLE_CHAIN, P_WHOLE},
    {"received: as asked: the peer honours the query", PAGING_11(P_PAGING), OK200(0), SYNCPLAN_USE,
     P_PAGED},
    {"received: page 0 from genesis tells nothing", PAGING_0(P_PAGING),
     RECEIVED(0, SYNCPLAN_XFER_OK, 200, true), SYNCPLAN_USE, P_PAGING},
    {"received: a later page as asked", PAGING_0(P_PAGING), OK200(1), SYNCPLAN_USE, P_PAGED},
    {"received: the first page after a broken later one", PAGING_11(P_BROKEN), OK200(0),
     SYNCPLAN_USE, P_BROKEN},
    {"received: one GET /blocks", PLAN(P_WHOLE, 7, 0, 0, 1),
     RECEIVED(0, SYNCPLAN_XFER_OK, 200, true), SYNCPLAN_USE, P_WHOLE},

    /* the parsers came back */
    {"parsed: cancelled",
     PAGING_11(P_PAGED),
     {.stage = SYNCPLAN_PARSED, .page = 1, .parsed = false},
     SYNCPLAN_DROP,
     P_PAGED},
    {"parsed: the fetch failed", PAGING_11(P_FAILED), PARSED(0, true, 11, 18, true, false),
     SYNCPLAN_DROP, P_FAILED},
    {"parsed: a later page once whole", PAGING_11(P_WHOLE), PARSED(1, true, 19, 26, false, true),
     SYNCPLAN_DROP, P_WHOLE},
    {"parsed: a later invalid page once forked", PAGING_11(P_FORKED), INVALID(2, false),
     SYNCPLAN_DROP, P_FORKED},
    {"parsed: the first page invalid", PAGING_11(P_PAGED), INVALID(0, false), SYNCPLAN_INVALID,
     P_FAILED},
    {"parsed: a later page invalid after the first joined", PAGING_11(P_PAGED), INVALID(1, true),
     SYNCPLAN_INVALID, P_FAILED},
    {"parsed: a later page invalid before the first came", PAGING_11(P_PAGED), INVALID(2, false),
     SYNCPLAN_BROKEN_PAGE, P_BROKEN},
    {"parsed: another invalid one, once broken", PAGING_11(P_BROKEN), INVALID(1, false),
     SYNCPLAN_BROKEN_PAGE, P_BROKEN},
    {"parsed: a valid later one, once broken", PAGING_11(P_BROKEN),
     PARSED(3, true, 35, 40, false, false), SYNCPLAN_DROP, P_BROKEN},
    {"parsed: the first page is a chain from genesis (compact JSON, an original)",
     PAGING_11(P_PAGED), PARSED(0, true, 0, 40, false, false), SYNCPLAN_WHOLE_CHAIN, P_WHOLE},
    {"parsed: the first page does not follow our chain", PAGING_11(P_PAGED),
     PARSED(0, true, 11, 18, false, false), SYNCPLAN_FORK, P_FORKED},
    {"parsed: the first page follows our chain", PAGING_11(P_PAGED),
     PARSED(0, true, 11, 18, true, false), SYNCPLAN_USE, P_PAGED},
    {"parsed: more blocks than asked", PAGING_11(P_PAGED), PARSED(0, true, 11, 19, true, false),
     SYNCPLAN_WHOLE_CHAIN, P_WHOLE},
    {"parsed: more blocks than asked, not following our chain", PAGING_11(P_PAGED),
     PARSED(0, true, 11, 19, false, false), SYNCPLAN_FORK, P_FORKED},
    {"parsed: the first page from genesis as asked", PAGING_0(P_PAGING),
     PARSED(0, true, 0, 7, false, false), SYNCPLAN_USE, P_PAGING},
    {"parsed: the whole chain to a first page from genesis", PAGING_0(P_PAGING),
     PARSED(0, true, 0, 40, false, false), SYNCPLAN_WHOLE_CHAIN, P_WHOLE},
    {"parsed: a later page as asked", PAGING_11(P_PAGED), PARSED(2, true, 27, 34, false, false),
     SYNCPLAN_USE, P_PAGED},
    {"parsed: the first page rescues a broken fetch", PAGING_11(P_BROKEN),
     PARSED(0, true, 0, 40, false, false), SYNCPLAN_WHOLE_CHAIN, P_WHOLE},
    {"parsed: the first page of a broken fetch, as asked", PAGING_11(P_BROKEN),
     PARSED(0, true, 11, 18, true, false), SYNCPLAN_USE, P_BROKEN},
    {"parsed: one GET /blocks", PLAN(P_WHOLE, 7, 0, 0, 1), PARSED(0, true, 0, 7, false, false),
     SYNCPLAN_USE, P_WHOLE},

    /* joins, and a peer that left */
    {"joined",
     PAGING_11(P_PAGED),
     {.stage = SYNCPLAN_JOINED, .page = 1, .joins = true},
     SYNCPLAN_USE,
     P_PAGED},
    {"joined: the peer changed its chain between pages",
     PAGING_11(P_PAGED),
     {.stage = SYNCPLAN_JOINED, .page = 2, .joins = false},
     SYNCPLAN_CHANGED,
     P_FAILED},
    {"joined: the fetch failed",
     PAGING_11(P_FAILED),
     {.stage = SYNCPLAN_JOINED, .page = 2, .joins = true},
     SYNCPLAN_DROP,
     P_FAILED},
    {"the peer left", PAGING_11(P_PAGED), {.stage = SYNCPLAN_LEFT}, SYNCPLAN_GONE, P_FAILED},
};

START_TEST(test_answer)
{
    const struct answer_row *row = &answer_rows[_i];
    struct syncplan p = row->plan;
    enum syncplan_verdict v = syncplan_classify(&p, &ctx_at_10, &row->a);
    ck_assert_msg(v == row->verdict, "%s: verdict %d, expected %d", row->what, v, row->verdict);
    ck_assert_msg(p.state == row->state, "%s: state %s, expected %s", row->what,
                  syncplan_state_name(p.state), syncplan_state_name(row->state));
    /* only the state moves */
    ck_assert_uint_eq(p.from, row->plan.from);
    ck_assert_uint_eq(p.npages, row->plan.npages);
}
END_TEST

/* ---- settling ---- */

struct settle_row {
    const char *what;
    struct syncplan plan;
    uint64_t best;
    bool have_chain;
    size_t joined;
    enum syncplan_outcome outcome;
    enum syncplan_state state;
    uint64_t from, page_blocks; /* the plan after a REFETCH */
    size_t npages;
};

static const struct settle_row settle_rows[] = {
    {"failed", PAGING_11(P_FAILED), 10, false, 0, SYNCPLAN_NOTHING, P_FAILED, 0, 0, 0},
    {"skipped", PLAN(P_SKIPPED, 0, 0, 0, 0), 10, false, 0, SYNCPLAN_NOTHING, P_SKIPPED, 0, 0, 0},
    {"forked and can win: from genesis in pages", PAGING_11(P_FORKED), 10, false, 0,
     SYNCPLAN_REFETCH, P_PAGING, 0, 8, 6},
    {"forked, short: from genesis in one GET /blocks", PLAN(P_FORKED, 7, 6, 8, 1), 5, false, 0,
     SYNCPLAN_REFETCH, P_WHOLE, 0, 0, 1},
    {"forked and beaten meanwhile", PAGING_11(P_FORKED), 40, false, 0, SYNCPLAN_LET_GO, P_SKIPPED,
     0, 0, 0},
    {"a later page was invalid", PAGING_11(P_BROKEN), 10, true, 1, SYNCPLAN_BAD_PAGE, P_FAILED, 0,
     0, 0},
    {"whole", PAGING_11(P_WHOLE), 10, true, 1, SYNCPLAN_TAKE, P_WHOLE, 0, 0, 0},
    {"whole, but nothing came", PAGING_11(P_WHOLE), 10, false, 0, SYNCPLAN_INCOMPLETE, P_FAILED, 0,
     0, 0},
    {"every page joined", PAGING_11(P_PAGED), 10, true, 4, SYNCPLAN_TAKE, P_PAGED, 0, 0, 0},
    {"a page missing", PAGING_11(P_PAGED), 10, true, 3, SYNCPLAN_INCOMPLETE, P_FAILED, 0, 0, 0},
    {"one page, never joined", PAGING_11(P_PAGING), 10, false, 0, SYNCPLAN_INCOMPLETE, P_FAILED, 0,
     0, 0},
};

START_TEST(test_settle)
{
    const struct settle_row *row = &settle_rows[_i];
    struct syncplan p = row->plan;
    struct syncplan_ctx ctx = ctx_at_10;
    ctx.best_height = row->best;
    ck_assert_msg(syncplan_settle(&p, &ctx, row->have_chain, row->joined) == row->outcome, "%s",
                  row->what);
    ck_assert_msg(p.state == row->state, "%s: state %s", row->what, syncplan_state_name(p.state));
    if (row->outcome == SYNCPLAN_REFETCH) {
        ck_assert_uint_eq(p.from, row->from);
        ck_assert_uint_eq(p.page_blocks, row->page_blocks);
        ck_assert_uint_eq(p.npages, row->npages);
        ck_assert_uint_eq(p.height, row->plan.height);
    }
}
END_TEST

/* ---- which pages, how parsed ---- */

struct request_row {
    struct syncplan plan;
    size_t k, in_flight;
    bool may;
};

static const struct request_row request_rows[] = {
    {PAGING_11(P_PAGING), 0, 0, true},
    {PAGING_11(P_PAGING), 1, 1, true},
    {PAGING_11(P_PAGING), 2, 2, false}, /* not known to page yet: 2 in flight */
    {PAGING_11(P_PAGED), 2, 2, true},
    {PAGING_11(P_PAGED), 3, 3, true},
    {PAGING_11(P_PAGED), 3, 4, false},
    {PAGING_11(P_PAGED), 4, 0, false}, /* past the last */
    {PLAN(P_WHOLE, 7, 0, 0, 1), 0, 0, true},
    {PAGING_11(P_WHOLE), 1, 0, false},
    {PAGING_11(P_BROKEN), 2, 0, false},
    {PAGING_11(P_FORKED), 1, 0, false},
    {PAGING_11(P_FAILED), 1, 0, false},
    {PAGING_11(P_SKIPPED), 0, 0, false},
    {PLAN(P_PROBING, 0, 0, 0, 0), 0, 0, false},
};

START_TEST(test_may_request)
{
    const struct request_row *row = &request_rows[_i];
    ck_assert_int_eq(syncplan_may_request(&row->plan, row->k, row->in_flight), row->may);
}
END_TEST

struct parse_row {
    struct syncplan plan;
    size_t k;
    uint64_t from;
    bool or_chain;
};

static const struct parse_row parse_rows[] = {
    {PAGING_11(P_PAGING), 0, 11, true}, /* it may be the whole chain of an original */
    {PAGING_11(P_PAGED), 2, 27, false}, {PAGING_11(P_WHOLE), 0, 0, false},
    {PAGING_0(P_PAGING), 0, 0, false},  {PAGING_0(P_PAGED), 5, 40, false},
};

START_TEST(test_parse_as)
{
    const struct parse_row *row = &parse_rows[_i];
    uint64_t from = 99;
    bool or_chain = !row->or_chain;
    syncplan_parse_as(&row->plan, row->k, &from, &or_chain);
    ck_assert_uint_eq(from, row->from);
    ck_assert_int_eq(or_chain, row->or_chain);
}
END_TEST

#define GENESIS_DUMPS                                                                              \
    "{\"index\": 0, \"data\": null, \"prev_hash\": null, \"hash\": \"" BLOCK_GENESIS_HASH "\"}"

START_TEST(test_at_genesis)
{
    const char *whole = "[" GENESIS_DUMPS ", {\"index\": 1}]";
    const char *compact =
        "[{\"index\":0,\"data\":null,\"prev_hash\":null,\"hash\":\"" BLOCK_GENESIS_HASH "\"}]";
    ck_assert(syncplan_at_genesis(whole, strlen(whole)));
    ck_assert(syncplan_at_genesis(whole, SYNCPLAN_BEGIN_BYTES));
    ck_assert(!syncplan_at_genesis(whole, SYNCPLAN_BEGIN_BYTES - 1));
    ck_assert(!syncplan_at_genesis(compact, strlen(compact)));
    ck_assert(!syncplan_at_genesis(whole + 1, strlen(whole) - 1));
    ck_assert(!syncplan_at_genesis("[]", 2));
}
END_TEST

/* ---- whole fetches, answer by answer ---- */

static enum syncplan_verdict feed(struct syncplan *p, const struct syncplan_ctx *ctx,
                                  struct syncplan_answer a)
{
    return syncplan_classify(p, ctx, &a);
}

/* An original node: every page is its whole chain in json.dumps bytes. */
START_TEST(test_walk_peer_ignoring_the_query)
{
    struct syncplan_ctx ctx = {.best_height = 1, .held = 1, .sync_page = 8, .max_chain_bytes = MB};
    struct syncplan p;
    struct syncplan_answer tip = {
        .stage = SYNCPLAN_TIP, .status = 200, .tip_parsed = true, .tip_height = 40};
    syncplan_init(&p);
    ck_assert_int_eq(syncplan_classify(&p, &ctx, &tip), SYNCPLAN_FETCH);
    ck_assert_uint_eq(p.from, 2);
    ck_assert_uint_eq(p.npages, 5);
    ck_assert(syncplan_may_request(&p, 0, 0));
    ck_assert(syncplan_may_request(&p, 1, 1));
    ck_assert(!syncplan_may_request(&p, 2, 2));
    /* page 1 begins at genesis: not read on; it ends so, and the fetch is whole */
    ck_assert_int_eq(feed(&p, &ctx, (struct syncplan_answer)BEGUN(1, true)), SYNCPLAN_WHOLE_CHAIN);
    ck_assert_int_eq(
        feed(&p, &ctx, (struct syncplan_answer)RECEIVED(1, SYNCPLAN_XFER_FAILED, 200, true)),
        SYNCPLAN_WHOLE_CHAIN);
    ck_assert_int_eq(p.state, SYNCPLAN_WHOLE);
    ck_assert(syncplan_later_pages_dropped(&p));
    ck_assert(!syncplan_may_request(&p, 2, 0));
    /* page 0 is read to its end, parsed from genesis, and taken */
    ck_assert_int_eq(feed(&p, &ctx, (struct syncplan_answer)BEGUN(0, true)), SYNCPLAN_WHOLE_CHAIN);
    ck_assert_int_eq(
        feed(&p, &ctx, (struct syncplan_answer)RECEIVED(0, SYNCPLAN_XFER_OK, 200, true)),
        SYNCPLAN_WHOLE_CHAIN);
    uint64_t from;
    bool or_chain;
    syncplan_parse_as(&p, 0, &from, &or_chain);
    ck_assert_uint_eq(from, 0);
    ck_assert_int_eq(feed(&p, &ctx, (struct syncplan_answer)PARSED(0, true, 0, 40, false, false)),
                     SYNCPLAN_WHOLE_CHAIN);
    ck_assert_int_eq(syncplan_settle(&p, &ctx, true, 1), SYNCPLAN_TAKE);
}
END_TEST

/* The peer forked below our tip: the page after our tip does not link; fetched from genesis. */
START_TEST(test_walk_fork_below_our_tip)
{
    struct syncplan_ctx ctx = {
        .best_height = 5, .held = 5, .sync_page = 5000, .max_chain_bytes = MB};
    struct syncplan p;
    struct syncplan_answer tip = {
        .stage = SYNCPLAN_TIP, .status = 200, .tip_parsed = true, .tip_height = 12};
    syncplan_init(&p);
    ck_assert_int_eq(syncplan_classify(&p, &ctx, &tip), SYNCPLAN_FETCH);
    ck_assert_uint_eq(p.from, 6);
    ck_assert_uint_eq(p.page_blocks, 5000);
    ck_assert_int_eq(feed(&p, &ctx, (struct syncplan_answer)OK200(0)), SYNCPLAN_USE);
    ck_assert_int_eq(feed(&p, &ctx, (struct syncplan_answer)PARSED(0, true, 6, 12, false, false)),
                     SYNCPLAN_FORK);
    ck_assert(!syncplan_may_request(&p, 1, 0));
    ck_assert_int_eq(syncplan_settle(&p, &ctx, false, 0), SYNCPLAN_REFETCH);
    ck_assert_int_eq(p.state, SYNCPLAN_WHOLE); /* 13 blocks: one GET /blocks */
    ck_assert_uint_eq(p.from, 0);
    ck_assert(syncplan_may_request(&p, 0, 0));
    ck_assert_int_eq(
        feed(&p, &ctx, (struct syncplan_answer)RECEIVED(0, SYNCPLAN_XFER_OK, 200, true)),
        SYNCPLAN_USE);
    ck_assert_int_eq(feed(&p, &ctx, (struct syncplan_answer)PARSED(0, true, 0, 12, false, false)),
                     SYNCPLAN_USE);
    ck_assert_int_eq(syncplan_settle(&p, &ctx, true, 1), SYNCPLAN_TAKE);
}
END_TEST

static Suite *syncplan_suite(void)
{
    Suite *s = suite_create("syncplan");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_tip, 0, ROWS(tip_rows));
    tcase_add_loop_test(tc, test_tip_tie, 0, ROWS(tie_rows));
    tcase_add_test(tc, test_tie_forked_settles_by_hash);
    tcase_add_loop_test(tc, test_answer, 0, ROWS(answer_rows));
    tcase_add_loop_test(tc, test_settle, 0, ROWS(settle_rows));
    tcase_add_loop_test(tc, test_may_request, 0, ROWS(request_rows));
    tcase_add_loop_test(tc, test_parse_as, 0, ROWS(parse_rows));
    tcase_add_test(tc, test_at_genesis);
    tcase_add_test(tc, test_walk_peer_ignoring_the_query);
    tcase_add_test(tc, test_walk_fork_below_our_tip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(syncplan_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
