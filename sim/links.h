/* links: the sim's link layer as the runner sees it: every directed link A -> B of a run, relayed
 * by one or more relay processes (shards).
 *
 * Design: a process can hold only so many descriptors (RLIMIT_NOFILE's hard limit, which root
 * cannot raise here), and a relayed connection takes two. The links are therefore split by target
 * node over as many relay processes as the descriptors need (links_plan_shards), each running a
 * relay (relay.h) in its own process, started from this program's own binary
 * (`/proc/self/exe --relay FD`, see links_relay_main). The runner's calls become messages on a
 * SOCK_SEQPACKET socket to the shard of the link's target, answered once the relay has applied
 * them, so a call still takes effect before it returns. Partitions are sent as sides, one message
 * per shard, whatever the number of links. A shard that dies takes its links down: calls on them
 * fail, and links_free() reaps it.
 *
 * Threads: calls to the relays are serialized, so links_stats() and links_link_stats() may run on
 * another thread (the sampler's) while the runner adds and faults links. Everything else belongs
 * to the runner's thread. */
#ifndef CHAINLAB_LINKS_H
#define CHAINLAB_LINKS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "relay.h"

#define LINKS_FD_RESERVE   128 /* descriptors a relay keeps for itself (epoll, logs, slack) */
#define LINKS_FDS_PER_LINK 4   /* planned per link: two connections at once, two sockets each */
#define LINKS_MAX_SHARDS   256 /* most relay processes one run may start */

enum links_layout {
    LINKS_PER_EDGE,   /* every link has its own listener on 127.0.0.1 */
    LINKS_PER_TARGET, /* every node has one listener on its public address; sources by address */
};

struct links_spec {
    enum links_layout layout;
    unsigned nodes;
    size_t expected_links; /* directed links the run will add: sizes the descriptor plan */
    uint64_t seed;         /* seeds every link's loss and jitter draws */
    /* node_addr[i]: node i's own address and port (where it listens; per target, also the
     * address it opens its connections from). public_addr[i] (per target): where the link layer
     * listens for node i. Both copied. */
    const struct sockaddr_in *node_addr;
    const struct sockaddr_in *public_addr;
    const char *log_path; /* where the relays' log lines go (appended) */
    unsigned shards;      /* 0: as many as the descriptors need (links_plan_shards) */
};

struct links;

/* The number of relay processes spec needs: its descriptors (listeners, LINKS_FDS_PER_LINK per
 * link, LINKS_FD_RESERVE) over what one process may open (RLIMIT_NOFILE's hard limit). Returns
 * it, or 0 with err saying what limit is short and what to change when even LINKS_MAX_SHARDS
 * would not do. */
unsigned links_plan_shards(const struct links_spec *spec, char *err, size_t errsz);
/* Start the relay processes for spec (their listeners open, forwarding from now on). Returns 0
 * and *out (caller frees with links_free()), or -1 with err (nothing left running). */
int links_new(const struct links_spec *spec, struct links **out, char *err, size_t errsz);
/* Stop every relay process (connections are cut) and free ls. NULL is a no-op. */
void links_free(struct links *ls);
/* Number of relay processes. */
unsigned links_shards(const struct links *ls);
/* Process id of relay process s (s < links_shards()). */
pid_t links_shard_pid(const struct links *ls, unsigned s);

/* Add link from -> to. Returns 0, or -1 with err (it exists, a node is out of range, a socket
 * failed, or its relay is gone). */
int links_add(struct links *ls, unsigned from, unsigned to, char *err, size_t errsz);
/* True when link from -> to was added. */
bool links_has(const struct links *ls, unsigned from, unsigned to);
/* The address from's peer list holds for to: the link's own listener (per edge) or to's public
 * address (per target). Returns 0, or -1 when there is no such link (per edge). */
int links_peer_addr(const struct links *ls, unsigned from, unsigned to, struct sockaddr_in *out);

/* The relay.h controls, on the link's relay (or every relay for sides and heal). Each returns 0,
 * or -1 when there is no such link, a value is out of range or the relay is gone. */
int links_set_cut(struct links *ls, unsigned from, unsigned to, bool cut);
/* side[i] and bridge[i] (may be NULL) for every node; side NULL removes the sides. */
int links_set_sides(struct links *ls, const int32_t *side, const uint8_t *bridge);
int links_heal(struct links *ls);
int links_set_latency(struct links *ls, unsigned from, unsigned to, int64_t delay_ms,
                      int64_t jitter_ms);
int links_set_loss(struct links *ls, unsigned from, unsigned to, uint32_t per_million);
int links_set_bandwidth(struct links *ls, unsigned from, unsigned to, uint64_t bytes_per_s);
int links_set_reset(struct links *ls, unsigned from, unsigned to, bool reset);
int links_clear_faults(struct links *ls, unsigned from, unsigned to);

/* Sum of every link's counters (links made by the relays for learned peers included). */
void links_stats(struct links *ls, struct link_stats *total);
/* Counters of link from -> to. Returns 0, or -1 when there is none (*out zeroed). */
int links_link_stats(struct links *ls, unsigned from, unsigned to, struct link_stats *out);
/* Number of links added by links_add(). */
size_t links_count(const struct links *ls);

/* The relay process: serve the messages of links.c on fd until it closes. For the main() of
 * every program that uses links (the sim and its tests), when started as `PROG --relay FD`.
 * Returns the exit status. */
int links_relay_main(int fd);

#endif
