/* metrics: counters as atomics and their Prometheus text (see metrics.h). */
#include "metrics.h"

#include <inttypes.h>
#include <stddef.h>

void metrics_add(uint64_t *counter, uint64_t n)
{
    __atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

void metrics_count_response(struct metrics *m, unsigned code)
{
    if (code >= METRICS_MIN_CODE && code <= METRICS_MAX_CODE)
        metrics_add(&m->responses[code - METRICS_MIN_CODE], 1);
}

static uint64_t metrics_load(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

void metrics_copy(const struct metrics *m, struct metrics *out)
{
    out->appends = metrics_load(&m->appends);
    out->blocks_received = metrics_load(&m->blocks_received);
    out->blocks_appended = metrics_load(&m->blocks_appended);
    out->blocks_ignored = metrics_load(&m->blocks_ignored);
    out->bytes_served = metrics_load(&m->bytes_served);
    for (size_t i = 0; i < sizeof(m->responses) / sizeof(m->responses[0]); i++)
        out->responses[i] = metrics_load(&m->responses[i]);
}

/* The # HELP and # TYPE lines of one metric. */
static void metrics_head(struct buf *out, const char *name, const char *type, const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One metric with a single sample. */
static void metrics_one(struct buf *out, const char *name, const char *type, const char *help,
                        uint64_t value)
{
    metrics_head(out, name, type, help);
    buf_printf(out, "%s %" PRIu64 "\n", name, value);
}

void metrics_write(const struct metrics_snapshot *s, struct buf *out)
{
    const struct metrics *h = &s->http;
    metrics_one(out, "chainlab_appends_total", "counter",
                "Appends acknowledged by POST /append (blocks made by this node).", h->appends);
    metrics_one(out, "chainlab_blocks_received_total", "counter",
                "Valid blocks received by POST /block.", h->blocks_received);
    metrics_one(out, "chainlab_blocks_appended_total", "counter",
                "Blocks received by POST /block and appended to the chain.", h->blocks_appended);
    metrics_one(out, "chainlab_blocks_ignored_total", "counter",
                "Blocks received by POST /block and ignored (not above the tip).",
                h->blocks_ignored);
    metrics_one(out, "chainlab_posts_sent_total", "counter", "POST /block to a peer answered 2xx.",
                s->posts_sent);
    metrics_one(out, "chainlab_posts_failed_total", "counter",
                "POST /block to a peer that failed or was answered other than 2xx.",
                s->posts_failed);
    metrics_one(out, "chainlab_posts_dropped_total", "counter",
                "Blocks dropped from a full per-peer queue before being posted.", s->posts_dropped);
    metrics_one(out, "chainlab_syncs_total", "counter", "Syncs run to completion.", s->syncs);
    metrics_one(out, "chainlab_sync_replacements_total", "counter",
                "Syncs that replaced the chain.", s->sync_replacements);
    metrics_one(out, "chainlab_bytes_served_total", "counter",
                "Bytes of HTTP answer bodies sent by the node.", h->bytes_served);
    metrics_head(out, "chainlab_http_responses_total", "counter",
                 "HTTP answers sent by the node, by status code.");
    for (size_t i = 0; i < sizeof(h->responses) / sizeof(h->responses[0]); i++) {
        if (h->responses[i] > 0)
            buf_printf(out, "chainlab_http_responses_total{code=\"%zu\"} %" PRIu64 "\n",
                       i + METRICS_MIN_CODE, h->responses[i]);
    }
    metrics_one(out, "chainlab_height", "gauge", "Index of the tip block.", s->height);
    metrics_one(out, "chainlab_peers", "gauge", "Peers held.", s->peers);
    metrics_one(out, "chainlab_queue_depth", "gauge",
                "Blocks waiting in the per-peer queues to be posted.", s->queue_depth);
}
