/* xfer: one request to a peer on the gossip worker's libcurl multi handle (see xfer.h). */
#include "xfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* libcurl's write callback: collect up to the cap, or drop. */
static size_t xfer_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct xfer *x = arg;
    size_t n = size * nmemb;
    if (x->cap == 0)
        return n;
    size_t *spent = x->spent ? x->spent : &x->body.len;
    if (*spent + n > x->cap) {
        x->too_big = true;
        return 0; /* stops the request */
    }
    size_t before = x->body.len;
    buf_append(&x->body, ptr, n);
    if (x->spent)
        *x->spent += n;
    if (x->begun && before < x->begin_len && x->body.len >= x->begin_len && !x->begun(x))
        return 0;
    return n;
}

void xfer_init(struct xfer *x, const struct config *cfg, const char *base, const char *path,
               xfer_done_cb done, void *arg)
{
    char url[CONFIG_MAX_URL + 96];
    CURL *e = curl_easy_init();
    if (e == NULL)
        abort(); /* out of memory */
    snprintf(url, sizeof(url), "%s%s", base, path);
    x->easy = e;
    x->done = done;
    x->arg = arg;
    x->curl_err[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, xfer_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    if (cfg->source) { /* --source: "host!" makes libcurl bind to the address, no lookup */
        char iface[96];
        snprintf(iface, sizeof(iface), "host!%s", cfg->source);
        curl_easy_setopt(e, CURLOPT_INTERFACE, iface);
    }
}

void xfer_set_post(struct xfer *x, const char *body, size_t len, struct curl_slist *headers)
{
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, headers);
}

void xfer_collect(struct xfer *x, size_t cap, size_t *spent)
{
    x->cap = cap;
    x->spent = spent;
    curl_easy_setopt(x->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
}

void xfer_start(CURLM *m, struct xfer *x)
{
    curl_multi_add_handle(m, x->easy);
}

/* Release x's easy handle (removed from m first when m is not NULL). */
static void xfer_release(CURLM *m, struct xfer *x)
{
    if (x->easy == NULL)
        return;
    if (m)
        curl_multi_remove_handle(m, x->easy);
    curl_easy_cleanup(x->easy);
    x->easy = NULL;
}

void xfer_finish(CURLM *m, CURL *e, CURLcode rc)
{
    struct xfer *x = NULL;
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    xfer_release(m, x);
    x->done(x, rc, status);
}

void xfer_abort(CURLM *m, struct xfer *x)
{
    if (x == NULL)
        return;
    xfer_release(m, x);
    xfer_clear(x);
}

void xfer_clear(struct xfer *x)
{
    buf_free(&x->body);
}

bool xfer_too_big(const struct xfer *x, CURLcode rc)
{
    return x->too_big || rc == CURLE_FILESIZE_EXCEEDED;
}

const char *xfer_strerror(const struct xfer *x, CURLcode rc, char *out, size_t outsz)
{
    char esc[200];
    const char *what = curl_easy_strerror(rc);
    size_t n = strcspn(x->curl_err, "\r\n");
    if (rc == CURLE_OUT_OF_MEMORY && n == 0) /* all libcurl says of an over-long header line */
        snprintf(out, outsz, "%s (or a response header line over %d bytes)", what,
                 CURL_MAX_HTTP_HEADER);
    else if (n == 0 || strcmp(x->curl_err, what) == 0)
        snprintf(out, outsz, "%s", what);
    else
        snprintf(out, outsz, "%s (%s)", what, log_escape(x->curl_err, n, 120, esc, sizeof(esc)));
    return out;
}
