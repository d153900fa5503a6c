/* report: the summary table, the JSON report and the JUnit XML file of a sim run. */
#include "report.h"

#include <errno.h>
#include <string.h>

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
            fprintf(f, "</failure>\n    </testcase>\n");
        } else {
            const char *msg = json_string_value(json_object_get(r, "error"));
            fprintf(f, ">\n      <error message=\"");
            xml_text(f, msg ? msg : res);
            fprintf(f, "\"/>\n    </testcase>\n");
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
