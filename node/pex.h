/* pex: peer exchange (--peer-exchange): learn the peers of a peer, and announce this node.
 *
 * One exchange with peer Q: GET Q/peers (at most PEX_MAX_BYTES read); the answer must be a JSON
 * array. When this node's advertised URL is not in it, POST /peers with that URL is sent to Q.
 * Each string in it is offered to the peer set exactly as a POST /peers body is
 * (peers_add(): the same validation, the same --max-peers, this node itself refused); each one
 * added is announced to in turn (POST /peers with the advertised URL). At most PEX_MAX_NEW peers
 * are added per exchange. So one exchange costs one GET and at most 1 + PEX_MAX_NEW POSTs, and
 * a new exchange starts only once every request of the previous one has ended.
 *
 * Every function runs on the gossip worker thread. */
#ifndef CHAINLAB_PEX_H
#define CHAINLAB_PEX_H

#include <curl/curl.h>
#include <stdbool.h>

#include "config.h"
#include "peers.h"

#define PEX_MAX_NEW   8         /* peers added from one answer at most */
#define PEX_MAX_BYTES (1 << 20) /* bytes of a peer's GET /peers read */

struct pex;

/* Exchanges over multi (borrowed) into peer set p (borrowed); cfg is copied; advertise (copied)
 * is this node's public URL, as announced. Caller frees with pex_free(). */
struct pex *pex_new(CURLM *multi, struct peers *p, const struct config *cfg, const char *advertise);
/* Start an exchange with peer url (borrowed), unless one still runs. Returns true when started. */
bool pex_exchange(struct pex *x, const char *url);
/* Whether a request of an exchange still runs. */
bool pex_running(struct pex *x);
/* Abort every request. */
void pex_stop(struct pex *x);
/* Stop and free. NULL is a no-op. */
void pex_free(struct pex *x);

#endif
