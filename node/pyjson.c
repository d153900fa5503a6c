/* pyjson: JSON text written exactly as Python's json.dumps writes it. */
#include "pyjson.h"

#include <stdint.h>
#include <string.h>

/* Decode one UTF-8 sequence at s[i..len). Returns its length and sets *cp, or 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, size_t len, size_t i, uint32_t *cp)
{
    unsigned char c = s[i];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        n = 2, v = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3, v = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (i + n > len)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i + k] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

bool pyjson_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_decode(u, len, i, &cp);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

static void write_u16(struct buf *out, uint32_t v)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\',       'u', hex[(v >> 12) & 15], hex[(v >> 8) & 15], hex[(v >> 4) & 15],
                 hex[v & 15]};
    buf_append(out, e, sizeof(e));
}

void pyjson_write_string(struct buf *out, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    buf_reserve(out, len + 2);
    buf_append_char(out, '"');
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            i++;
            continue;
        }
        buf_append(out, s + run, i - run);
        size_t n = 1;
        uint32_t cp;
        switch (c) {
        case '"':
            buf_append(out, "\\\"", 2);
            break;
        case '\\':
            buf_append(out, "\\\\", 2);
            break;
        case '\n':
            buf_append(out, "\\n", 2);
            break;
        case '\r':
            buf_append(out, "\\r", 2);
            break;
        case '\t':
            buf_append(out, "\\t", 2);
            break;
        case '\b':
            buf_append(out, "\\b", 2);
            break;
        case '\f':
            buf_append(out, "\\f", 2);
            break;
        default:
            if (c < 0x80) {
                write_u16(out, c);
                break;
            }
            n = utf8_decode(u, len, i, &cp);
            if (n == 0) {
                n = 1;
                cp = 0xfffd;
            }
            if (cp >= 0x10000) {
                cp -= 0x10000;
                write_u16(out, 0xd800 | (cp >> 10));
                write_u16(out, 0xdc00 | (cp & 0x3ff));
            } else {
                write_u16(out, cp);
            }
        }
        i += n;
        run = i;
    }
    buf_append(out, s + run, len - run);
    buf_append_char(out, '"');
}

void pyjson_write_error(struct buf *out, const char *msg)
{
    buf_append_str(out, "{\"error\": ");
    pyjson_write_string(out, msg, strlen(msg));
    buf_append_char(out, '}');
}
