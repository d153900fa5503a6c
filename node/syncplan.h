/* syncplan: what a sync does with one peer, decided from facts alone.
 *
 * Design: a sync fetches from each peer in steps: GET /block (the peer's height), then its
 * chain in one GET /blocks or in pages (GET /blocks?from=&limit=), each page parsed, then joined
 * in order. What to do at each step is decided here, by pure functions: no I/O, no clock, no
 * locks, nothing but their arguments. The sync module (sync.c) does the requests, the parsing
 * and the joining, hands every answer's facts to syncplan_classify(), and does what the
 * verdict says. So each rule lives in one place, and the unit test (test_syncplan.c) drives
 * every answer a peer can give without a network.
 *
 * The rules:
 * - A peer whose tip does not win against the best chain known in this sync (forkchoice.h: a
 *   longer chain, or under longest-lowest-hash as long with a lower tip hash) is not fetched.
 *   Neither is a height that cannot fit --max-chain-bytes.
 * - A node holding only genesis fetches a chain of at most sync_page blocks in one GET /blocks
 *   (as the original asks); anything else comes in pages of sync_page blocks (larger when that
 *   would make more than SYNCPLAN_MAX_PAGES pages). A node holding blocks asks from its tip + 1
 *   on; for a peer as high as we are whose tip wins the tie, the last page of the peer's chain
 *   (the fork is usually recent; if not, the rule below fetches the whole chain).
 * - A peer ignores ?from=&limit= (the original does) when an answer asked from further on
 *   begins with "[" and genesis as json.dumps writes it, or when the first page parses as the
 *   whole chain from genesis, or holds more blocks than asked. Its first answer is then its
 *   whole chain and no other page is used (nor read further). Decided in one function, which
 *   syncplan_classify() asks at every stage.
 * - The first page fetched after our tip must link to our block before it (its prev_hash);
 *   otherwise the peer forked below our tip: no more pages are asked, and once the fetch has
 *   settled, the peer's whole chain is fetched from genesis if it can still win.
 * - Pages that are each valid but do not join: the peer changed its chain between pages (or it
 *   was never valid); the fetch gives nothing.
 * - An invalid page after the first is fatal, unless the first page turns out to be the whole
 *   chain. */
#ifndef CHAINLAB_SYNCPLAN_H
#define CHAINLAB_SYNCPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "forkchoice.h"

#define SYNCPLAN_PAGES_IN_FLIGHT 4 /* page requests in flight to a peer that honours the query */
#define SYNCPLAN_PAGES_PROBING   2 /* ... to a peer not known to (an original answers each whole) */
#define SYNCPLAN_MAX_PAGES       1024 /* pages per peer and attempt; longer chains: larger pages */
#define SYNCPLAN_MIN_BLOCK_BYTES 120  /* a block's JSON is never shorter (genesis: 121 bytes) */
#define SYNCPLAN_BEGIN_BYTES                                                                       \
    122 /* "[" + genesis as json.dumps writes it: tells an answer's start */

/* Where one peer's fetch stands: the one state instead of a set of flags. */
enum syncplan_state {
    SYNCPLAN_PROBING, /* GET /block in flight: the peer's height is not known yet */
    SYNCPLAN_PAGING,  /* pages asked; whether the peer honours ?from=&limit= is not known yet */
    SYNCPLAN_PAGED,   /* an answer began where it was asked: the peer honours the query */
    SYNCPLAN_WHOLE,   /* the first answer is the peer's whole chain; no other page is used */
    SYNCPLAN_BROKEN,  /* a later page is invalid: no more pages; fails unless page 0 is whole */
    SYNCPLAN_FORKED,  /* the blocks after our tip do not follow ours: no more pages */
    SYNCPLAN_SKIPPED, /* nothing to gain from this peer */
    SYNCPLAN_FAILED,  /* the fetch gives no chain */
};

/* One peer's fetch as the planner sees it. */
struct syncplan {
    enum syncplan_state state;
    uint64_t height;              /* the peer's tip index from GET /block (0: unknown) */
    char tip[BLOCK_HASH_HEX + 1]; /* the peer's tip hash from GET /block ("": unknown) */
    uint64_t from;                /* index of the first block asked */
    uint64_t page_blocks;         /* blocks per page; 0: one GET /blocks without a query */
    size_t npages;                /* pages to fetch */
};

/* The facts of this sync that every decision weighs. */
struct syncplan_ctx {
    enum forkchoice rule;               /* --fork-choice */
    uint64_t best_height;               /* the best chain known in this sync (ours at first) */
    char best_hash[BLOCK_HASH_HEX + 1]; /* its tip hash */
    uint64_t held;                      /* our tip index now */
    char held_hash[BLOCK_HASH_HEX + 1]; /* its hash */
    uint64_t sync_page;                 /* --sync-page (at least 1) */
    size_t max_chain_bytes;             /* --max-chain-bytes */
};

/* Which answer is being classified. */
enum syncplan_stage {
    SYNCPLAN_TIP,      /* GET /block ended */
    SYNCPLAN_BEGUN,    /* the first SYNCPLAN_BEGIN_BYTES bytes of a page are in (it goes on) */
    SYNCPLAN_RECEIVED, /* a page's GET ended */
    SYNCPLAN_PARSED,   /* the parsers are done with a page */
    SYNCPLAN_JOINED,   /* a parsed page after the first was joined to the pages before it */
    SYNCPLAN_LEFT,     /* the peer left the peer set (or the node stops) */
};

/* How a request ended. */
enum syncplan_transfer {
    SYNCPLAN_XFER_OK,      /* an answer came (status says which) */
    SYNCPLAN_XFER_TOO_BIG, /* the answer passed its byte cap */
    SYNCPLAN_XFER_FAILED,  /* refused, reset, timed out: the network failed */
};

/* The facts of one answer; fields beyond a stage's are ignored. */
struct syncplan_answer {
    enum syncplan_stage stage;
    size_t page;                     /* BEGUN .. JOINED: which page */
    enum syncplan_transfer transfer; /* TIP, RECEIVED */
    long status;                     /* TIP, RECEIVED: the HTTP status */
    bool at_genesis;                 /* BEGUN, RECEIVED: the body begins "[" + genesis (dumps) */
    bool tip_parsed;                 /* TIP: the body is a block */
    uint64_t tip_height;             /* TIP: its index */
    const char *tip_hash;            /* TIP: its hash (NUL-terminated) */
    bool parsed;                     /* PARSED: the parsers ran (false: cancelled) */
    bool valid;                      /* PARSED: a valid segment came out */
    uint64_t base, last;             /* PARSED: its first and last index */
    bool links;                      /* PARSED: base > 0 and it links to our block base - 1 */
    bool page0_joined;               /* PARSED: page 0 is already joined */
    bool joins;                      /* JOINED: it joined */
};

enum syncplan_verdict {
    SYNCPLAN_READ_ON,     /* BEGUN: read the answer to its end */
    SYNCPLAN_FETCH,       /* TIP: fetch the pages planned (from, page_blocks, npages) */
    SYNCPLAN_SKIP,        /* TIP: nothing to gain (cannot win, or we hold the peer's tip) */
    SYNCPLAN_USE,         /* RECEIVED: parse it; PARSED: join it in order; JOINED: it is in */
    SYNCPLAN_WHOLE_CHAIN, /* the peer ignores the query: its first answer is its whole chain;
                           * no other page is used (and one after the first is not read on) */
    SYNCPLAN_DROP,        /* of no use: the fetch failed, or has its chain in page 0 */
    SYNCPLAN_FORK,        /* PARSED page 0: does not follow our chain: no more pages */
    SYNCPLAN_BROKEN_PAGE, /* PARSED: a later page is invalid: no more pages (see BROKEN) */
    SYNCPLAN_UNREACHABLE, /* TIP, RECEIVED: the network failed: the fetch fails */
    SYNCPLAN_TOO_BIG,     /* TIP: the height cannot fit max_chain_bytes; RECEIVED: passed it */
    SYNCPLAN_HTTP_ERROR,  /* RECEIVED: answered other than 200: the fetch fails */
    SYNCPLAN_INVALID,     /* PARSED: not a valid chain: the fetch fails */
    SYNCPLAN_CHANGED,     /* JOINED: the pages do not join: the fetch fails */
    SYNCPLAN_GONE,        /* LEFT: the fetch fails */
};

/* What to do once nothing of a fetch is outstanding. */
enum syncplan_outcome {
    SYNCPLAN_TAKE,       /* the chain fetched (whole, or a segment after our prefix) competes */
    SYNCPLAN_REFETCH,    /* forked below our tip and can still win: fetch from genesis (planned) */
    SYNCPLAN_LET_GO,     /* forked below our tip and cannot win: not fetched again */
    SYNCPLAN_NOTHING,    /* skipped, or failed with its reason already given */
    SYNCPLAN_BAD_PAGE,   /* a later page was invalid (and page 0 is not the whole chain) */
    SYNCPLAN_INCOMPLETE, /* pages are missing */
};

/* A fetch that probes the peer's tip first. */
void syncplan_init(struct syncplan *p);
/* Classify answer a of p's fetch under ctx and move p's state accordingly (not at BEGUN,
 * which is asked while the request runs and only says whether to read on). */
enum syncplan_verdict syncplan_classify(struct syncplan *p, const struct syncplan_ctx *ctx,
                                        const struct syncplan_answer *a);
/* Nothing of p's fetch is outstanding: decide its outcome. have_chain: page 0 is joined;
 * joined: pages joined. SYNCPLAN_REFETCH plans the fetch from genesis in p. */
enum syncplan_outcome syncplan_settle(struct syncplan *p, const struct syncplan_ctx *ctx,
                                      bool have_chain, size_t joined);
/* Whether page k may be requested now, with in_flight requests running. */
bool syncplan_may_request(const struct syncplan *p, size_t k, size_t in_flight);
/* Index of the first block of page k as asked (for the path). */
uint64_t syncplan_page_from(const struct syncplan *p, size_t k);
/* How to parse page k: as the blocks from *from on; *or_chain: when it is not that, try it as a
 * whole chain from genesis (a peer that ignores the query, in a formatting BEGUN missed). */
void syncplan_parse_as(const struct syncplan *p, size_t k, uint64_t *from, bool *or_chain);
/* Whether the first SYNCPLAN_BEGIN_BYTES bytes of body (len bytes) are "[" and genesis as
 * json.dumps writes it (the fact at_genesis of an answer). */
bool syncplan_at_genesis(const char *body, size_t len);
/* Whether the pages after the first are of no use now (the parsers may skip them). */
bool syncplan_later_pages_dropped(const struct syncplan *p);
/* A short name of a state, for logs and tests. */
const char *syncplan_state_name(enum syncplan_state s);

#endif
