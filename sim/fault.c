/* fault: delay, loss and token-bucket arithmetic for the link layer, kept pure for unit tests. */
#include "fault.h"

static uint64_t fault_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t fault_seed(uint64_t seed, int from, int to, enum fault_stream stream)
{
    uint64_t link = ((uint64_t)(uint32_t)from << 32) | (uint32_t)to;
    return fault_mix(fault_mix(fault_mix(seed) ^ link) ^ (uint64_t)stream);
}

bool fault_loss_draw(struct rng *r, uint32_t per_million)
{
    return rng_below(r, FAULT_LOSS_SCALE) < per_million;
}

int64_t fault_delay_us(struct rng *r, int64_t delay_ms, int64_t jitter_ms)
{
    int64_t d = delay_ms * 1000;

    if (jitter_ms > 0) {
        int64_t j = jitter_ms * 1000;
        d += (int64_t)rng_below(r, (uint64_t)(2 * j + 1)) - j;
    }
    return d < 0 ? 0 : d;
}

int64_t fault_release_us(int64_t now_us, int64_t delay_us, int64_t last_us)
{
    int64_t t = now_us + delay_us;
    return t < last_us ? last_us : t;
}

void fault_bucket_init(struct fault_bucket *b, uint64_t rate, int64_t now_us)
{
    if (rate > FAULT_RATE_MAX)
        rate = FAULT_RATE_MAX;
    b->rate = rate;
    b->burst = rate / FAULT_BURST_DIV > FAULT_BURST_MIN ? rate / FAULT_BURST_DIV : FAULT_BURST_MIN;
    b->step = rate / FAULT_STEP_DIV > 1 ? rate / FAULT_STEP_DIV : 1;
    b->credit = b->burst * FAULT_US_PER_S;
    b->stamp_us = now_us;
}

/* Bring b's credit up to now_us. */
static void fault_bucket_refill(struct fault_bucket *b, int64_t now_us)
{
    uint64_t full = b->burst * FAULT_US_PER_S;

    if (now_us <= b->stamp_us)
        return;
    uint64_t elapsed = (uint64_t)(now_us - b->stamp_us);
    b->stamp_us = now_us;
    /* Compare before multiplying: elapsed * rate may overflow, the missing credit may not. */
    uint64_t missing = full - b->credit;
    if (elapsed >= missing / b->rate + 1) {
        b->credit = full;
        return;
    }
    b->credit += elapsed * b->rate;
    if (b->credit > full)
        b->credit = full;
}

uint64_t fault_bucket_available(struct fault_bucket *b, int64_t now_us)
{
    if (b->rate == 0)
        return UINT64_MAX;
    fault_bucket_refill(b, now_us);
    return b->credit / FAULT_US_PER_S;
}

uint64_t fault_bucket_take(struct fault_bucket *b, int64_t now_us, uint64_t want)
{
    uint64_t n = fault_bucket_available(b, now_us);

    if (n > want)
        n = want;
    if (b->rate != 0)
        b->credit -= n * FAULT_US_PER_S;
    return n;
}

int64_t fault_bucket_ready_us(const struct fault_bucket *b, uint64_t want)
{
    if (b->rate == 0)
        return b->stamp_us;
    if (want > b->step)
        want = b->step;
    uint64_t need = want * FAULT_US_PER_S;
    if (b->credit >= need)
        return b->stamp_us;
    return b->stamp_us + (int64_t)((need - b->credit + b->rate - 1) / b->rate);
}
