/* timeline: fault spans, steps and appends of a run, from its events. */
#include "timeline.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "nodeset.h"
#include "xalloc.h"

#define TIMELINE_KINDS_MAX 16 /* cluster-wide fault kinds tracked at once */

struct scan {
    struct timeline *tl;
    bool in_step;
    char kinds[TIMELINE_KINDS_MAX][24]; /* kinds active now, since kind_from */
    double kind_from[TIMELINE_KINDS_MAX];
    size_t nkinds;
    double *down_from; /* per node, or -1 */
    char (*down_how)[16];
    int *side;        /* per node: side in the partition in place, or -1 */
    double side_from; /* when that partition came */
    size_t cap_nodes;
};

static struct timeline_span *timeline_add(struct timeline *tl, double from, double to, int node,
                                          enum timeline_family fam, const char *label)
{
    tl->spans = xrealloc(tl->spans, (tl->nspans + 1) * sizeof(*tl->spans));
    struct timeline_span *sp = &tl->spans[tl->nspans++];
    *sp = (struct timeline_span){.from = from, .to = to, .node = node, .family = fam};
    snprintf(sp->label, sizeof(sp->label), "%s", label);
    return sp;
}

static int timeline_node_index(json_t *name)
{
    const char *s = json_string_value(name);
    return s && s[0] == 'n' ? atoi(s + 1) : -1;
}

static void timeline_grow(struct scan *s, unsigned n)
{
    if (n <= s->cap_nodes)
        return;
    s->down_from = xrealloc(s->down_from, n * sizeof(double));
    s->down_how = xrealloc(s->down_how, n * sizeof(*s->down_how));
    s->side = xrealloc(s->side, n * sizeof(int));
    for (size_t i = s->cap_nodes; i < n; i++) {
        s->down_from[i] = -1;
        s->side[i] = -1;
    }
    s->cap_nodes = n;
}

/* Close the per-node side spans of the partition in place at t. */
static void timeline_sides_end(struct scan *s, double t)
{
    for (size_t i = 0; i < s->cap_nodes; i++) {
        if (s->side[i] >= 0) {
            char label[48];
            snprintf(label, sizeof(label), "side %d", s->side[i] + 1);
            timeline_add(s->tl, s->side_from, t, (int)i, TIMELINE_PARTITION, label)->side =
                s->side[i];
            s->side[i] = -1;
        }
    }
}

/* A partition's sides "n0-n2 | n3-n5 (bridge n6)" from t on. */
static void timeline_sides_begin(struct scan *s, const char *sides, double t)
{
    timeline_sides_end(s, t);
    s->side_from = t;
    int g = 0;
    const char *p = sides;
    while (p && *p) {
        const char *bar = strstr(p, " | ");
        const char *paren = strstr(p, " (bridge");
        size_t len = bar ? (size_t)(bar - p) : paren ? (size_t)(paren - p) : strlen(p);
        struct nodeset set;
        char err[NODESET_ERR_SZ];
        if (nodeset_parse(p, len, SIM_MAX_NODES, &set, NULL, err, sizeof(err)) == 0) {
            for (int i = nodeset_next(&set, -1); i >= 0; i = nodeset_next(&set, i)) {
                timeline_grow(s, (unsigned)i + 1);
                s->side[i] = g;
            }
        }
        g++;
        p = bar ? bar + 3 : NULL;
    }
}

static void timeline_faults(struct scan *s, json_t *e, double t)
{
    json_t *active = json_object_get(e, "active");
    for (size_t k = 0; k < s->nkinds;) {
        bool still = false;
        size_t i;
        json_t *a;
        json_array_foreach(active, i, a) still |= strcmp(json_string_value(a), s->kinds[k]) == 0;
        if (still) {
            k++;
            continue;
        }
        bool part = strcmp(s->kinds[k], "partition") == 0 || strcmp(s->kinds[k], "cut") == 0;
        timeline_add(s->tl, s->kind_from[k], t, -1, part ? TIMELINE_PARTITION : TIMELINE_LINK,
                     s->kinds[k]);
        s->nkinds--;
        memmove(&s->kinds[k], &s->kinds[k + 1], (s->nkinds - k) * sizeof(s->kinds[0]));
        memmove(&s->kind_from[k], &s->kind_from[k + 1], (s->nkinds - k) * sizeof(double));
    }
    size_t i;
    json_t *a;
    json_array_foreach(active, i, a)
    {
        bool known = false;
        for (size_t k = 0; k < s->nkinds; k++)
            known |= strcmp(json_string_value(a), s->kinds[k]) == 0;
        if (!known && s->nkinds < TIMELINE_KINDS_MAX) {
            snprintf(s->kinds[s->nkinds], sizeof(s->kinds[0]), "%s", json_string_value(a));
            s->kind_from[s->nkinds++] = t;
        }
    }
    const char *fault = json_string_value(json_object_get(e, "fault"));
    const char *action = json_string_value(json_object_get(e, "action"));
    if (fault && action && strcmp(fault, "partition") == 0) {
        if (strcmp(action, "applied") == 0)
            timeline_sides_begin(s, json_string_value(json_object_get(e, "sides")), t);
        else
            timeline_sides_end(s, t);
    }
}

static void timeline_node(struct scan *s, json_t *e, double t)
{
    int i = timeline_node_index(json_object_get(e, "node"));
    const char *action = json_string_value(json_object_get(e, "action"));
    if (i < 0 || action == NULL)
        return;
    if ((unsigned)i + 1 > s->tl->nodes)
        s->tl->nodes = (unsigned)i + 1;
    timeline_grow(s, (unsigned)i + 1);
    bool down = strcmp(action, "killed") == 0 || strcmp(action, "stopped") == 0 ||
                strcmp(action, "paused") == 0 || strcmp(action, "exited") == 0;
    bool up = strcmp(action, "started") == 0 || strcmp(action, "resumed") == 0;
    /* Stops at the end of the run (outside any step) are the tear-down, not faults. */
    if (down && s->down_from[i] < 0 && (s->in_step || strcmp(action, "exited") == 0)) {
        s->down_from[i] = t;
        snprintf(s->down_how[i], sizeof(s->down_how[0]), "%s", action);
    } else if (up && s->down_from[i] >= 0) {
        char label[48];
        snprintf(label, sizeof(label), "n%d %s", i, s->down_how[i]);
        timeline_add(s->tl, s->down_from[i], t, i, TIMELINE_NODE, label);
        s->down_from[i] = -1;
    }
}

static void timeline_scan_cb(json_t *e, void *arg)
{
    struct scan *s = arg;
    struct timeline *tl = s->tl;
    const char *kind = json_string_value(json_object_get(e, "kind"));
    const char *action = json_string_value(json_object_get(e, "action"));
    double t = json_number_value(json_object_get(e, "t"));
    if (kind == NULL || action == NULL)
        return;
    if (t > tl->t_end)
        tl->t_end = t;
    if (strcmp(kind, "node") == 0) {
        timeline_node(s, e, t);
    } else if (strcmp(kind, "fault") == 0) {
        timeline_faults(s, e, t);
    } else if (strcmp(kind, "step") == 0) {
        s->in_step = strcmp(action, "start") == 0;
        if (!s->in_step) {
            tl->steps = xrealloc(tl->steps, (tl->nsteps + 1) * sizeof(*tl->steps));
            double took = json_number_value(json_object_get(e, "took_s"));
            tl->steps[tl->nsteps++] = (struct timeline_step){
                t - took, took, (unsigned)json_integer_value(json_object_get(e, "line")),
                json_is_true(json_object_get(e, "ok"))};
        }
    } else if (strcmp(kind, "append") == 0 && strcmp(action, "sent") != 0) {
        int i = timeline_node_index(json_object_get(e, "node"));
        if (i < 0)
            return;
        tl->appends = xrealloc(tl->appends, (tl->nappends + 1) * sizeof(*tl->appends));
        tl->appends[tl->nappends++] =
            (struct timeline_append){t, (unsigned)i, strcmp(action, "acked") == 0};
    }
}

int timeline_load(const char *run_dir, struct timeline *tl, char *err, size_t errsz)
{
    memset(tl, 0, sizeof(*tl));
    struct scan s = {.tl = tl};
    char *path = xasprintf("%s/%s", run_dir, EVENTS_FILE);
    int rc = events_each(path, timeline_scan_cb, &s, err, errsz);
    free(path);
    /* What is still active at the end lasts to the end. */
    json_t *none = json_pack("{s:[]}", "active");
    timeline_faults(&s, none, tl->t_end);
    json_decref(none);
    timeline_sides_end(&s, tl->t_end);
    for (size_t i = 0; i < s.cap_nodes; i++) {
        if (s.down_from[i] >= 0) {
            char label[48];
            snprintf(label, sizeof(label), "n%zu %s", i, s.down_how[i]);
            timeline_add(tl, s.down_from[i], tl->t_end, (int)i, TIMELINE_NODE, label);
        }
    }
    free(s.down_from);
    free(s.down_how);
    free(s.side);
    return rc;
}

void timeline_free(struct timeline *tl)
{
    free(tl->spans);
    free(tl->steps);
    free(tl->appends);
    memset(tl, 0, sizeof(*tl));
}
