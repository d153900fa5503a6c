/* ports: finding and holding a range of free sequential TCP ports on 127.0.0.1. */
#include "ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* A socket bound to port with SO_REUSEADDR, listening when listen_too; -1 when the port is
 * taken. */
static int bind_port(uint16_t port, bool listen_too)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || (listen_too && listen(fd, 1) < 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

bool ports_free(uint16_t port)
{
    int fd = bind_port(port, false);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

void ports_release(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void ports_search_range(uint16_t *low, uint16_t *high)
{
    unsigned eph_low = 0, eph_high = 0;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%u %u", &eph_low, &eph_high) != 2)
            eph_low = 0;
        fclose(f);
    }
    *low = PORTS_LOW;
    *high = eph_low > PORTS_LOW + 1000 ? (uint16_t)(eph_low - 1) : PORTS_HIGH;
}

/* Hold [p, p+n) or nothing. */
static bool hold_range(unsigned p, unsigned n, int *fds)
{
    for (unsigned i = 0; i < n; i++) {
        fds[i] = bind_port((uint16_t)(p + i), true);
        if (fds[i] < 0) {
            for (unsigned k = 0; k < i; k++)
                ports_release(&fds[k]);
            return false;
        }
    }
    return true;
}

int ports_reserve(unsigned n, uint16_t base, bool fixed, uint16_t *first, int *fds, char *err,
                  size_t errsz)
{
    uint16_t low, high;
    ports_search_range(&low, &high);
    if (fixed) {
        if (n == 0 || (unsigned)base + n - 1 > 65535) {
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
        if (!hold_range(base, n, fds)) {
            snprintf(err, errsz, "ports %u-%u were taken meanwhile", base, base + n - 1);
            return -1;
        }
        *first = base;
        return 0;
    }
    const unsigned span = (unsigned)high - low + 1;
    if (n == 0 || n > span) {
        snprintf(err, errsz, "cannot place %u nodes on ports %u-%u", n, low, high);
        return -1;
    }
    unsigned start = base >= low && base <= high ? base : low;
    for (unsigned tried = 0; tried < span;) {
        unsigned p = low + (start - low + tried) % span;
        if (p + n - 1 > high) {
            tried += high - p + 1; /* wrap to the bottom */
            continue;
        }
        unsigned ok = 0;
        while (ok < n && ports_free((uint16_t)(p + ok)))
            ok++;
        if (ok == n && hold_range(p, n, fds)) {
            *first = (uint16_t)p;
            return 0;
        }
        tried += ok + 1;
    }
    snprintf(err, errsz, "no %u free sequential ports between %u and %u", n, low, high);
    return -1;
}
