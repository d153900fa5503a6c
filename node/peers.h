/* peers: the node's set of peer base URLs, validated and bounded, safe to share between threads. */
#ifndef CHAINLAB_PEERS_H
#define CHAINLAB_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

struct peers;

enum peers_result {
    PEERS_OK = 0,       /* added or removed */
    PEERS_EXISTS = 1,   /* add of a URL already held: nothing changed */
    PEERS_INVALID = -1, /* not an acceptable peer URL (err says why) */
    PEERS_FULL = -2,    /* max_peers reached */
    PEERS_UNKNOWN = -3, /* remove of a URL not held */
    PEERS_FAILED = -4,  /* the store could not save the change (err says why): nothing changed */
};

/* A peer set for a node listening on self_host:self_port. Caller frees with peers_free(). */
struct peers *peers_new(size_t max_peers, size_t max_url, const char *self_host,
                        uint16_t self_port);
void peers_free(struct peers *p);
/* From now on every add and remove is committed to s (borrowed; it must outlive p) before it
 * takes effect. Peers held before are not written: load them from s first. */
void peers_set_store(struct peers *p, struct store *s);

/* Set this node's public URL (--advertise; text, len bytes, normalised as below but for the
 * check against this node, into out of outsz bytes): from now on it counts as this node itself
 * and is never added. Returns PEERS_OK, or PEERS_INVALID with err set. Call before sharing p. */
int peers_set_advertise(struct peers *p, const char *text, size_t len, char *out, size_t outsz,
                        char *err, size_t errsz);
/* Normalise text (len bytes: surrounding white space dropped, trailing '/' dropped) into out
 * (size outsz) and check it: http or https only, a host, an optional port and path, no user,
 * query or fragment, at most max_url bytes, not this node itself (its listen address on a local
 * host, or its advertised URL). Returns PEERS_OK or PEERS_INVALID with err set. */
int peers_normalize(const struct peers *p, const char *text, size_t len, char *out, size_t outsz,
                    char *err, size_t errsz);
/* Add a URL (normalised as above). Returns PEERS_OK, PEERS_EXISTS, PEERS_INVALID, PEERS_FULL or
 * PEERS_FAILED; err is set on failure. */
int peers_add(struct peers *p, const char *text, size_t len, char *err, size_t errsz);
/* Remove a URL. Returns PEERS_OK, PEERS_UNKNOWN, PEERS_INVALID or PEERS_FAILED; err is set on
 * failure. */
int peers_remove(struct peers *p, const char *text, size_t len, char *err, size_t errsz);
/* Number of peers held. */
size_t peers_count(struct peers *p);
/* Append the peers as a JSON array of strings, in the order they were added. */
void peers_write_json(struct peers *p, struct buf *out);
/* Copy the URLs (a NULL-terminated array; caller frees with peers_list_free()) and return the
 * generation, which changes on every add or remove. */
char **peers_list(struct peers *p, uint64_t *generation);
/* The current generation, cheaply. */
uint64_t peers_generation(struct peers *p);
void peers_list_free(char **list);

#endif
