/* vectors.h: loading ../shared/vectors/seed-chain.json in unit tests (header-only, included by
 * the test files that need it). */
#ifndef CHAINLAB_TEST_VECTORS_H
#define CHAINLAB_TEST_VECTORS_H

#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

/* The shared test vectors: $CHAINLAB_VECTORS, else shared/ beside the repository, found from this
 * file's path (as the compiler saw it) so it works from the root of any clone. Caller frees. */
static inline char *vectors_path(void)
{
    const char *env = getenv("CHAINLAB_VECTORS");
    if (env != NULL && env[0] != '\0')
        return xstrdup(env);
    const char *slash = strrchr(__FILE__, '/');
    struct buf path = BUF_INIT;
    buf_append(&path, __FILE__, slash ? (size_t)(slash - __FILE__ + 1) : 0);
    buf_append_str(&path, "../../../shared/vectors/seed-chain.json");
    return buf_steal(&path, NULL);
}

/* The vectors file as JSON (new reference); fails the test when it cannot be read. */
static inline json_t *vectors_load(void)
{
    char *path = vectors_path();
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_msg(root != NULL, "cannot read the test vectors %s: %s (set CHAINLAB_VECTORS)", path,
                  jerr.text);
    free(path);
    return root;
}

#endif
