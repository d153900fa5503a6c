/* pex: peer exchange, one peer per exchange (see pex.h). */
#include "pex.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"
#include "xfer.h"

/* A request of an exchange: the GET /peers, or one announce. */
struct pexreq {
    struct xfer x;
    struct pex *pex;
    char *peer; /* the peer asked (owned) */
    struct pexreq *prev, *next;
};

struct pex {
    CURLM *multi;
    struct peers *peers;
    struct config cfg;
    char *advertise;
    struct pexreq *reqs; /* every request in flight */
};

struct pex *pex_new(CURLM *multi, struct peers *p, const struct config *cfg, const char *advertise)
{
    struct pex *x = xcalloc(1, sizeof(*x));
    x->multi = multi;
    x->peers = p;
    x->cfg = *cfg;
    x->advertise = xstrdup(advertise);
    return x;
}

/* A request to peer url + path, in the list of those in flight (the caller starts it). */
static struct pexreq *pexreq_new(struct pex *x, const char *url, const char *path,
                                 xfer_done_cb done)
{
    struct pexreq *r = xcalloc(1, sizeof(*r));
    r->pex = x;
    r->peer = xstrdup(url);
    xfer_init(&r->x, &x->cfg, url, path, done, r);
    r->next = x->reqs;
    if (x->reqs)
        x->reqs->prev = r;
    x->reqs = r;
    return r;
}

/* Take r off the list and free it (its transfer has ended or was aborted). */
static void pexreq_free(struct pexreq *r)
{
    struct pex *x = r->pex;
    if (r->prev)
        r->prev->next = r->next;
    else
        x->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    xfer_clear(&r->x);
    free(r->peer);
    free(r);
}

static void announce_done_cb(struct xfer *xf, CURLcode rc, long status)
{
    struct pexreq *r = xf->arg;
    char why[200];
    if (rc != CURLE_OK)
        log_debug("pex: announcing %s to %s failed: %s", r->pex->advertise, r->peer,
                  xfer_strerror(xf, rc, why, sizeof(why)));
    else
        log_debug("pex: announced %s to %s (HTTP %ld)", r->pex->advertise, r->peer, status);
    pexreq_free(r);
}

/* POST /peers with our advertised URL to peer url. */
static void pex_announce(struct pex *x, const char *url)
{
    struct pexreq *r = pexreq_new(x, url, "/peers", announce_done_cb);
    xfer_set_post(&r->x, x->advertise, strlen(x->advertise), NULL);
    xfer_start(x->multi, &r->x);
}

/* Offer the peers listed in r's answer (a JSON array) to the peer set; announce ourselves. */
static void pex_learn(struct pex *x, struct pexreq *r, const json_t *list)
{
    char err[300], esc[200];
    char *canon = xmalloc(x->cfg.max_url + 1);
    size_t added = 0;
    bool listed = false;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const char *url = json_string_value(json_array_get(list, i));
        size_t len = json_string_length(json_array_get(list, i));
        if (url && len == strlen(x->advertise) && memcmp(url, x->advertise, len) == 0)
            listed = true;
    }
    if (!listed)
        pex_announce(x, r->peer);
    for (size_t i = 0; i < json_array_size(list) && added < PEX_MAX_NEW; i++) {
        const json_t *v = json_array_get(list, i);
        if (!json_is_string(v)) {
            log_debug("pex: %s lists a peer that is not a string: left out", r->peer);
            continue;
        }
        const char *url = json_string_value(v);
        size_t len = json_string_length(v);
        int rc = peers_normalize(x->peers, url, len, canon, x->cfg.max_url + 1, err, sizeof(err));
        if (rc == PEERS_OK)
            rc = peers_add(x->peers, canon, strlen(canon), err, sizeof(err));
        if (rc == PEERS_OK) {
            log_info("pex: learnt %s from %s", canon, r->peer);
            pex_announce(x, canon);
            added++;
        } else if (rc == PEERS_FULL) {
            break;
        } else if (rc != PEERS_EXISTS) {
            log_debug("pex: %s lists %s: left out: %s", r->peer,
                      log_escape(url, len, 120, esc, sizeof(esc)), err);
        }
    }
    free(canon);
}

static void peers_done_cb(struct xfer *xf, CURLcode rc, long status)
{
    struct pexreq *r = xf->arg;
    struct pex *x = r->pex;
    char why[200];
    json_error_t jerr;
    json_t *list = NULL;
    if (xfer_too_big(xf, rc))
        log_debug("pex: GET %s/peers: more than %d bytes: ignored", r->peer, PEX_MAX_BYTES);
    else if (rc != CURLE_OK)
        log_debug("pex: GET %s/peers failed: %s", r->peer, xfer_strerror(xf, rc, why, sizeof(why)));
    else if (status != 200)
        log_debug("pex: GET %s/peers answered HTTP %ld", r->peer, status);
    else if ((list = json_loadb(xf->body.data ? xf->body.data : "", xf->body.len,
                                JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
             !json_is_array(list))
        log_debug("pex: GET %s/peers is not a JSON array: ignored", r->peer);
    else
        pex_learn(x, r, list);
    json_decref(list);
    pexreq_free(r);
}

bool pex_exchange(struct pex *x, const char *url)
{
    if (x->reqs != NULL)
        return false;
    struct pexreq *r = pexreq_new(x, url, "/peers", peers_done_cb);
    xfer_collect(&r->x, PEX_MAX_BYTES, NULL);
    xfer_start(x->multi, &r->x);
    return true;
}

bool pex_running(struct pex *x)
{
    return x->reqs != NULL;
}

void pex_stop(struct pex *x)
{
    while (x->reqs) {
        struct pexreq *r = x->reqs;
        xfer_abort(x->multi, &r->x);
        pexreq_free(r);
    }
}

void pex_free(struct pex *x)
{
    if (x == NULL)
        return;
    pex_stop(x);
    free(x->advertise);
    free(x);
}
