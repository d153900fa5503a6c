/* promtext: the Prometheus text format, parsed. */
#include "promtext.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static bool metrics_name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* Parse one sample line [p, end) into obj. Returns 0 or -1 with why. */
static int metrics_line(const char *p, const char *end, json_t *obj, const char **why)
{
    const char *name = p;
    if (p == end || !metrics_name_char(*p, true)) {
        *why = "a metric name must start with a letter, '_' or ':'";
        return -1;
    }
    while (p < end && metrics_name_char(*p, false))
        p++;
    if (p < end && *p == '{') {
        bool quoted = false;
        for (p++; p < end; p++) {
            if (quoted && *p == '\\' && p + 1 < end)
                p++;
            else if (*p == '"')
                quoted = !quoted;
            else if (!quoted && *p == '}')
                break;
        }
        if (p == end) {
            *why = "labels without their closing '}'";
            return -1;
        }
        p++;
    }
    size_t keylen = (size_t)(p - name);
    if (p == end || (*p != ' ' && *p != '\t')) {
        *why = "a value must follow the name after a space";
        return -1;
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    char num[64];
    size_t n = 0;
    while (p < end && *p != ' ' && *p != '\t' && n < sizeof(num) - 1)
        num[n++] = *p++;
    num[n] = '\0';
    char *stop;
    double v = strtod(num, &stop);
    if (n == 0 || *stop != '\0') {
        *why = "the value is not a number";
        return -1;
    }
    /* An optional timestamp (an integer) may follow; nothing else. */
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p < end) {
        const char *ts = p;
        if (*p == '-')
            p++;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        if (p != end || ts == p) {
            *why = "unexpected text after the value";
            return -1;
        }
    }
    json_t *val = isfinite(v) && v == floor(v) && fabs(v) < 9e15 ? json_integer((json_int_t)v)
                                                                 : json_real(isfinite(v) ? v : 0);
    json_object_setn_new_nocheck(obj, name, keylen, val);
    return 0;
}

int promtext_parse(const char *text, size_t len, json_t **out, char *err, size_t errsz)
{
    json_t *obj = json_object();
    const char *p = text, *end = text + (len > PROMTEXT_MAX_BYTES ? PROMTEXT_MAX_BYTES : len);
    unsigned line = 0;
    *out = NULL;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        const char *q = p;
        while (q < le && (*q == ' ' || *q == '\t'))
            q++;
        const char *qe = le;
        while (qe > q && (qe[-1] == '\r' || qe[-1] == ' ' || qe[-1] == '\t'))
            qe--;
        const char *why = NULL;
        if (q < qe && *q != '#' && metrics_line(q, qe, obj, &why) < 0) {
            snprintf(err, errsz, "line %u: %s", line, why);
            json_decref(obj);
            return -1;
        }
        p = nl ? nl + 1 : end;
    }
    *out = obj;
    return 0;
}
