/* fault: the arithmetic of link faults (delay draws, loss draws, token buckets); no clock, no I/O.
 */
#ifndef CHAINLAB_FAULT_H
#define CHAINLAB_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "rng.h"

#define FAULT_LOSS_SCALE   1000000u         /* loss shares are parts per million */
#define FAULT_DELAY_MAX_MS 3600000          /* longest latency or jitter accepted: one hour */
#define FAULT_RATE_MAX     1000000000000ULL /* fastest bandwidth (1 TB/s); faster is clamped */
#define FAULT_BURST_MIN    1500             /* smallest bucket: one Ethernet MTU of bytes */
#define FAULT_BURST_DIV    10               /* a bucket holds 1/10 s of its rate */
#define FAULT_STEP_DIV     100              /* a throttled writer waits for 1/100 s of the rate */
#define FAULT_US_PER_S     1000000          /* times are microseconds of a monotonic clock */

/* Independent PRNG streams of one link, so jitter draws never shift the loss sequence. */
enum fault_stream {
    FAULT_STREAM_LOSS = 1,   /* which new connections are lost */
    FAULT_STREAM_JITTER = 2, /* the jitter of each delayed chunk */
};

/* Seed of one stream of link from -> to under the run's seed: the same inputs always give the
 * same seed, and different links or streams give unrelated ones. */
uint64_t fault_seed(uint64_t seed, int from, int to, enum fault_stream stream);
/* Draw whether a new connection is lost: true with probability per_million / FAULT_LOSS_SCALE
 * (never for 0, always from FAULT_LOSS_SCALE up). Consumes exactly one draw of r. */
bool fault_loss_draw(struct rng *r, uint32_t per_million);
/* Delay in microseconds of one chunk: delay_ms plus a uniform draw in [-jitter_ms, +jitter_ms]
 * (microsecond steps), never below 0. Draws from r only when jitter_ms > 0. Arguments must be in
 * [0, FAULT_DELAY_MAX_MS]. */
int64_t fault_delay_us(struct rng *r, int64_t delay_ms, int64_t jitter_ms);
/* Release time of a chunk read at now_us with delay_us, after a chunk released at last_us: never
 * earlier than last_us, so a later chunk never overtakes an earlier one. */
int64_t fault_release_us(int64_t now_us, int64_t delay_us, int64_t last_us);

/* A token bucket: rate bytes per second, holding at most burst bytes, full when (re)initialised.
 * Credit is kept in byte-microseconds so slow rates lose no fraction of a token. */
struct fault_bucket {
    uint64_t rate;    /* bytes per second, 1..FAULT_RATE_MAX; 0: unlimited (no bucket) */
    uint64_t burst;   /* capacity: max(rate / FAULT_BURST_DIV, FAULT_BURST_MIN) bytes */
    uint64_t step;    /* bytes a waiting writer waits for: max(rate / FAULT_STEP_DIV, 1) */
    uint64_t credit;  /* tokens * FAULT_US_PER_S plus a fraction; <= burst * FAULT_US_PER_S */
    int64_t stamp_us; /* time credit was brought up to date */
};

/* Set b to rate bytes per second (0: unlimited; above FAULT_RATE_MAX: FAULT_RATE_MAX), full. */
void fault_bucket_init(struct fault_bucket *b, uint64_t rate, int64_t now_us);
/* Whole tokens (bytes) available at now_us (not before the last call's time); refills b.
 * UINT64_MAX when b is unlimited. */
uint64_t fault_bucket_available(struct fault_bucket *b, int64_t now_us);
/* Take min(want, available at now_us) tokens and return that count (want when unlimited). */
uint64_t fault_bucket_take(struct fault_bucket *b, int64_t now_us, uint64_t want);
/* Earliest time at which min(want, step) tokens are available (b brought up to date by the last
 * call); the last call's time when they already are. */
int64_t fault_bucket_ready_us(const struct fault_bucket *b, uint64_t want);

#endif
