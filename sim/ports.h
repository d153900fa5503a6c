/* ports: finding and holding a range of free sequential TCP ports on 127.0.0.1 for a cluster.
 *
 * A port is held by a listening socket (SO_REUSEADDR, so ports in TIME_WAIT count as free) until
 * its node is about to start: another sim searching at the same time sees it as taken. */
#ifndef CHAINLAB_PORTS_H
#define CHAINLAB_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PORTS_LOW 20000 /* lowest port searched when no base is given */
#define PORTS_HIGH                                                                                 \
    60999 /* highest port ever used; the search stays below the kernel's                           \
           * ephemeral range (ip_local_port_range) when it can */

/* True when port can be bound on 127.0.0.1 right now (TIME_WAIT does not count as in use). */
bool ports_free(uint16_t port);
/* Find n free sequential ports and hold them. With fixed true, only [base, base+n) is tried;
 * otherwise the search starts at base (clamped into the searched range, wrapping) and moves on.
 * Returns 0 with *first set and fds[0..n) holding listening sockets (caller closes each with
 * ports_release() just before its node binds), or -1 with err set and nothing held. */
int ports_reserve(unsigned n, uint16_t base, bool fixed, uint16_t *first, int *fds, char *err,
                  size_t errsz);
/* Close a held port (fd from ports_reserve; -1 is a no-op) and set *fd to -1. */
void ports_release(int *fd);
/* The ports searched by default: [PORTS_LOW, the start of the ephemeral range) when that leaves
 * at least 1000 ports, else [PORTS_LOW, PORTS_HIGH]. */
void ports_search_range(uint16_t *low, uint16_t *high);

#endif
