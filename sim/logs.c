/* logs: the merged, renamed log of a run folder. */
#include "logs.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "xalloc.h"

/* One address a log line may name: "HOST:PORT" (HOST numeric; localhost is 127.0.0.1). */
struct logs_name {
    char *addr; /* owned */
    char *name; /* owned: "n3", "n3->n7", or "->n7" for a target's listener (any source) */
};

struct logs_names {
    struct logs_name *v; /* sorted by addr once loaded */
    size_t n, cap;
    bool sorted;
};

struct line {
    double at;     /* seconds since the epoch */
    size_t source; /* index into the sources */
    size_t seq;    /* order of reading, to keep a file's order on equal times */
    char *text;    /* owned, without the newline */
};

struct lines {
    struct line *v;
    size_t n, cap;
};

static int logs_name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct logs_name *)a)->addr, ((const struct logs_name *)b)->addr);
}

struct logs_names *logs_names_load(const char *run_dir)
{
    struct logs_names *m = xcalloc(1, sizeof(*m));
    char err[256];
    char *path = xasprintf("%s/%s", run_dir, EVENTS_FILE);
    json_t *evs = events_load(path, err, sizeof(err));
    free(path);
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e)
    {
        json_t *port = json_object_get(e, "port"), *node = json_object_get(e, "node");
        const char *kind = json_string_value(json_object_get(e, "kind"));
        const char *host = json_string_value(json_object_get(e, "host"));
        if (kind && strcmp(kind, "node") == 0 && json_is_integer(port) && json_is_string(node))
            logs_names_add(m, host ? host : "127.0.0.1", (unsigned)json_integer_value(port),
                           json_string_value(node));
    }
    json_decref(evs);
    path = xasprintf("%s/links.json", run_dir);
    json_t *links = json_load_file(path, 0, NULL);
    free(path);
    json_array_foreach(links, i, e)
    {
        const char *from = json_string_value(json_object_get(e, "from"));
        const char *to = json_string_value(json_object_get(e, "to"));
        const char *lh = json_string_value(json_object_get(e, "listen_host"));
        const char *th = json_string_value(json_object_get(e, "target_host"));
        json_int_t lp = json_integer_value(json_object_get(e, "listen_port"));
        json_int_t tp = json_integer_value(json_object_get(e, "target_port"));
        lh = lh ? lh : "127.0.0.1";
        th = th ? th : "127.0.0.1";
        if (!from || !to || (lp == tp && strcmp(lh, th) == 0))
            continue; /* links direct: the target's own address */
        char name[64];
        /* a listener of its own is the link's; a shared one (one per target) is the target's */
        if (strncmp(lh, "127.0.0.1", 10) == 0)
            snprintf(name, sizeof(name), "%s->%s", from, to);
        else
            snprintf(name, sizeof(name), "->%s", to);
        logs_names_add(m, lh, (unsigned)lp, name);
    }
    json_decref(links);
    if (m->n > 0) /* no qsort on a NULL array (UBSan) */
        qsort(m->v, m->n, sizeof(*m->v), logs_name_cmp);
    m->sorted = true;
    return m;
}

void logs_names_free(struct logs_names *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].addr);
        free(m->v[i].name);
    }
    free(m->v);
    free(m);
}

void logs_names_add(struct logs_names *m, const char *host, unsigned port, const char *name)
{
    if (port == 0)
        return;
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
    }
    m->v[m->n++] = (struct logs_name){xasprintf("%s:%u", host, port), xstrdup(name)};
    m->sorted = false;
}

/* The name of "host:port", or NULL. */
static const char *logs_names_find(const struct logs_names *m, const char *addr)
{
    if (m->n == 0) /* no bsearch on a NULL array (UBSan) */
        return NULL;
    if (m->sorted) {
        struct logs_name key = {(char *)addr, NULL};
        const struct logs_name *e = bsearch(&key, m->v, m->n, sizeof(*m->v), logs_name_cmp);
        return e ? e->name : NULL;
    }
    for (size_t i = m->n; i-- > 0;) {
        if (strcmp(m->v[i].addr, addr) == 0)
            return m->v[i].name;
    }
    return NULL;
}

/* At p, an address "A.B.C.D:PORT", "A.B.C.D port PORT" (libcurl's words) or the same with
 * "localhost": its length, with "HOST:PORT" in key. 0 when there is none. */
static size_t logs_match_addr(const char *p, char *key, size_t keysz)
{
    size_t h = 0;
    char host[32];
    if (strncmp(p, "localhost", 9) == 0) {
        h = 9;
        snprintf(host, sizeof(host), "127.0.0.1");
    } else {
        unsigned dots = 0;
        while (h < 15 && ((p[h] >= '0' && p[h] <= '9') || (p[h] == '.' && ++dots)))
            h++;
        if (dots != 3 || h < 7 || p[h - 1] == '.')
            return 0;
        snprintf(host, sizeof(host), "%.*s", (int)h, p);
    }
    size_t sep = p[h] == ':' ? 1 : strncmp(p + h, " port ", 6) == 0 ? 6 : 0;
    size_t d = 0;
    unsigned long port = 0;
    while (sep > 0 && p[h + sep + d] >= '0' && p[h + sep + d] <= '9' && d < 6)
        port = port * 10 + (unsigned long)(p[h + sep + d++] - '0');
    if (d == 0 || (p[h + sep + d] >= '0' && p[h + sep + d] <= '9') || port > 65535)
        return 0;
    snprintf(key, keysz, "%s:%lu", host, port);
    return h + sep + d;
}

void logs_rename(const struct logs_names *m, const char *source, const char *line, struct buf *out)
{
    const char *p = line;
    while (*p) {
        bool boundary = p == line || !((p[-1] >= '0' && p[-1] <= '9') || p[-1] == '.' ||
                                       (p[-1] >= 'a' && p[-1] <= 'z'));
        char key[48];
        size_t len = boundary ? logs_match_addr(p, key, sizeof(key)) : 0;
        const char *name = len > 0 ? logs_names_find(m, key) : NULL;
        if (name == NULL) {
            buf_append_char(out, *p++);
            continue;
        }
        /* "http://" before the address goes with it: the name stands for the whole URL */
        if (out->len >= 7 && strncmp(out->data + out->len - 7, "http://", 7) == 0)
            out->len -= 7;
        if (name[0] == '-' && source != NULL && source[0] == 'n')
            buf_append_str(out, source);
        buf_append_str(out, name);
        p += len;
    }
}

int logs_parse_nodes(const char *text, struct logs_filter *f, char *err, size_t errsz)
{
    struct buf rest = BUF_INIT;
    char *copy = xstrdup(text), *save = NULL;
    f->nodes_given = true;
    f->sim = false;
    nodeset_clear(&f->nodes);
    for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (strcmp(w, "sim") == 0) {
            f->sim = true;
            continue;
        }
        buf_printf(&rest, "%s%s", rest.len ? "," : "", w);
    }
    free(copy);
    int rc = 0;
    if (rest.len > 0 &&
        nodeset_parse(rest.data, rest.len, SIM_MAX_NODES, &f->nodes, NULL, err, errsz) < 0)
        rc = -1;
    if (rc == 0 && f->nodes.all)
        nodeset_fill(&f->nodes, SIM_MAX_NODES);
    buf_free(&rest);
    return rc;
}

/* Parse "HH:MM:SS.mmm" at the start of s into seconds since midnight; -1 when absent. */
static double logs_clock(const char *s)
{
    int hh, mm, ss, ms, used = 0;
    if (sscanf(s, "%2d:%2d:%2d.%3d%n", &hh, &mm, &ss, &ms, &used) != 4 || used != 12)
        return -1;
    return hh * 3600.0 + mm * 60.0 + ss + ms / 1000.0;
}

/* Seconds since the epoch of local midnight on the day of epoch e. */
static double logs_midnight(double e)
{
    time_t t = (time_t)e;
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return (double)mktime(&tm);
}

/* Read one log file into ls as source src. */
static void logs_read(const char *path, size_t src, double start, struct lines *ls, size_t *seq)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    double midnight = logs_midnight(start), prev = start;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        double clock = logs_clock(line), at = prev;
        if (clock >= 0) {
            at = midnight + clock;
            if (at < prev - 12 * 3600.0) {
                midnight += 24 * 3600.0;
                at += 24 * 3600.0;
            }
        }
        prev = at;
        if (ls->n == ls->cap) {
            ls->cap = ls->cap ? ls->cap * 2 : 1024;
            ls->v = xrealloc(ls->v, ls->cap * sizeof(*ls->v));
        }
        ls->v[ls->n++] = (struct line){at, src, (*seq)++, xstrdup(line)};
    }
    free(line);
    fclose(f);
}

static int logs_cmp(const void *a, const void *b)
{
    const struct line *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The run's start in seconds since the epoch: from the first event, else from sim.log's first
 * line (today), else now. */
static double logs_start(const char *run_dir)
{
    char err[256];
    char *path = xasprintf("%s/%s", run_dir, EVENTS_FILE);
    FILE *f = fopen(path, "r");
    free(path);
    double start = (double)time(NULL);
    if (f == NULL)
        return start;
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, f) > 0) {
        json_t *e = json_loads(line, 0, NULL);
        const char *wall = json_string_value(json_object_get(e, "wall"));
        struct tm tm = {0};
        int ms = 0;
        if (wall && sscanf(wall, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                           &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) == 7) {
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            start = (double)timegm(&tm) + ms / 1000.0 - json_number_value(json_object_get(e, "t"));
        }
        json_decref(e);
    }
    (void)err;
    free(line);
    fclose(f);
    return start;
}

/* True when the source named name passes the filter. */
static bool logs_source_wanted(const struct logs_filter *f, const char *name)
{
    if (!f->nodes_given)
        return true;
    if (strcmp(name, "sim") == 0)
        return f->sim;
    return name[0] == 'n' && nodeset_has(&f->nodes, (unsigned)atoi(name + 1));
}

/* Node log files nK.log of run_dir, sorted by K, into names (owned strings, "nK"). */
static size_t logs_node_files(const char *run_dir, char ***names)
{
    DIR *d = opendir(run_dir);
    size_t n = 0;
    *names = NULL;
    if (d == NULL)
        return 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *s = de->d_name;
        size_t len = strlen(s);
        if (s[0] != 'n' || len < 6 || strcmp(s + len - 4, ".log") != 0 ||
            strspn(s + 1, "0123456789") != len - 5)
            continue;
        *names = xrealloc(*names, (n + 1) * sizeof(char *));
        (*names)[n++] = xasprintf("%.*s", (int)(len - 4), s);
    }
    closedir(d);
    for (size_t i = 1; i < n; i++) { /* by node number */
        for (size_t j = i; j > 0 && atoi((*names)[j - 1] + 1) > atoi((*names)[j] + 1); j--) {
            char *t = (*names)[j];
            (*names)[j] = (*names)[j - 1];
            (*names)[j - 1] = t;
        }
    }
    return n;
}

int logs_print(FILE *out, const char *run_dir, const struct logs_filter *f, char *err, size_t errsz)
{
    char **nodes;
    size_t nn = logs_node_files(run_dir, &nodes);
    char **sources = xcalloc(nn + 1, sizeof(char *));
    sources[0] = xstrdup("sim");
    for (size_t i = 0; i < nn; i++)
        sources[i + 1] = nodes[i];
    free(nodes);
    double start = logs_start(run_dir);
    struct lines ls = {0};
    size_t seq = 0;
    for (size_t s = 0; s < nn + 1; s++) {
        if (!logs_source_wanted(f, sources[s]))
            continue;
        char *path = xasprintf("%s/%s.log", run_dir, sources[s]);
        logs_read(path, s, start, &ls, &seq);
        free(path);
    }
    int rc = 0;
    char *simlog = xasprintf("%s/sim.log", run_dir);
    FILE *probe = fopen(simlog, "r");
    if (probe)
        fclose(probe);
    else if (nn == 0) {
        snprintf(err, errsz, "%s: no sim.log and no node log: not a run folder", run_dir);
        rc = -1;
    }
    free(simlog);
    if (ls.n > 0)
        qsort(ls.v, ls.n, sizeof(*ls.v), logs_cmp);
    struct logs_names *names = logs_names_load(run_dir);
    struct buf text = BUF_INIT;
    for (size_t i = 0; i < ls.n && rc == 0; i++) {
        double rel = ls.v[i].at - start;
        if (rel < f->since - 0.0005 || (f->until >= 0 && rel > f->until + 0.0005))
            continue;
        buf_clear(&text);
        logs_rename(names, sources[ls.v[i].source], ls.v[i].text, &text);
        if (f->grep && (text.data == NULL || strstr(text.data, f->grep) == NULL))
            continue;
        fprintf(out, "%-5s %9.3f  %s\n", sources[ls.v[i].source], rel, text.data ? text.data : "");
    }
    buf_free(&text);
    logs_names_free(names);
    for (size_t i = 0; i < ls.n; i++)
        free(ls.v[i].text);
    free(ls.v);
    for (size_t s = 0; s < nn + 1; s++)
        free(sources[s]);
    free(sources);
    return rc;
}
