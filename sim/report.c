/* report: the result of a run, the end of its output, and the report files. */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "observe.h"
#include "run.h"
#include "xalloc.h"

static bool report_has_cb(void *arg, const char *data)
{
    return observe_snap_has(arg, data);
}

/* appends: counts and latency, and the acknowledged appends the lowest running node lacks. */
static json_t *report_appends(struct run *r)
{
    json_t *sum = appends_summary(r->appends);
    json_t *lost = json_array();
    size_t known = appends_count(r->appends);
    int ref = -1;
    for (unsigned i = 0; ref < 0 && i < r->n; i++) {
        if (run_node_running(r, i))
            ref = (int)i;
    }
    if (ref >= 0 && known > 0) {
        struct nodeset set;
        struct snap *snaps = xcalloc(r->n, sizeof(*snaps));
        nodeset_clear(&set);
        nodeset_add(&set, (unsigned)ref);
        observe_fetch(r, &set, OBSERVE_CHAIN, snaps);
        if (snaps[ref].ok) {
            json_decref(lost);
            lost = appends_lost_list(r->appends, known, report_has_cb, &snaps[ref]);
        }
        observe_snap_clear(&snaps[ref]);
        free(snaps);
    }
    json_object_set_new(sum, "lost_on", ref >= 0 ? json_sprintf("n%d", ref) : json_null());
    json_object_set_new(sum, "lost", lost);
    return sum;
}

static json_t *report_links(struct run *r, size_t acked)
{
    if (r->links == NULL)
        return json_null();
    struct link_stats st;
    links_stats(r->links, &st);
    return json_pack("{s:i, s:I, s:I, s:I, s:I, s:f}", "links", (int)links_count(r->links),
                     "connections", (json_int_t)st.accepted, "messages", (json_int_t)st.messages,
                     "bytes_to_target", (json_int_t)st.bytes_to_target, "bytes_to_source",
                     (json_int_t)st.bytes_to_source, "messages_per_append",
                     acked ? (double)st.messages / (double)acked : 0.0);
}

/* What the nodes say they sent (from /status): POST /block requests and syncs, in total and per
 * acknowledged append (Maelstrom's msgs-per-op). */
static json_t *report_gossip(json_t *final, size_t acked)
{
    json_int_t posts = 0, syncs = 0;
    bool any = false;
    size_t i;
    json_t *e;
    json_array_foreach(final, i, e)
    {
        if (json_is_integer(json_object_get(e, "posts"))) {
            any = true;
            posts += json_integer_value(json_object_get(e, "posts"));
            syncs += json_integer_value(json_object_get(e, "syncs"));
        }
    }
    if (!any)
        return json_null();
    return json_pack("{s:I, s:I, s:o}", "posts", posts, "syncs", syncs, "posts_per_append",
                     acked ? json_real((double)posts / (double)acked) : json_null());
}

static const char *report_result_name(int code)
{
    switch (code) {
    case RUNNER_OK:
        return "pass";
    case RUNNER_FAILED:
        return "fail";
    default:
        return "error";
    }
}

json_t *report_result(struct run *r, struct buf *table)
{
    struct buf tbl = BUF_INIT;
    json_t *final = json_array();
    json_t *appends = NULL;
    size_t acked = 0;
    if (r->cl && r->code != RUNNER_INTERRUPTED) {
        observe_table(r, &tbl, final);
        appends = report_appends(r);
        acked = (size_t)json_integer_value(json_object_get(appends, "acked"));
    }
    if (table && tbl.data)
        buf_append_str(table, tbl.data);
    buf_free(&tbl);
    json_t *gossip = report_gossip(final, acked);
    json_t *linkrep = report_links(r, acked);
    char name[256];
    const char *b = strrchr(r->sc->path, '/');
    snprintf(name, sizeof(name), "%s", b ? b + 1 : r->sc->path);
    char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".scn") == 0)
        *dot = '\0';
    json_t *res = json_pack(
        "{s:s, s:s, s:s, s:i, s:f, s:I, s:i, s:s, s:s, s:s?, s:O, s:O, s:O, s:o, s:o, s:o, s:o, "
        "s:O, s:o}",
        "scenario", name, "file", r->sc->path, "result", report_result_name(r->code), "exit_code",
        r->code, "duration_s", run_now(r), "seed", (json_int_t)r->seed, "nodes", (int)r->n,
        "topology", scenario_topology_name(r->sc->topology), "links_mode",
        r->sc->links_direct ? "direct" : "links", "run_dir", r->run_dir, "steps", r->steps,
        "awaits", r->awaits, "failure", r->failure ? r->failure : json_null(), "error",
        r->error ? json_string(r->error) : json_null(), "final", final, "appends",
        appends ? appends : json_null(), "links", linkrep, "loads", r->loads_done, "gossip",
        gossip);
    json_object_set_new(res, "edges", r->cl ? run_edges_json(r) : json_array());
    json_object_set_new(res, "diagnosis", r->diagnosis ? json_incref(r->diagnosis) : json_null());
    return res;
}

/* The measurements of a run as text: appends and their latency, lost appends, messages. */
static void report_print_measures(struct run *r, json_t *res, int level)
{
    json_t *appends = json_object_get(res, "appends");
    json_t *gossip = json_object_get(res, "gossip");
    json_t *linkrep = json_object_get(res, "links");
    if (!json_is_object(appends))
        return;
    json_t *lat = json_object_get(appends, "latency_ms");
    json_t *lost = json_object_get(appends, "lost");
    struct buf latency = BUF_INIT;
    if (json_is_object(lat))
        buf_printf(&latency, "latency p50 %.1fms p95 %.1fms p99 %.1fms max %.1fms",
                   json_real_value(json_object_get(lat, "p50")),
                   json_real_value(json_object_get(lat, "p95")),
                   json_real_value(json_object_get(lat, "p99")),
                   json_real_value(json_object_get(lat, "max")));
    else
        buf_append_str(&latency, "no latency (none acknowledged)");
    run_say(r, level,
            "  appends: %" JSON_INTEGER_FORMAT " sent, %" JSON_INTEGER_FORMAT
            " acknowledged, %" JSON_INTEGER_FORMAT " failed; %s\n",
            json_integer_value(json_object_get(appends, "sent")),
            json_integer_value(json_object_get(appends, "acked")),
            json_integer_value(json_object_get(appends, "failed")), latency.data);
    buf_free(&latency);
    if (json_array_size(lost) > 0) {
        struct buf list = BUF_INIT;
        size_t i;
        json_t *d;
        json_array_foreach(lost, i, d)
        {
            if (i == 8) {
                buf_printf(&list, ", ... (%zu more)", json_array_size(lost) - i);
                break;
            }
            buf_printf(&list, "%s\"%.40s\"", i ? ", " : "", json_string_value(d));
        }
        run_say(r, level, "  lost on %s: %zu: %s\n",
                json_string_value(json_object_get(appends, "lost_on")), json_array_size(lost),
                list.data);
        buf_free(&list);
    }
    if (json_is_object(gossip)) {
        const json_t *ppa = json_object_get(gossip, "posts_per_append");
        char per[48] = "no append acknowledged";
        if (json_is_number(ppa))
            snprintf(per, sizeof(per), "%.2f posts per acknowledged append",
                     json_number_value(ppa));
        run_say(r, level,
                "  gossip: %" JSON_INTEGER_FORMAT " POST /block, %" JSON_INTEGER_FORMAT
                " syncs, %s\n",
                json_integer_value(json_object_get(gossip, "posts")),
                json_integer_value(json_object_get(gossip, "syncs")), per);
    }
    if (json_is_object(linkrep))
        run_say(r, level,
                "  links: %" JSON_INTEGER_FORMAT " connections, %" JSON_INTEGER_FORMAT
                " bytes forwarded, %" JSON_INTEGER_FORMAT " back\n",
                json_integer_value(json_object_get(linkrep, "connections")),
                json_integer_value(json_object_get(linkrep, "bytes_to_target")),
                json_integer_value(json_object_get(linkrep, "bytes_to_source")));
}

void report_failure_text(json_t *failure, json_t *diagnosis, struct buf *out)
{
    struct buf seen = BUF_INIT; /* at scale, per-node values as ranges (full in the report) */
    run_compress_long(json_string_value(json_object_get(failure, "seen")), &seen);
    buf_printf(out, "FAIL %s:%" JSON_INTEGER_FORMAT ": %s\n  expected: %s\n  saw:      %s\n",
               json_string_value(json_object_get(failure, "file")),
               json_integer_value(json_object_get(failure, "line")),
               json_string_value(json_object_get(failure, "text")),
               json_string_value(json_object_get(failure, "expected")), seen.data ? seen.data : "");
    buf_free(&seen);
    if (diagnosis) {
        buf_append_str(out, "  diagnosis (at the failure):\n");
        observe_diagnosis_text(diagnosis, out);
    }
}

void report_print(struct run *r, json_t *res, const char *table)
{
    const char *path = r->sc->path;
    if (r->failure) {
        struct buf text = BUF_INIT;
        report_failure_text(r->failure, r->diagnosis, &text);
        run_say(r, -1, "%s", text.data);
        buf_free(&text);
        run_say(r, -1, "%s", table);
        report_print_measures(r, res, -1);
    } else if (r->code != RUNNER_OK) {
        run_say(r, -1, "ERROR %s: %s\n", path, r->error);
    } else {
        json_t *appends = json_object_get(res, "appends");
        run_say(r, 0, "%s", table);
        report_print_measures(r, res, 0);
        run_say(r, -1,
                "PASS %s in %.3fs (%" JSON_INTEGER_FORMAT " appends acknowledged, %zu lost)\n",
                path, json_real_value(json_object_get(res, "duration_s")),
                json_integer_value(json_object_get(appends, "acked")),
                json_array_size(json_object_get(appends, "lost")));
    }
}

static void count(json_t *results, int *passed, int *failed, int *errors, double *secs)
{
    size_t i;
    json_t *r;
    *passed = *failed = *errors = 0;
    *secs = 0;
    json_array_foreach(results, i, r)
    {
        const char *res = json_string_value(json_object_get(r, "result"));
        if (res && strcmp(res, "pass") == 0)
            (*passed)++;
        else if (res && strcmp(res, "fail") == 0)
            (*failed)++;
        else
            (*errors)++;
        *secs += json_real_value(json_object_get(r, "duration_s"));
    }
}

void report_summary(FILE *out, json_t *results)
{
    size_t i;
    json_t *r;
    int passed, failed, errors;
    double secs;
    fprintf(out, "\n%-40s %-6s %10s\n", "scenario", "result", "duration");
    json_array_foreach(results, i, r)
    {
        fprintf(out, "%-40s %-6s %9.3fs\n", json_string_value(json_object_get(r, "file")),
                json_string_value(json_object_get(r, "result")),
                json_real_value(json_object_get(r, "duration_s")));
    }
    count(results, &passed, &failed, &errors, &secs);
    fprintf(out, "%d passed, %d failed, %d errors (%.3fs of scenario time)\n", passed, failed,
            errors, secs);
}

int report_write_json(const char *path, json_t *results, char *err, size_t errsz)
{
    int passed, failed, errors;
    double secs;
    count(results, &passed, &failed, &errors, &secs);
    json_t *doc = json_pack("{s:s, s:s, s:O, s:i, s:i, s:i}", "tool", "chainlab-sim", "version",
                            CHAINLAB_VERSION, "scenarios", results, "passed", passed, "failed",
                            failed, "errors", errors);
    int rc = json_dump_file(doc, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (rc < 0)
        snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
    return rc < 0 ? -1 : 0;
}

/* Write s with XML's five special characters escaped; control bytes other than \n \t dropped. */
static void xml_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        default:
            if (c >= 0x20 || c == '\n' || c == '\t')
                fputc(c, f);
        }
    }
}

/* <system-out> of a test case that did not pass: the run folder, the node table and the
 * diagnosis, for CI pages that show nothing else. */
static void report_junit_out(FILE *f, json_t *r)
{
    struct buf out = BUF_INIT;
    const char *dir = json_string_value(json_object_get(r, "run_dir"));
    if (dir)
        buf_printf(&out, "run folder: %s\n", dir);
    size_t i;
    json_t *e;
    if (json_array_size(json_object_get(r, "final")) > 0)
        buf_printf(&out, "%-6s %-21s %-8s %-8s %s\n", "node", "address", "state", "height", "tip");
    json_array_foreach(json_object_get(r, "final"), i, e)
    {
        json_t *h = json_object_get(e, "height"), *tip = json_object_get(e, "tip");
        char height[24] = "-";
        if (json_is_integer(h))
            snprintf(height, sizeof(height), "%lld", (long long)json_integer_value(h));
        char where[64];
        const char *host = json_string_value(json_object_get(e, "host"));
        snprintf(where, sizeof(where), "%s:%lld", host ? host : "127.0.0.1",
                 (long long)json_integer_value(json_object_get(e, "port")));
        buf_printf(&out, "%-6s %-21s %-8s %-8s %s\n", json_string_value(json_object_get(e, "node")),
                   where, json_string_value(json_object_get(e, "state")), height,
                   json_is_string(tip) ? json_string_value(tip) : "-");
    }
    if (json_is_object(json_object_get(r, "diagnosis"))) {
        buf_append_str(&out, "diagnosis:\n");
        observe_diagnosis_text(json_object_get(r, "diagnosis"), &out);
    }
    if (out.len) {
        fprintf(f, "      <system-out>");
        xml_text(f, out.data);
        fprintf(f, "</system-out>\n");
    }
    buf_free(&out);
}

int report_write_junit(const char *path, json_t *results, char *err, size_t errsz)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    int passed, failed, errors;
    double secs;
    size_t i;
    json_t *r;
    count(results, &passed, &failed, &errors, &secs);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites tests=\"%zu\" failures=\"%d\" errors=\"%d\" time=\"%.3f\">\n",
            json_array_size(results), failed, errors, secs);
    fprintf(f,
            "  <testsuite name=\"chainlab-sim\" tests=\"%zu\" failures=\"%d\" errors=\"%d\" "
            "time=\"%.3f\">\n",
            json_array_size(results), failed, errors, secs);
    json_array_foreach(results, i, r)
    {
        const char *res = json_string_value(json_object_get(r, "result"));
        fprintf(f, "    <testcase classname=\"chainlab-sim\" name=\"");
        xml_text(f, json_string_value(json_object_get(r, "file")));
        fprintf(f, "\" time=\"%.3f\"", json_real_value(json_object_get(r, "duration_s")));
        json_t *fail = json_object_get(r, "failure");
        if (strcmp(res, "pass") == 0) {
            fprintf(f, "/>\n");
        } else if (strcmp(res, "fail") == 0 && json_is_object(fail)) {
            fprintf(f, ">\n      <failure message=\"");
            fprintf(f, "line %" JSON_INTEGER_FORMAT ": ",
                    json_integer_value(json_object_get(fail, "line")));
            xml_text(f, json_string_value(json_object_get(fail, "text")));
            fprintf(f, "\">expected: ");
            xml_text(f, json_string_value(json_object_get(fail, "expected")));
            fprintf(f, "\nsaw: ");
            xml_text(f, json_string_value(json_object_get(fail, "seen")));
            fprintf(f, "</failure>\n");
            report_junit_out(f, r);
            fprintf(f, "    </testcase>\n");
        } else {
            const char *msg = json_string_value(json_object_get(r, "error"));
            fprintf(f, ">\n      <error message=\"");
            xml_text(f, msg ? msg : res);
            fprintf(f, "\"/>\n");
            report_junit_out(f, r);
            fprintf(f, "    </testcase>\n");
        }
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0 || rc < 0) {
        snprintf(err, errsz, "cannot write %s", path);
        return -1;
    }
    return 0;
}
