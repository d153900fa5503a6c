/* relay: one process's TCP forwarder for a set of links of the sim's link layer (see links.h).
 *
 * A link is one direction A -> B of an edge. It is reached in one of two ways:
 * - per edge: the link has its own listening socket (127.0.0.1, ephemeral port; relay_add), and
 *   A's peer list holds that address;
 * - per target: node B has one listening socket on its public address (relay_add_target), and a
 *   connection accepted there belongs to the link from the node whose address it comes from
 *   (relay_set_sources: every node opens its connections from its own loopback address). A link
 *   is made on the first connection when the topology had none (relay_add_link makes them up
 *   front), so a peer a node learned by itself still goes through the link layer.
 * A link is stalled when it is cut (relay_set_cut) or when the partition's sides keep its nodes
 * apart (relay_set_sides); both apply to links made later too. */
#ifndef CHAINLAB_RELAY_H
#define CHAINLAB_RELAY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_PIPE_BYTES   65536 /* buffer per connection and direction; reading stops when full */
#define RELAY_BACKLOG      4096  /* listen() backlog of each listening socket */
#define RELAY_ACCEPT_BURST 64    /* connections accepted per listener per loop turn, for fairness */

struct relay; /* opaque; the set of links and the thread that forwards their bytes */

/* Counters of one link or of all of them. A connection is one TCP connection that node A opened to
 * the link; HTTP keep-alive puts several requests on one connection, so these count connections,
 * never requests. Bytes are counted when written to the receiving socket. */
struct link_stats {
    uint64_t accepted;        /* connections accepted from the source node A */
    uint64_t messages;        /* accepted connections that delivered at least one byte to B */
    uint64_t bytes_to_target; /* bytes forwarded A -> B */
    uint64_t bytes_to_source; /* bytes forwarded B -> A (answers) */
    uint64_t connect_errors;  /* connections reset because B refused or failed the connect */
    uint64_t dropped;         /* connections closed while held because A closed or reset them */
    uint64_t open;            /* connections open now (a gauge, not a counter) */
    uint64_t lost;            /* connections chosen by the loss fault (held until A gives up) */
    uint64_t reset;           /* connections reset by the reset fault */
    uint64_t bytes_delayed;   /* bytes (either direction) that waited for the latency fault */
    uint64_t throttled;       /* writes cut short by the bandwidth fault */
    uint64_t refused;         /* (totals only) connections from an address that is no node's */
};

/* New empty link set, not started. Caller frees with relay_free(). Aborts on out of memory. */
struct relay *relay_new(void);
/* Stop the forwarding thread, close every socket and free ls. Open connections are closed
 * abruptly. relay_free(NULL) is a no-op. Call from the thread that owns ls. */
void relay_free(struct relay *ls);

/* Add link from -> to (node numbers >= 0) forwarding to 127.0.0.1:target_port, listening on a new
 * ephemeral port of 127.0.0.1 written to *listen_port (per edge). Before or after relay_start().
 * Returns 0, or -1 with err when the link exists, an argument is out of range, or the socket
 * fails. */
int relay_add(struct relay *ls, int from, int to, uint16_t target_port, uint16_t *listen_port,
              char *err, size_t errsz);
/* Listen on *listen (port 0: an ephemeral one, written back) for node to, forwarding to forward
 * (per target). Returns 0, or -1 with err when to has a listener already or the socket fails. */
int relay_add_target(struct relay *ls, int to, struct sockaddr_in *listen,
                     const struct sockaddr_in *forward, char *err, size_t errsz);
/* Add link from -> to on to's listener (relay_add_target first). Returns 0, or -1 with err when
 * it exists, an argument is out of range, or to has no listener. */
int relay_add_link(struct relay *ls, int from, int to, char *err, size_t errsz);
/* Node i opens its connections from addr[i] (0.0.0.0: unknown), for i < n; replaces what was set
 * before. A connection to a target's listener from any other address is reset and counted as
 * refused. Thread-safe. */
void relay_set_sources(struct relay *ls, const struct in_addr *addr, unsigned n);
/* Start the forwarding thread (one epoll loop; it blocks every signal). Links added before are
 * served from now on; connections made earlier wait in the listen backlog. Returns 0, or -1 with
 * err when already started or epoll, eventfd or the thread cannot be created. */
int relay_start(struct relay *ls, char *err, size_t errsz);

/* Listening port of link from -> to when it has its own (per edge), or -1. Thread-safe. */
int relay_listen_port(struct relay *ls, int from, int to);
/* Cut or release link from -> to. A stalled link (cut, or apart by the sides) accepts new
 * connections but neither connects them to B nor reads or writes any of its connections, in
 * either direction: bytes are held, not lost, so the nodes' own timeouts fire as in a real
 * partition. While held, a connection whose source sends FIN (a half-close looks the same),
 * resets or errors is closed at once and counted as dropped: A gave up on it. Releasing delivers
 * everything held and connects waiting connections. Takes effect before the call returns: the
 * link reads and writes no byte after it. Returns 0, or -1 when there is no such link.
 * Thread-safe. */
int relay_set_cut(struct relay *ls, int from, int to, bool cut);
/* The partition's sides: node i is on side[i] for i < n, and a link between nodes on different
 * sides is stalled unless one of them is a bridge (bridge[i] non-zero; bridge may be NULL).
 * side NULL removes the sides. Applies to every link, present and future. Thread-safe. */
void relay_set_sides(struct relay *ls, const int32_t *side, const uint8_t *bridge, size_t n);
/* True when link from -> to is stalled (false when there is no such link). Thread-safe. */
bool relay_blocked(struct relay *ls, int from, int to);
/* Release every link: no cut, no sides. Thread-safe. */
void relay_heal(struct relay *ls);

/* Link faults (one link is one direction A -> B of an edge; a fault applies to the connections A
 * opens to that link, to the bytes of both directions of each connection). Thread-safe; each
 * takes effect for every byte read after the call returns. Each returns 0, or -1 when there is no
 * such link or a value is out of range; the link is then unchanged. */

/* Delay every chunk read on the link by delay_ms plus a uniform draw in [-jitter_ms, +jitter_ms]
 * (never below 0), in each direction, keeping order: a chunk is never written before an earlier
 * one, nor a FIN before the bytes it follows. Both in [0, 3600000] (FAULT_DELAY_MAX_MS); 0, 0
 * removes it. Delayed bytes wait in the connection's buffer, so one connection carries at most
 * RELAY_PIPE_BYTES per delay in each direction, like a TCP window. */
int relay_set_latency(struct relay *ls, int from, int to, int64_t delay_ms, int64_t jitter_ms);
/* Lose per_million / 1000000 (<= 1000000) of the link's connections: each open one is drawn now,
 * each new one when accepted. A lost connection is held like one of a blocked link (nothing more
 * is connected, read or written) until A closes it, even after the fault is cleared. Draws come
 * from the link's seeded PRNG (relay_set_seed). */
int relay_set_loss(struct relay *ls, int from, int to, uint32_t per_million);
/* Limit each direction of the link (all its connections together) to bytes_per_s with a token
 * bucket of max(rate / 10, 1500) bytes, full now; 0 removes the limit. */
int relay_set_bandwidth(struct relay *ls, int from, int to, uint64_t bytes_per_s);
/* Set or remove the standing reset fault: while set, every connection of the link is reset
 * (SO_LINGER 0 close on both sides; no byte moves after the call returns, the closes follow within
 * a loop turn) and every new connection is reset as soon as it is accepted. */
int relay_set_reset(struct relay *ls, int from, int to, bool reset);
/* Remove latency, loss, bandwidth and reset from the link (cuts and sides stay: relay_heal owns
 * them). Bytes already delayed are still released at their time, in order. */
int relay_clear_faults(struct relay *ls, int from, int to);
/* Seed the loss and jitter PRNGs of every link, present and future, from seed and the link's
 * (from, to): the same seed gives every link the same sequence of draws. Default seed 0.
 * Thread-safe. */
void relay_set_seed(struct relay *ls, uint64_t seed);

/* Add the counters of s to *sum (the gauge `open` too). */
void link_stats_add(struct link_stats *sum, const struct link_stats *s);
/* Sum of the counters of every link into *total. Thread-safe. */
void relay_stats(struct relay *ls, struct link_stats *total);
/* Counters of link from -> to into *out. Returns 0, or -1 when there is no such link (*out is
 * zeroed). Thread-safe. */
int relay_link_stats(struct relay *ls, int from, int to, struct link_stats *out);
/* Number of links. Thread-safe. */
size_t relay_count(struct relay *ls);

#endif
