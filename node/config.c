/* config: the node's settings and their defaults. */
#include "config.h"

void config_defaults(struct config *c)
{
    *c = (struct config){
        .host = "127.0.0.1",
        .port = 0,
        .id = NULL,
        .threads = 2,
        .max_body = CONFIG_MAX_BODY,
        .max_peers = CONFIG_MAX_PEERS,
        .max_url = CONFIG_MAX_URL,
        .max_chain_bytes = CONFIG_MAX_CHAIN_BYTES,
        .connect_timeout_ms = CONFIG_CONNECT_MS,
        .timeout_ms = CONFIG_TIMEOUT_MS,
        .max_connections = CONFIG_MAX_CONNECTIONS,
        .max_per_ip = CONFIG_MAX_PER_IP,
        .conn_memory = CONFIG_CONN_MEMORY,
        .idle_timeout_s = CONFIG_IDLE_TIMEOUT_S,
        .queue = CONFIG_QUEUE,
        .broadcast_wait_ms = CONFIG_BROADCAST_WAIT,
        .sync_page = CONFIG_SYNC_PAGE,
        .db_path = NULL,
        .db_sync = STORE_SYNC_FULL,
        .fork_choice = FORKCHOICE_LONGEST,
        .anti_entropy_ms = 0,
        .sync_on_connect = false,
        .peer_exchange = false,
        .pex_interval_ms = CONFIG_PEX_INTERVAL,
        .advertise = NULL,
        .source = NULL,
        .reappend_orphans = false,
    };
}
