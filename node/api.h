/* api: the node's HTTP endpoints (DESIGN.md, "Endpoints") served by libmicrohttpd. */
#ifndef CHAINLAB_API_H
#define CHAINLAB_API_H

#include <stddef.h>

#include "chain.h"
#include "config.h"
#include "gossip.h"
#include "peers.h"

struct api;

/* An API over borrowed chain, peers and gossip (they must outlive it). cfg is copied; its id and
 * host strings are borrowed. Caller frees with api_free(). */
struct api *api_new(const struct config *cfg, struct chain *c, struct peers *p, struct gossip *g);
/* Serve on listen_fd, a bound and listening socket (owned by the api from now on). Returns 0, or
 * -1 with err set. */
int api_start(struct api *a, int listen_fd, char *err, size_t errsz);
/* Stop serving and free. Call after gossip_stop() so no connection is still suspended in a
 * sync wait. NULL is a no-op. */
void api_free(struct api *a);

#endif
