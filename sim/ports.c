/* ports: finding a range of free sequential TCP ports on 127.0.0.1. */
#include "ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

bool ports_free(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* No SO_REUSEADDR: a port in TIME_WAIT would still fail the node's own bind on some stacks. */
    bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

int ports_find_range(unsigned n, uint16_t base, bool fixed, uint16_t *first, char *err,
                     size_t errsz)
{
    const unsigned span = PORTS_HIGH - PORTS_LOW + 1;
    if (n == 0 || n > span) {
        snprintf(err, errsz, "cannot place %u nodes on ports %d-%d", n, PORTS_LOW, PORTS_HIGH);
        return -1;
    }
    if (fixed) {
        if ((unsigned)base + n - 1 > 65535) {
            snprintf(err, errsz, "--base-port %u leaves no room for %u nodes", base, n);
            return -1;
        }
        for (unsigned i = 0; i < n; i++) {
            if (!ports_free((uint16_t)(base + i))) {
                snprintf(err, errsz, "port %u (for n%u) is in use; pick another --base-port",
                         base + i, i);
                return -1;
            }
        }
        *first = base;
        return 0;
    }
    unsigned start = base >= PORTS_LOW && base <= PORTS_HIGH ? base : PORTS_LOW;
    for (unsigned tried = 0; tried < span;) {
        unsigned p = PORTS_LOW + (start - PORTS_LOW + tried) % span;
        if (p + n - 1 > PORTS_HIGH) {
            tried += PORTS_HIGH - p + 1; /* wrap to the bottom */
            continue;
        }
        unsigned ok = 0;
        while (ok < n && ports_free((uint16_t)(p + ok)))
            ok++;
        if (ok == n) {
            *first = (uint16_t)p;
            return 0;
        }
        tried += ok + 1;
    }
    snprintf(err, errsz, "no %u free sequential ports between %d and %d", n, PORTS_LOW, PORTS_HIGH);
    return -1;
}
