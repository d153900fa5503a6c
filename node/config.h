/* config: the node's settings, every network-facing limit named, with safe defaults. */
#ifndef CHAINLAB_CONFIG_H
#define CHAINLAB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "forkchoice.h"
#include "store.h"

#define CONFIG_MAX_BODY        (16 * 1024 * 1024)  /* bytes in one request body (a block's JSON) */
#define CONFIG_MAX_PEERS       64                  /* peers a node keeps */
#define CONFIG_MAX_URL         512                 /* bytes in one peer URL */
#define CONFIG_MAX_CHAIN_BYTES (256 * 1024 * 1024) /* bytes of GET /blocks read from one peer */
#define CONFIG_CONNECT_MS      1000                /* connect timeout per peer request */
#define CONFIG_TIMEOUT_MS      5000                /* total timeout per peer request */
#define CONFIG_MAX_CONNECTIONS 4096                /* concurrent inbound connections */
#define CONFIG_MAX_PER_IP      0           /* inbound connections per address; 0: no limit */
#define CONFIG_CONN_MEMORY     (32 * 1024) /* bytes for one connection's request headers */
#define CONFIG_IDLE_TIMEOUT_S  30          /* an idle inbound connection is closed */
#define CONFIG_QUEUE           1024        /* blocks queued per peer before the oldest drop */
#define CONFIG_BROADCAST_WAIT  1000        /* ms an answer waits for its broadcast */
#define CONFIG_SYNC_PAGE       5000        /* blocks per GET /blocks page in a sync */
#define CONFIG_PEX_INTERVAL    2000        /* ms between peer exchanges (--peer-exchange) */

struct config {
    const char *host;         /* address to listen on (borrowed) */
    uint16_t port;            /* port to listen on */
    const char *id;           /* log prefix (borrowed) */
    unsigned threads;         /* HTTP worker threads */
    size_t max_body;          /* CONFIG_MAX_BODY */
    size_t max_peers;         /* CONFIG_MAX_PEERS */
    size_t max_url;           /* CONFIG_MAX_URL */
    size_t max_chain_bytes;   /* CONFIG_MAX_CHAIN_BYTES */
    long connect_timeout_ms;  /* CONFIG_CONNECT_MS */
    long timeout_ms;          /* CONFIG_TIMEOUT_MS */
    unsigned max_connections; /* CONFIG_MAX_CONNECTIONS */
    unsigned max_per_ip;      /* CONFIG_MAX_PER_IP */
    size_t conn_memory;       /* CONFIG_CONN_MEMORY */
    unsigned idle_timeout_s;  /* CONFIG_IDLE_TIMEOUT_S */
    size_t queue;             /* CONFIG_QUEUE */
    long broadcast_wait_ms;   /* CONFIG_BROADCAST_WAIT; 0 answers at once */
    uint64_t sync_page;       /* CONFIG_SYNC_PAGE; at least 1 */
    const char *db_path;     /* --db: the SQLite file; NULL keeps everything in memory (borrowed) */
    enum store_sync db_sync; /* --db-sync: STORE_SYNC_FULL by default */
    /* protocol variants, all off by default (README, "Protocol variants") */
    enum forkchoice fork_choice; /* --fork-choice: FORKCHOICE_LONGEST by default */
    long anti_entropy_ms;        /* --anti-entropy: 0 is off */
    bool sync_on_connect;        /* --sync-on-connect */
    bool peer_exchange;          /* --peer-exchange */
    long pex_interval_ms;        /* --peer-exchange-interval: CONFIG_PEX_INTERVAL */
    const char *advertise;       /* --advertise: this node's public URL; NULL: http://HOST:PORT */
    const char *source;          /* --source: local address of outgoing connections, or NULL */
    bool reappend_orphans;       /* --reappend-orphans */
};

/* Fill c with the defaults above (host 127.0.0.1, port 0, 2 threads, no database). */
void config_defaults(struct config *c);

#endif
