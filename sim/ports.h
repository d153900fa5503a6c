/* ports: finding a range of free sequential TCP ports on 127.0.0.1 for a cluster. */
#ifndef CHAINLAB_PORTS_H
#define CHAINLAB_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PORTS_LOW  20000 /* lowest port searched when no base is given */
#define PORTS_HIGH 60999 /* highest port used */

/* True when port can be bound on 127.0.0.1 right now. */
bool ports_free(uint16_t port);
/* Find n free sequential ports. With fixed true, only [base, base+n) is tried; otherwise the
 * search starts at base (PORTS_LOW..PORTS_HIGH, wrapping) and moves on. Returns 0 with *first
 * set, or -1 with err set. */
int ports_find_range(unsigned n, uint16_t base, bool fixed, uint16_t *first, char *err,
                     size_t errsz);

#endif
