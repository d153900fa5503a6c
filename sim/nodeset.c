/* nodeset: a bitset of cluster nodes, with the text form scenarios use. */
#include "nodeset.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "log.h"

#define NODESET_QUOTE_MAX 40 /* bytes of user text echoed in an error message */
#define NODESET_QUOTE_SZ  (NODESET_QUOTE_MAX * 4 + 8) /* buffer for one escaped echo */

enum name_result {
    NAME_OK = 0,
    NAME_BAD = -1,     /* not of the form nDIGITS */
    NAME_ZEROS = -2,   /* leading zero, e.g. n01 */
    NAME_TOO_BIG = -3, /* more digits than any node number can have */
};

void nodeset_clear(struct nodeset *s)
{
    memset(s, 0, sizeof(*s));
}

void nodeset_fill(struct nodeset *s, unsigned n)
{
    nodeset_clear(s);
    if (n > SIM_MAX_NODES)
        n = SIM_MAX_NODES;
    for (unsigned i = 0; i < n; i++)
        nodeset_add(s, i);
}

void nodeset_add(struct nodeset *s, unsigned i)
{
    if (i < SIM_MAX_NODES)
        s->bits[i / 64] |= (uint64_t)1 << (i % 64);
}

void nodeset_remove(struct nodeset *s, unsigned i)
{
    if (i < SIM_MAX_NODES)
        s->bits[i / 64] &= ~((uint64_t)1 << (i % 64));
}

bool nodeset_has(const struct nodeset *s, unsigned i)
{
    if (i >= SIM_MAX_NODES)
        return false;
    return (s->bits[i / 64] >> (i % 64)) & 1;
}

unsigned nodeset_count(const struct nodeset *s)
{
    unsigned n = 0;
    for (size_t w = 0; w < NODESET_WORDS; w++)
        n += (unsigned)__builtin_popcountll(s->bits[w]);
    return n;
}

int nodeset_next(const struct nodeset *s, int prev)
{
    unsigned i = prev < 0 ? 0 : (unsigned)prev + 1;
    while (i < SIM_MAX_NODES) {
        uint64_t word = s->bits[i / 64] >> (i % 64);
        if (word != 0)
            return (int)(i + (unsigned)__builtin_ctzll(word));
        i = (i / 64 + 1) * 64;
    }
    return -1;
}

void nodeset_union(struct nodeset *dst, const struct nodeset *src)
{
    for (size_t w = 0; w < NODESET_WORDS; w++)
        dst->bits[w] |= src->bits[w];
}

void nodeset_subtract(struct nodeset *dst, const struct nodeset *src)
{
    for (size_t w = 0; w < NODESET_WORDS; w++)
        dst->bits[w] &= ~src->bits[w];
}

bool nodeset_intersects(const struct nodeset *a, const struct nodeset *b)
{
    for (size_t w = 0; w < NODESET_WORDS; w++) {
        if (a->bits[w] & b->bits[w])
            return true;
    }
    return false;
}

void nodeset_resolve(const struct nodeset *s, const struct nodeset *running, struct nodeset *out)
{
    if (s->all)
        *out = *running;
    else
        *out = *s;
    out->all = false;
}

/* Write "message 'text'" style errors: printf into err, safely. */
/* Escape user text for an error message into out. */
static const char *quote(const char *s, size_t len, char *out, size_t outsz)
{
    return log_escape(s, len, NODESET_QUOTE_MAX, out, outsz);
}

/* Parse "nDIGITS" covering all of s[0..len). *out is the number even for NAME_ZEROS. */
static enum name_result parse_name(const char *s, size_t len, unsigned *out)
{
    size_t first = 1;
    unsigned v = 0;

    if (len < 2 || s[0] != 'n')
        return NAME_BAD;
    for (size_t i = 1; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return NAME_BAD;
    }
    while (first + 1 < len && s[first] == '0')
        first++;
    if (len - first > 9)
        return NAME_TOO_BIG;
    for (size_t i = first; i < len; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    *out = v;
    return first > 1 ? NAME_ZEROS : NAME_OK;
}

static void describe_nodes(unsigned n_nodes, char *out, size_t outsz)
{
    if (n_nodes == 0)
        snprintf(out, outsz, "the scenario declares no nodes");
    else if (n_nodes == 1)
        snprintf(out, outsz, "the scenario has 1 node: n0");
    else
        snprintf(out, outsz, "the scenario has %u nodes: n0..n%u", n_nodes, n_nodes - 1);
}

/* Parse one node name s[0..len) and check it against n_nodes; sets err on failure. */
static int parse_known_name(const char *s, size_t len, unsigned n_nodes, unsigned *out, char *err,
                            size_t errsz)
{
    char q[NODESET_QUOTE_SZ];
    char have[64];
    enum name_result r = parse_name(s, len, out);

    quote(s, len, q, sizeof(q));
    describe_nodes(n_nodes, have, sizeof(have));
    switch (r) {
    case NAME_OK:
        if (*out < n_nodes)
            return 0;
        err_set(err, errsz, "unknown node '%s' (%s)", q, have);
        return -1;
    case NAME_TOO_BIG:
        err_set(err, errsz, "unknown node '%s' (%s)", q, have);
        return -1;
    case NAME_ZEROS:
        err_set(err, errsz, "bad node name '%s': no leading zeros, write 'n%u'", q, *out);
        return -1;
    case NAME_BAD:
        break;
    }
    err_set(err, errsz,
            "bad node set '%s': expected a node like n3, a range like n2-n5, a comma list of "
            "those, or all",
            q);
    return -1;
}

/* Parse one list element: "nA" or "nA-nB", s[0..len). */
static int parse_element(const char *s, size_t len, unsigned n_nodes, struct nodeset *out,
                         size_t *err_off, char *err, size_t errsz)
{
    const char *dash = memchr(s, '-', len);
    char q[NODESET_QUOTE_SZ];
    size_t lo_len;
    unsigned lo, hi;

    if (len == 3 && memcmp(s, "all", 3) == 0) {
        *err_off = 0;
        err_set(err, errsz, "'all' cannot be part of a node list");
        return -1;
    }
    if (dash == NULL) {
        *err_off = 0;
        if (parse_known_name(s, len, n_nodes, &lo, err, errsz) < 0)
            return -1;
        nodeset_add(out, lo);
        return 0;
    }
    lo_len = (size_t)(dash - s);
    *err_off = 0;
    if (lo_len == 0 || lo_len + 1 == len) {
        err_set(err, errsz, "incomplete range '%s': expected a range like n2-n5",
                quote(s, len, q, sizeof(q)));
        return -1;
    }
    if (parse_known_name(s, lo_len, n_nodes, &lo, err, errsz) < 0)
        return -1;
    *err_off = lo_len + 1;
    if (parse_known_name(dash + 1, len - lo_len - 1, n_nodes, &hi, err, errsz) < 0)
        return -1;
    if (hi < lo) {
        *err_off = 0;
        err_set(err, errsz, "reversed range '%s': write 'n%u-n%u'", quote(s, len, q, sizeof(q)), hi,
                lo);
        return -1;
    }
    for (unsigned i = lo; i <= hi; i++)
        nodeset_add(out, i);
    return 0;
}

int nodeset_parse(const char *text, size_t len, unsigned n_nodes, struct nodeset *out,
                  size_t *err_off, char *err, size_t errsz)
{
    size_t off = 0;
    size_t pos = 0;
    int rc = -1;

    nodeset_clear(out);
    if (len == 3 && memcmp(text, "all", 3) == 0) {
        out->all = true;
        rc = 0;
        goto out;
    }
    if (len == 0) {
        err_set(err, errsz, "expected a node set (n3, n2-n5, n0,n3-n5 or all)");
        goto out;
    }
    for (;;) {
        const char *comma = memchr(text + pos, ',', len - pos);
        size_t elen = comma ? (size_t)(comma - (text + pos)) : len - pos;
        size_t eoff = 0;
        if (elen == 0) {
            off = pos;
            err_set(err, errsz, "empty element in node list: expected a node like n3 %s",
                    pos == 0 ? "before ','" : "after ','");
            goto out;
        }
        if (parse_element(text + pos, elen, n_nodes, out, &eoff, err, errsz) < 0) {
            off = pos + eoff;
            goto out;
        }
        if (comma == NULL)
            break;
        pos += elen + 1;
    }
    rc = 0;
out:
    if (rc < 0) {
        nodeset_clear(out);
        if (err_off != NULL)
            *err_off = off;
    }
    return rc;
}

int nodeset_parse_node(const char *text, size_t len, unsigned n_nodes, unsigned *out, char *err,
                       size_t errsz)
{
    if ((len == 3 && memcmp(text, "all", 3) == 0) || memchr(text, ',', len) != NULL ||
        memchr(text, '-', len) != NULL) {
        char q[NODESET_QUOTE_SZ];
        err_set(err, errsz, "expected a single node like n3, got '%s'",
                quote(text, len, q, sizeof(q)));
        return -1;
    }
    return parse_known_name(text, len, n_nodes, out, err, errsz);
}

void nodeset_format(const struct nodeset *s, struct buf *out)
{
    bool first = true;
    int i;

    if (s->all) {
        buf_append_str(out, "all");
        return;
    }
    i = nodeset_next(s, -1);
    while (i >= 0) {
        int end = i;
        while (end + 1 < SIM_MAX_NODES && nodeset_has(s, (unsigned)end + 1))
            end++;
        buf_printf(out, first ? "n%d" : ",n%d", i);
        if (end > i)
            buf_printf(out, "-n%d", end);
        first = false;
        i = nodeset_next(s, end);
    }
}
