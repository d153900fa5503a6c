/* pyjson: JSON text written exactly as Python's json.dumps writes it (the wire format of the
 * original node): ", " and ": " separators and ensure_ascii escaping with lowercase \uXXXX.
 *
 * Parsing is jansson's job; this module only writes. jansson's own encoder differs from Python's
 * (uppercase hex escapes), and the original node's bytes are the contract, so the writer is here.
 */
#ifndef CHAINLAB_PYJSON_H
#define CHAINLAB_PYJSON_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Append s (len bytes of valid UTF-8, NULs allowed) as a quoted JSON string. Bytes that are not
 * valid UTF-8 are written as U+FFFD; callers validate input first. */
void pyjson_write_string(struct buf *out, const char *s, size_t len);
/* Append {"error": "<msg>"}. */
void pyjson_write_error(struct buf *out, const char *msg);
/* True when s (len bytes) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool pyjson_utf8_valid(const char *s, size_t len);

#endif
