/* scenario: the lexer and parser of the `.scn` scenario language.
 *
 * Design: statements never span lines, so each line is lexed on its own into words, strings and
 * symbols (`->`, `<->`, `|`, comparisons), every token remembering its column. The first word
 * picks an entry in the statement table, which says whether it is a header statement or a step,
 * and a recursive-descent function consumes the remaining tokens; whatever is left over is an
 * error. Steps are parsed into a zeroed local and only appended when complete, so a failure
 * frees a half-built step and nothing else. The arguments of `node-args` are lexed differently,
 * as raw shell-like words, because they go to the node's command line untouched.
 *
 * Parameters are substituted by the lexer, inside each word (never inside strings, nor on a
 * `param` line): `${NAME}` becomes the value in force, and the word remembers a span per
 * substitution, so an offset in the word's text maps back to a column of the file (inside a
 * value, the column of its `${`) and an error on a word that holds values names them. Values
 * are single words, so substitution never changes where tokens begin or end. */
#include "scenario.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "xalloc.h"

#define QUOTE_MAX    40                  /* bytes of user text echoed in an error message */
#define QUOTE_SZ     (QUOTE_MAX * 4 + 8) /* buffer for one escaped echo */
#define MSG_SZ       512                 /* one error message before the position prefix */
#define FRACTION_MAX 9                   /* most digits after a decimal point */
#define SUGGEST_MAX  2                   /* largest edit distance for "did you mean" */

/* One `${NAME}` substituted inside a word. */
struct span {
    size_t src_off, src_len; /* the `${NAME}` in the token's source bytes */
    size_t out_off, out_len; /* its value in the token's text */
    size_t param;            /* index into the scenario's params */
};

enum tok_kind {
    TOK_WORD,   /* a run of non-blank, non-symbol bytes: keywords, node sets, numbers */
    TOK_STRING, /* a double-quoted string, escapes decoded */
    TOK_SYM,    /* -> <-> | == != < <= > >= and the stray = ! */
};

struct tok {
    enum tok_kind kind;
    unsigned col;     /* 1-based column of the first byte */
    unsigned end_col; /* column just past the last byte */
    const char *src;  /* the bytes as written, inside the input text */
    size_t src_len;
    char *text; /* owned: words and symbols as written (parameters substituted), strings
                 * decoded; NUL-terminated */
    size_t len;
    struct span *spans; /* owned: substitutions in text, in order */
    size_t n_spans;
};

/* A node-args or node-cmd line, resolved to nodes when the whole file is read. */
struct node_line {
    struct nodeset nodes; /* "all" when the line names no nodes */
    bool cmd;             /* node-cmd: words[0] is the template */
    char **words;         /* owned */
    size_t n_words;
    unsigned line, col; /* position of the node set, or of the keyword */
};

struct parser {
    const char *path; /* in messages; NULL: "LINE:COL: message" */
    bool steps_only;  /* scenario_parse_steps: the header is fixed, header statements are errors */
    bool served;      /* scenario_parse_served: a parameter may be left for posted steps */
    struct scenario *sc;
    char *err;
    size_t errsz;
    unsigned line;         /* current line, 1-based */
    const char *line_text; /* start of the current line */
    size_t line_len;       /* bytes in it, without the newline */
    struct tok *toks;
    size_t n_toks;
    size_t cap_toks;
    size_t pos;               /* next token to consume */
    const char *keyword;      /* the current statement's first word */
    unsigned first_step_line; /* 0 until a step was seen */
    const char *first_step;   /* that step's keyword */
    unsigned nodes_line, topology_line, seed_line, timeout_line, links_line;
    size_t cap_edges, cap_params, cap_steps; /* allocated lengths of the scenario's arrays */
    bool literal;                            /* lexing a param line: no substitution */
    const struct scenario_setting *settings; /* values from outside the file */
    size_t n_settings;
    unsigned *uses;               /* per param: how many `${NAME}` name it */
    struct node_line *node_lines; /* node-args and node-cmd lines in file order */
    size_t n_node_lines, cap_node_lines;
};

typedef int (*stmt_parse_fn)(struct parser *p, struct scenario_step *st);

struct stmt {
    const char *name;
    bool header;                  /* header statement; otherwise a step */
    bool needs_nodes;             /* only valid after `nodes N` */
    enum scenario_step_kind kind; /* steps: the kind (peer picks its own) */
    stmt_parse_fn parse;          /* st is NULL for header statements */
};

static const char *const step_kind_names[SCENARIO_STEP_KIND_COUNT] = {
    [SCENARIO_STEP_APPEND] = "append",
    [SCENARIO_STEP_LOAD] = "load",
    [SCENARIO_STEP_SYNC] = "sync",
    [SCENARIO_STEP_PEER_ADD] = "peer add",
    [SCENARIO_STEP_PEER_REMOVE] = "peer remove",
    [SCENARIO_STEP_PARTITION] = "partition",
    [SCENARIO_STEP_CUT] = "cut",
    [SCENARIO_STEP_HEAL] = "heal",
    [SCENARIO_STEP_LATENCY] = "latency",
    [SCENARIO_STEP_LOSS] = "loss",
    [SCENARIO_STEP_BANDWIDTH] = "bandwidth",
    [SCENARIO_STEP_RESET] = "reset",
    [SCENARIO_STEP_CLEAR] = "clear",
    [SCENARIO_STEP_KILL] = "kill",
    [SCENARIO_STEP_STOP] = "stop",
    [SCENARIO_STEP_RESTART] = "restart",
    [SCENARIO_STEP_PAUSE] = "pause",
    [SCENARIO_STEP_RESUME] = "resume",
    [SCENARIO_STEP_SLEEP] = "sleep",
    [SCENARIO_STEP_AWAIT] = "await",
    [SCENARIO_STEP_EXPECT] = "expect",
    [SCENARIO_STEP_LOG] = "log",
};

static const char *const cond_names[] = {
    [SCENARIO_COND_CONVERGED] = "converged", [SCENARIO_COND_DIVERGED] = "diverged",
    [SCENARIO_COND_HEIGHT] = "height",       [SCENARIO_COND_CONTAINS] = "contains",
    [SCENARIO_COND_LOST] = "lost",           [SCENARIO_COND_ALIVE] = "alive",
    [SCENARIO_COND_DOWN] = "down",           [SCENARIO_COND_LOADS_DONE] = "loads",
    [SCENARIO_COND_PEERS] = "peers",
};
#define N_CONDS (sizeof(cond_names) / sizeof(cond_names[0]))

static const char *const cmp_names[] = {
    [SCENARIO_CMP_EQ] = "==", [SCENARIO_CMP_NE] = "!=", [SCENARIO_CMP_LT] = "<",
    [SCENARIO_CMP_LE] = "<=", [SCENARIO_CMP_GT] = ">",  [SCENARIO_CMP_GE] = ">=",
};
#define N_CMPS (sizeof(cmp_names) / sizeof(cmp_names[0]))

static const char *const topology_names[] = {
    [SCENARIO_TOPOLOGY_NONE] = "none", [SCENARIO_TOPOLOGY_LINE] = "line",
    [SCENARIO_TOPOLOGY_RING] = "ring", [SCENARIO_TOPOLOGY_STAR] = "star",
    [SCENARIO_TOPOLOGY_MESH] = "mesh", [SCENARIO_TOPOLOGY_TREE] = "tree",
    [SCENARIO_TOPOLOGY_GRID] = "grid", [SCENARIO_TOPOLOGY_RANDOM] = "random",
};
#define N_TOPOLOGIES (sizeof(topology_names) / sizeof(topology_names[0]))

static const char *const partition_names[] = {
    [SCENARIO_PARTITION_GROUPS] = "groups",
    [SCENARIO_PARTITION_HALVES] = "halves",
    [SCENARIO_PARTITION_RANDOM_HALVES] = "random-halves",
    [SCENARIO_PARTITION_MAJORITY] = "majority",
    [SCENARIO_PARTITION_BRIDGE] = "bridge",
};
#define N_PARTITIONS (sizeof(partition_names) / sizeof(partition_names[0]))

/* ---- errors ---------------------------------------------------------------------------- */

static int fail_at(struct parser *p, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* " (where ${N} is '0', from --set)" for every substitution in the word of the current line
 * that covers col; nothing when there is none. */
static void describe_values(const struct parser *p, unsigned col, struct buf *out)
{
    for (size_t i = 0; i < p->n_toks; i++) {
        const struct tok *t = &p->toks[i];
        if (t->n_spans == 0 || col < t->col || col >= t->end_col)
            continue;
        for (size_t k = 0; k < t->n_spans; k++) {
            const struct scenario_param *pm = &p->sc->params[t->spans[k].param];
            char q[QUOTE_SZ];
            bool told = false;
            for (size_t j = 0; j < k; j++)
                told = told || t->spans[j].param == t->spans[k].param;
            if (told)
                continue;
            log_escape(pm->value, strlen(pm->value), QUOTE_MAX, q, sizeof(q));
            buf_printf(out, "%s${%s} is '%s', ", k == 0 ? " (where " : "; ", pm->name, q);
            if (strcmp(pm->origin, "default") == 0 && p->path == NULL)
                buf_printf(out, "its default on line %u of %s", pm->line, p->sc->path);
            else if (strcmp(pm->origin, "default") == 0)
                buf_printf(out, "its default on line %u", pm->line);
            else
                buf_printf(out, "from %s", pm->origin);
        }
        buf_append_char(out, ')');
        return;
    }
}

/* Write "FILE:LINE:COL: message" (or "LINE:COL: message" without a path) into the error
 * buffer, with the values of the parameters in the word at col; returns -1. */
static int fail_at(struct parser *p, unsigned col, const char *fmt, ...)
{
    char msg[MSG_SZ];
    struct buf values = BUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    describe_values(p, col, &values);
    if (p->err != NULL && p->errsz > 0 && p->path != NULL)
        snprintf(p->err, p->errsz, "%s:%u:%u: %s%s", p->path, p->line, col, msg,
                 values.data != NULL ? values.data : "");
    else if (p->err != NULL && p->errsz > 0)
        snprintf(p->err, p->errsz, "%u:%u: %s%s", p->line, col, msg,
                 values.data != NULL ? values.data : "");
    buf_free(&values);
    return -1;
}

/* The token as written (a word with parameters: as substituted), escaped for a message. */
static const char *quote_tok(const struct tok *t, char *out)
{
    if (t->n_spans > 0)
        return log_escape(t->text, t->len, QUOTE_MAX, out, QUOTE_SZ);
    return log_escape(t->src, t->src_len, QUOTE_MAX, out, QUOTE_SZ);
}

/* The column of offset off in t's text: inside a substituted value, the column of its `${`. */
static unsigned tok_col_at(const struct tok *t, size_t off)
{
    size_t src = off;

    for (size_t k = 0; k < t->n_spans; k++) {
        const struct span *sp = &t->spans[k];
        if (off < sp->out_off)
            break;
        if (off < sp->out_off + sp->out_len)
            return t->col + (unsigned)sp->src_off;
        src = off - (sp->out_off + sp->out_len) + sp->src_off + sp->src_len;
    }
    return t->col + (unsigned)src;
}

static unsigned edit_distance(const char *a, const char *b)
{
    unsigned row[33];
    size_t la = strlen(a), lb = strlen(b);

    if (la > 32 || lb > 32)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Write " (did you mean 'x'?)" into out when a name is close to word, else "". */
static const char *suggest(const char *word, const char *const *names, size_t n, char *out,
                           size_t outsz)
{
    unsigned best = SUGGEST_MAX + 1;
    const char *pick = NULL;

    for (size_t i = 0; i < n; i++) {
        unsigned d;
        if (names[i] == NULL)
            continue;
        d = edit_distance(word, names[i]);
        if (d < best && d < strlen(names[i])) {
            best = d;
            pick = names[i];
        }
    }
    if (pick != NULL)
        snprintf(out, outsz, " (did you mean '%s'?)", pick);
    else
        snprintf(out, outsz, "%s", "");
    return out;
}

/* ---- lexer ----------------------------------------------------------------------------- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Bytes that end a word (besides blanks): they start a comment, a string or a symbol. */
static bool ends_word(const char *s, size_t i, size_t len)
{
    char c = s[i];
    if (is_blank(c) || c == '#' || c == '"' || c == '|' || c == '<' || c == '>' || c == '=' ||
        c == '!')
        return true;
    return c == '-' && i + 1 < len && s[i + 1] == '>';
}

/* True when s[0..len) is valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static bool utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= len)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* Make room for need elements of size elem in the array ptr of *cap elements; returns it. */
static void *grow_array(void *ptr, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap > 0 ? *cap : 8;

    if (need <= *cap)
        return ptr;
    while (n < need)
        n *= 2;
    *cap = n;
    return xrealloc(ptr, n * elem);
}

static struct tok *push_tok(struct parser *p, enum tok_kind kind, size_t start, size_t end)
{
    struct tok *t;

    p->toks = grow_array(p->toks, &p->cap_toks, p->n_toks + 1, sizeof(*p->toks));
    t = &p->toks[p->n_toks++];
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    t->col = (unsigned)start + 1;
    t->end_col = (unsigned)end + 1;
    t->src = p->line_text + start;
    t->src_len = end - start;
    return t;
}

static void clear_toks(struct parser *p)
{
    for (size_t i = 0; i < p->n_toks; i++) {
        free(p->toks[i].text);
        free(p->toks[i].spans);
    }
    p->n_toks = 0;
    p->pos = 0;
}

/* buf_steal, but NUL-terminated even when nothing was appended. */
static char *buf_take(struct buf *b, size_t *len)
{
    buf_append(b, "", 0);
    return buf_steal(b, len);
}

/* A word being lexed: its text so far and the substitutions in it. */
struct word {
    struct buf text;
    struct span *spans;
    size_t n_spans, cap_spans;
};

/* Move the word into token t (the word is left empty). */
static void word_to_tok(struct word *w, struct tok *t)
{
    t->text = buf_take(&w->text, &t->len);
    t->spans = w->spans;
    t->n_spans = w->n_spans;
    memset(w, 0, sizeof(*w));
}

static void word_free(struct word *w)
{
    buf_free(&w->text);
    free(w->spans);
    memset(w, 0, sizeof(*w));
}

static bool is_name_byte(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

static int fail_unknown_param(struct parser *p, unsigned col, const char *name)
{
    const char **names = xcalloc(p->sc->n_params + 1, sizeof(*names));
    char hint[SCENARIO_MAX_PARAM_NAME + 32];

    for (size_t i = 0; i < p->sc->n_params; i++)
        names[i] = p->sc->params[i].name;
    suggest(name, names, p->sc->n_params, hint, sizeof(hint));
    free(names);
    return fail_at(p, col,
                   "unknown parameter '%s'%s: declare it in the header with 'param %s DEFAULT' "
                   "before its first use",
                   name, hint, name);
}

/* Substitute the `${NAME}` at s[*k] of the word that starts at start into w; *k ends past the
 * closing brace. */
static int lex_param_ref(struct parser *p, size_t start, size_t *k, struct word *w)
{
    const char *s = p->line_text;
    size_t at = *k, j = at + 2;
    char name[SCENARIO_MAX_PARAM_NAME + 1];
    char why[128];
    struct span *sp;
    const struct scenario_param *pm = NULL;
    size_t idx = 0;

    while (j < p->line_len && is_name_byte(s[j], false))
        j++;
    if (j >= p->line_len || s[j] != '}')
        return fail_at(p, (unsigned)at + 1,
                       "unterminated '${': write ${NAME}, NAME of letters, digits and '_'");
    if (scenario_check_name(s + at + 2, j - at - 2, why, sizeof(why)) < 0)
        return fail_at(p, (unsigned)at + 1, "bad parameter reference: %s", why);
    memcpy(name, s + at + 2, j - at - 2);
    name[j - at - 2] = '\0';
    for (idx = 0; idx < p->sc->n_params && pm == NULL; idx++) {
        if (strcmp(p->sc->params[idx].name, name) == 0)
            pm = &p->sc->params[idx];
    }
    if (pm == NULL)
        return fail_unknown_param(p, (unsigned)at + 1, name);
    idx--;
    w->spans = grow_array(w->spans, &w->cap_spans, w->n_spans + 1, sizeof(*w->spans));
    sp = &w->spans[w->n_spans++];
    sp->src_off = at - start;
    sp->src_len = j + 1 - at;
    sp->out_off = w->text.len;
    sp->out_len = strlen(pm->value);
    sp->param = idx;
    buf_append(&w->text, pm->value, sp->out_len);
    p->uses[idx]++;
    *k = j + 1;
    return 0;
}

/* True when s[k] starts a parameter reference that is to be substituted. */
static bool at_param_ref(const struct parser *p, size_t k)
{
    return !p->literal && k + 1 < p->line_len && p->line_text[k] == '$' &&
           p->line_text[k + 1] == '{';
}

/* The word s[start, end) into w, parameters substituted. */
static int lex_word_text(struct parser *p, size_t start, size_t end, struct word *w)
{
    size_t k = start;

    while (k < end) {
        if (at_param_ref(p, k)) {
            if (lex_param_ref(p, start, &k, w) < 0)
                return -1;
        } else {
            buf_append_char(&w->text, p->line_text[k++]);
        }
    }
    return 0;
}

/* Decode the string whose opening quote is at *i into b; *i ends past the closing quote. */
static int lex_string(struct parser *p, size_t *i, struct buf *b)
{
    const char *s = p->line_text;
    size_t open = *i;
    size_t k = open + 1;

    for (;;) {
        if (k >= p->line_len)
            return fail_at(p, (unsigned)open + 1,
                           "unterminated string: expected a closing '\"' on the same line");
        if (s[k] == '"')
            break;
        if (s[k] != '\\') {
            buf_append_char(b, s[k++]);
            continue;
        }
        if (k + 1 >= p->line_len)
            return fail_at(p, (unsigned)open + 1,
                           "unterminated string: expected a closing '\"' on the same line");
        switch (s[k + 1]) {
        case '"':
            buf_append_char(b, '"');
            break;
        case '\\':
            buf_append_char(b, '\\');
            break;
        case 'n':
            buf_append_char(b, '\n');
            break;
        case 't':
            buf_append_char(b, '\t');
            break;
        default: {
            unsigned char c = (unsigned char)s[k + 1];
            if (c > 0x20 && c < 0x7f)
                return fail_at(p, (unsigned)k + 1,
                               "unknown escape '\\%c' in string: use \\\", \\\\, \\n or \\t", c);
            return fail_at(p, (unsigned)k + 1,
                           "unknown escape in string: use \\\", \\\\, \\n or \\t");
        }
        }
        k += 2;
    }
    if (!utf8_valid(b->data ? b->data : "", b->len))
        return fail_at(p, (unsigned)open + 1, "string is not valid UTF-8");
    *i = k + 1;
    return 0;
}

/* A raw word of node-args: bytes up to a blank or '#', with "quoted" parts decoded in place and
 * parameters substituted outside them. */
static int lex_raw_word(struct parser *p, size_t *i)
{
    struct word w = {0};
    size_t start = *i;
    size_t k = start;
    int rc = -1;

    while (k < p->line_len && !is_blank(p->line_text[k]) && p->line_text[k] != '#') {
        if (p->line_text[k] == '"') {
            if (lex_string(p, &k, &w.text) < 0)
                goto out;
        } else if (at_param_ref(p, k)) {
            if (lex_param_ref(p, start, &k, &w) < 0)
                goto out;
        } else {
            buf_append_char(&w.text, p->line_text[k++]);
        }
    }
    word_to_tok(&w, push_tok(p, TOK_WORD, start, k));
    *i = k;
    rc = 0;
out:
    word_free(&w);
    return rc;
}

static const char *const symbols[] = {"<->", "->", "==", "!=", "<=", ">=", "<", ">", "|", "=", "!"};

/* Split the current line into tokens; a '#' outside a string ends it. */
static int lex_line(struct parser *p)
{
    const char *s = p->line_text;
    size_t len = p->line_len;
    size_t i = 0;
    bool raw = false;

    p->literal = false;
    if (p->line == 1 && len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
        i = 3; /* a UTF-8 byte order mark */
    for (size_t k = 0; k < len; k++) {
        if (s[k] == '\0')
            return fail_at(p, (unsigned)k + 1, "NUL byte in the scenario text");
    }
    while (i < len) {
        size_t start = i;
        bool matched = false;
        if (is_blank(s[i])) {
            i++;
            continue;
        }
        if (s[i] == '#')
            break;
        if (raw) {
            if (lex_raw_word(p, &i) < 0)
                return -1;
            continue;
        }
        if (s[i] == '"') {
            struct buf b = BUF_INIT;
            struct tok *t;
            if (lex_string(p, &i, &b) < 0) {
                buf_free(&b);
                return -1;
            }
            t = push_tok(p, TOK_STRING, start, i);
            t->text = buf_take(&b, &t->len);
            continue;
        }
        for (size_t k = 0; k < sizeof(symbols) / sizeof(symbols[0]) && !matched; k++) {
            size_t n = strlen(symbols[k]);
            if (len - i >= n && memcmp(s + i, symbols[k], n) == 0) {
                struct tok *t = push_tok(p, TOK_SYM, i, i + n);
                t->text = xstrndup(s + i, n);
                t->len = n;
                i += n;
                matched = true;
            }
        }
        if (matched)
            continue;
        while (i < len && !ends_word(s, i, len))
            i++;
        struct word w = {0};
        if (lex_word_text(p, start, i, &w) < 0) {
            word_free(&w);
            return -1;
        }
        struct tok *t = push_tok(p, TOK_WORD, start, i);
        word_to_tok(&w, t);
        if (p->n_toks == 1 && strcmp(t->text, "node-args") == 0)
            raw = true;
        if (p->n_toks == 1 && strcmp(t->text, "param") == 0)
            p->literal = true;
    }
    return 0;
}

/* ---- token helpers --------------------------------------------------------------------- */

static const struct tok *peek(const struct parser *p)
{
    return p->pos < p->n_toks ? &p->toks[p->pos] : NULL;
}

static const struct tok *next(struct parser *p)
{
    const struct tok *t = peek(p);
    if (t != NULL)
        p->pos++;
    return t;
}

/* Column just past the last token: where a missing token is reported. */
static unsigned eol_col(const struct parser *p)
{
    return p->n_toks > 0 ? p->toks[p->n_toks - 1].end_col : 1;
}

static bool at_word(const struct parser *p, const char *word)
{
    const struct tok *t = peek(p);
    return t != NULL && t->kind == TOK_WORD && strcmp(t->text, word) == 0;
}

static bool at_sym(const struct parser *p, const char *sym)
{
    const struct tok *t = peek(p);
    return t != NULL && t->kind == TOK_SYM && strcmp(t->text, sym) == 0;
}

/* Fail at t (or at the end of the line when t is NULL): "expected WHAT[, got 'T']". */
static int fail_expected(struct parser *p, const struct tok *t, const char *what)
{
    char q[QUOTE_SZ];
    if (t == NULL)
        return fail_at(p, eol_col(p), "expected %s", what);
    return fail_at(p, t->col, "expected %s, got '%s'", what, quote_tok(t, q));
}

static int expect_end(struct parser *p)
{
    const struct tok *t = peek(p);
    char q[QUOTE_SZ];

    if (t == NULL)
        return 0;
    if (strcmp(p->keyword, "expect") == 0 && t->kind == TOK_WORD && strcmp(t->text, "within") == 0)
        return fail_at(p, t->col,
                       "unexpected 'within' after a complete 'expect' statement (did you mean "
                       "'await'?)");
    return fail_at(p, t->col, "unexpected '%s' after a complete '%s' statement", quote_tok(t, q),
                   p->keyword);
}

/* ---- values ---------------------------------------------------------------------------- */

/* A whole decimal number without sign in min..max. noun names it in messages ("seed"), after
 * is what it follows ("seed"), for the message when it is missing. */
static int parse_number(struct parser *p, const struct tok *t, const char *noun, const char *after,
                        uint64_t min, uint64_t max, uint64_t *out)
{
    char q[QUOTE_SZ];
    char range[64];
    char expected[160];
    uint64_t v = 0;

    snprintf(range, sizeof(range), "a whole number from %llu to %llu", (unsigned long long)min,
             (unsigned long long)max);
    snprintf(expected, sizeof(expected), "the %s after '%s' (%s)", noun, after, range);
    if (t == NULL || t->kind != TOK_WORD)
        return fail_expected(p, t, expected);
    quote_tok(t, q);
    if (t->text[0] == '-' || t->text[0] == '+')
        return fail_at(p, t->col, "bad %s '%s': write %s, without a sign", noun, q, range);
    for (size_t i = 0; i < t->len; i++) {
        unsigned d = (unsigned)(t->text[i] - '0');
        if (t->text[i] < '0' || t->text[i] > '9')
            return fail_at(p, t->col, "bad %s '%s': expected %s", noun, q, range);
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v))
            return fail_at(p, t->col, "bad %s '%s': too large, expected %s", noun, q, range);
    }
    if (v < min || v > max)
        return fail_at(p, t->col, "bad %s '%s': expected %s", noun, q, range);
    *out = v;
    return 0;
}

/* A decimal number as written: DIGITS[.DIGITS]. */
struct decimal {
    uint64_t int_part; /* the digits before the point */
    uint64_t frac;     /* the digits after it, as an integer */
    unsigned digits;   /* how many digits after the point (at most FRACTION_MAX) */
    bool overflow;     /* the integer part does not fit in 64 bits */
};

/* Scan a decimal number at the start of s into *d. Returns the bytes consumed, or 0 when s does
 * not start with one (or has more than FRACTION_MAX decimals). */
static size_t scan_decimal(const char *s, struct decimal *d)
{
    size_t i = 0;

    memset(d, 0, sizeof(*d));
    while (s[i] >= '0' && s[i] <= '9') {
        if (__builtin_mul_overflow(d->int_part, 10, &d->int_part) ||
            __builtin_add_overflow(d->int_part, (uint64_t)(s[i] - '0'), &d->int_part))
            d->overflow = true;
        i++;
    }
    if (i == 0)
        return 0;
    if (s[i] != '.')
        return i;
    if (s[i + 1] < '0' || s[i + 1] > '9')
        return 0;
    i++;
    while (s[i] >= '0' && s[i] <= '9') {
        if (d->digits == FRACTION_MAX)
            return 0;
        d->frac = d->frac * 10 + (uint64_t)(s[i] - '0');
        d->digits++;
        i++;
    }
    return i;
}

/* *out = d * unit, rounded down; *exact says whether nothing was lost. -1 on overflow. */
static int scale_decimal(const struct decimal *d, uint64_t unit, uint64_t *out, bool *exact)
{
    uint64_t whole, part, p10 = 1;

    for (unsigned k = 0; k < d->digits; k++)
        p10 *= 10;
    if (d->overflow || __builtin_mul_overflow(d->int_part, unit, &whole))
        return -1;
    /* frac < 10^FRACTION_MAX and unit <= 2^30 for every caller: no overflow */
    part = d->frac * unit;
    *exact = part % p10 == 0;
    if (__builtin_add_overflow(whole, part / p10, out))
        return -1;
    return 0;
}

/* A duration: a number followed by ms, s or m, at most SCENARIO_MAX_DURATION_MS. */
static int parse_duration(struct parser *p, const struct tok *t, const char *what, int64_t *out)
{
    static const char form[] = "expected a number followed by ms, s or m";
    char q[QUOTE_SZ];
    char expected[128];
    struct decimal d;
    uint64_t ms, unit;
    size_t n;
    bool exact;

    snprintf(expected, sizeof(expected), "%s (a duration like 250ms, 1.5s or 2m)", what);
    if (t == NULL || t->kind != TOK_WORD)
        return fail_expected(p, t, expected);
    quote_tok(t, q);
    if (t->text[0] == '-')
        return fail_at(p, t->col, "bad duration '%s': must not be negative", q);
    n = scan_decimal(t->text, &d);
    if (n == 0)
        return fail_at(p, t->col, "bad duration '%s': %s", q, form);
    if (strcmp(t->text + n, "ms") == 0)
        unit = 1;
    else if (strcmp(t->text + n, "s") == 0)
        unit = 1000;
    else if (strcmp(t->text + n, "m") == 0)
        unit = 60000;
    else if (t->text[n] == '\0')
        return fail_at(p, t->col, "bad duration '%s': missing unit, %s", q, form);
    else
        return fail_at(p, t->col, "bad duration '%s': %s", q, form);
    if (scale_decimal(&d, unit, &ms, &exact) < 0 || ms > (uint64_t)SCENARIO_MAX_DURATION_MS)
        return fail_at(p, t->col, "bad duration '%s': longer than the limit of 30 days", q);
    if (!exact)
        return fail_at(p, t->col, "bad duration '%s': not a whole number of milliseconds", q);
    *out = (int64_t)ms;
    return 0;
}

/* A loss percentage: 0..100, optional '%', up to 4 decimals; stored in parts per million. */
static int parse_percent(struct parser *p, const struct tok *t, uint32_t *out)
{
    static const char form[] = "expected a percentage from 0 to 100, like 30% or 2.5";
    char q[QUOTE_SZ];
    struct decimal d;
    uint64_t ppm;
    size_t n;
    bool exact;

    if (t == NULL || t->kind != TOK_WORD)
        return fail_expected(p, t, "a loss percentage from 0 to 100, like 30%");
    quote_tok(t, q);
    n = scan_decimal(t->text, &d);
    if (n == 0 || !(t->text[n] == '\0' || strcmp(t->text + n, "%") == 0))
        return fail_at(p, t->col, "bad loss '%s': %s", q, form);
    if (scale_decimal(&d, SCENARIO_LOSS_SCALE / 100, &ppm, &exact) < 0 || ppm > SCENARIO_LOSS_SCALE)
        return fail_at(p, t->col, "bad loss '%s': %s", q, form);
    if (!exact)
        return fail_at(p, t->col, "bad loss '%s': at most 4 decimals", q);
    *out = (uint32_t)ppm;
    return 0;
}

/* A byte rate: a number, a unit B, KB, MB, GB (1024-based; KiB, MiB, GiB too) and "/s". */
static int parse_bandwidth(struct parser *p, const struct tok *t, uint64_t *out)
{
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {
        {"B/s", 1},         {"KB/s", 1u << 10},  {"kB/s", 1u << 10}, {"KiB/s", 1u << 10},
        {"MB/s", 1u << 20}, {"MiB/s", 1u << 20}, {"GB/s", 1u << 30}, {"GiB/s", 1u << 30},
    };
    static const char form[] = "expected a number followed by B/s, KB/s, MB/s or GB/s, like 64KB/s";
    char q[QUOTE_SZ];
    struct decimal d;
    uint64_t mult = 0, v;
    size_t n;
    bool exact;

    if (t == NULL || t->kind != TOK_WORD)
        return fail_expected(p, t, "a bandwidth like 64KB/s");
    quote_tok(t, q);
    n = scan_decimal(t->text, &d);
    for (size_t i = 0; n > 0 && i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(t->text + n, units[i].suffix) == 0)
            mult = units[i].mult;
    }
    if (mult == 0)
        return fail_at(p, t->col, "bad bandwidth '%s': %s", q, form);
    if (scale_decimal(&d, mult, &v, &exact) < 0)
        return fail_at(p, t->col, "bad bandwidth '%s': too large", q);
    if (v == 0)
        return fail_at(p, t->col, "bad bandwidth '%s': must be at least 1B/s", q);
    *out = v;
    return 0;
}

static int parse_cmp(struct parser *p, const struct tok *t, const char *after,
                     enum scenario_cmp *out)
{
    char expected[96];

    snprintf(expected, sizeof(expected), "a comparison (==, !=, <, <=, >, >=) after '%s'", after);
    if (t == NULL || t->kind != TOK_SYM)
        return fail_expected(p, t, expected);
    for (size_t i = 0; i < N_CMPS; i++) {
        if (strcmp(t->text, cmp_names[i]) == 0) {
            *out = (enum scenario_cmp)i;
            return 0;
        }
    }
    return fail_expected(p, t, expected);
}

/* A string token; what names it ("the data after 'contains'"). Returns a new copy in *out. */
static int parse_string(struct parser *p, const struct tok *t, const char *what, char **out)
{
    char expected[128];

    snprintf(expected, sizeof(expected), "%s (a double-quoted string)", what);
    if (t == NULL || t->kind != TOK_STRING)
        return fail_expected(p, t, expected);
    *out = xmemdup(t->text, t->len);
    return 0;
}

/* ---- nodes ----------------------------------------------------------------------------- */

static int parse_set(struct parser *p, const struct tok *t, const char *what, struct nodeset *out)
{
    char msg[NODESET_ERR_SZ * 2];
    char expected[128];
    size_t off = 0;

    snprintf(expected, sizeof(expected), "%s (like n3, n2-n5, n0,n3-n5 or all)", what);
    if (t == NULL || t->kind != TOK_WORD)
        return fail_expected(p, t, expected);
    if (nodeset_parse(t->text, t->len, p->sc->nodes, out, &off, msg, sizeof(msg)) < 0)
        return fail_at(p, tok_col_at(t, off), "%s", msg);
    return 0;
}

static int parse_node(struct parser *p, const struct tok *t, const char *what, unsigned *out)
{
    char msg[NODESET_ERR_SZ * 2];
    char expected[128];

    snprintf(expected, sizeof(expected), "%s (a node like n3)", what);
    if (t == NULL || t->kind != TOK_WORD)
        return fail_expected(p, t, expected);
    if (nodeset_parse_node(t->text, t->len, p->sc->nodes, out, msg, sizeof(msg)) < 0)
        return fail_at(p, t->col, "%s", msg);
    return 0;
}

/* True when both sets are the same single node. */
static bool same_single_node(const struct nodeset *a, const struct nodeset *b)
{
    return !a->all && !b->all && nodeset_count(a) == 1 && nodeset_count(b) == 1 &&
           nodeset_next(a, -1) == nodeset_next(b, -1);
}

/* "A B", "A -> B" or "A <-> B" with sets on both sides (link, unlink, cut). */
static int parse_pair(struct parser *p, struct nodeset *from, struct nodeset *to, bool *one_way)
{
    const struct tok *b;
    char what[64];

    snprintf(what, sizeof(what), "a node set after '%s'", p->keyword);
    if (parse_set(p, next(p), what, from) < 0)
        return -1;
    *one_way = false;
    if (at_sym(p, "->") || at_sym(p, "<->")) {
        *one_way = strcmp(next(p)->text, "->") == 0;
        snprintf(what, sizeof(what), "a node set after '%s'", p->toks[p->pos - 1].text);
    } else {
        snprintf(what, sizeof(what), "a second node set, '-> B' or '<-> B' after '%s A'",
                 p->keyword);
    }
    b = next(p);
    if (parse_set(p, b, what, to) < 0)
        return -1;
    if (same_single_node(from, to))
        return fail_at(p, b->col, "'%s' needs two different nodes, got '%s' twice", p->keyword,
                       b->text);
    return 0;
}

/* LINKS: all, a node set, A -> B or A <-> B. */
static int parse_links(struct parser *p, struct scenario_links *l)
{
    char what[64];
    bool one_way;

    memset(l, 0, sizeof(*l));
    snprintf(what, sizeof(what), "links after '%s'", p->keyword);
    if (peek(p) != NULL && peek(p)->kind == TOK_WORD && peek(p)->text[0] >= '0' &&
        peek(p)->text[0] <= '9')
        return fail_expected(p, peek(p), "links (all, a node set, A -> B or A <-> B) first");
    if (parse_set(p, next(p), what, &l->a) < 0)
        return -1;
    if (!at_sym(p, "->") && !at_sym(p, "<->")) {
        l->kind = l->a.all ? SCENARIO_LINKS_ALL : SCENARIO_LINKS_TOUCHING;
        if (l->a.all)
            nodeset_clear(&l->a);
        return 0;
    }
    one_way = strcmp(next(p)->text, "->") == 0;
    l->kind = one_way ? SCENARIO_LINKS_ONE_WAY : SCENARIO_LINKS_BOTH_WAYS;
    snprintf(what, sizeof(what), "a node set after '%s'", one_way ? "->" : "<->");
    return parse_set(p, next(p), what, &l->b);
}

/* ---- conditions ------------------------------------------------------------------------ */

/* True when t is a word that can only be meant as a node set: "all" or "n" and a digit. */
static bool looks_like_nodes(const struct tok *t)
{
    if (t == NULL || t->kind != TOK_WORD)
        return false;
    return strcmp(t->text, "all") == 0 ||
           (t->text[0] == 'n' && t->text[1] >= '0' && t->text[1] <= '9');
}

/* "[on NODES]" after height and contains; all when omitted. */
static int parse_on_nodes(struct parser *p, const char *cond, struct nodeset *out)
{
    char what[64];

    nodeset_clear(out);
    out->all = true;
    if (!at_word(p, "on"))
        return 0;
    next(p);
    snprintf(what, sizeof(what), "a node set after '%s ... on'", cond);
    return parse_set(p, next(p), what, out);
}

static int parse_cond(struct parser *p, struct scenario_cond *c)
{
    static const char expected[] =
        "a condition (converged, diverged, height, contains, lost, alive, down, loads done or "
        "peers)";
    const struct tok *t = next(p);
    char what[96];
    char hint[64];
    char q[QUOTE_SZ];
    size_t kind;

    if (t == NULL || t->kind != TOK_WORD)
        return fail_expected(p, t, expected);
    for (kind = 0; kind < N_CONDS; kind++) {
        if (strcmp(t->text, cond_names[kind]) == 0)
            break;
    }
    if (kind == N_CONDS)
        return fail_at(p, t->col,
                       "unknown condition '%s': expected converged, diverged, height, "
                       "contains, lost, alive, down, loads done or peers%s",
                       quote_tok(t, q), suggest(t->text, cond_names, N_CONDS, hint, sizeof(hint)));
    c->kind = (enum scenario_cond_kind)kind;
    c->node = -1;
    nodeset_clear(&c->nodes);
    c->nodes.all = true;
    snprintf(what, sizeof(what), "a node set after '%s'", t->text);
    switch (c->kind) {
    case SCENARIO_COND_CONVERGED:
    case SCENARIO_COND_DIVERGED:
        if (at_word(p, "on"))
            return fail_at(p, peek(p)->col,
                           "write the nodes right after '%s', without 'on' (e.g. '%s n0-n2')",
                           t->text, t->text);
        if (looks_like_nodes(peek(p)))
            return parse_set(p, next(p), what, &c->nodes);
        return 0; /* whatever follows is the caller's to judge */
    case SCENARIO_COND_HEIGHT:
    case SCENARIO_COND_PEERS:
        if (parse_cmp(p, next(p), t->text, &c->op) < 0 ||
            parse_number(p, next(p), c->kind == SCENARIO_COND_HEIGHT ? "height" : "peer count",
                         cmp_names[c->op], 0, INT64_MAX, &c->value) < 0)
            return -1;
        return parse_on_nodes(p, t->text, &c->nodes);
    case SCENARIO_COND_CONTAINS:
        if (parse_string(p, next(p), "the data after 'contains'", &c->data) < 0)
            return -1;
        return parse_on_nodes(p, "contains", &c->nodes);
    case SCENARIO_COND_LOST:
        nodeset_clear(&c->nodes);
        if (parse_cmp(p, next(p), "lost", &c->op) < 0 ||
            parse_number(p, next(p), "lost count", cmp_names[c->op], 0, INT64_MAX, &c->value) < 0)
            return -1;
        if (at_word(p, "on")) {
            unsigned node;
            next(p);
            if (parse_node(p, next(p), "one node after 'lost ... on'", &node) < 0)
                return -1;
            c->node = (int)node;
        }
        return 0;
    case SCENARIO_COND_ALIVE:
    case SCENARIO_COND_DOWN:
        return parse_set(p, next(p), what, &c->nodes);
    case SCENARIO_COND_LOADS_DONE:
        if (!at_word(p, "done"))
            return fail_expected(p, peek(p), "'done' after 'loads'");
        next(p);
        return 0;
    }
    return 0;
}

/* ---- header statements ----------------------------------------------------------------- */

static int fail_duplicate(struct parser *p, unsigned first_line)
{
    return fail_at(p, p->toks[0].col, "duplicate '%s' (first given on line %u)", p->keyword,
                   first_line);
}

static int parse_nodes_stmt(struct parser *p, struct scenario_step *st)
{
    uint64_t n;

    (void)st;
    if (p->nodes_line != 0)
        return fail_duplicate(p, p->nodes_line);
    if (parse_number(p, next(p), "node count", "nodes", 1, SIM_MAX_NODES, &n) < 0)
        return -1;
    p->sc->nodes = (unsigned)n;
    p->nodes_line = p->line;
    return expect_end(p);
}

static int parse_topology(struct parser *p, struct scenario_step *st)
{
    const struct tok *t = next(p);
    struct scenario *sc = p->sc;
    char q[QUOTE_SZ];
    char hint[64];
    uint64_t v;
    size_t kind;

    (void)st;
    if (p->topology_line != 0)
        return fail_duplicate(p, p->topology_line);
    if (t == NULL || t->kind != TOK_WORD)
        return fail_expected(p, t,
                             "a topology (line, ring, star, mesh, tree, grid, random or none)");
    for (kind = 0; kind < N_TOPOLOGIES; kind++) {
        if (strcmp(t->text, topology_names[kind]) == 0)
            break;
    }
    if (kind == N_TOPOLOGIES)
        return fail_at(p, t->col,
                       "unknown topology '%s': expected line, ring, star, mesh, tree, "
                       "grid, random or none%s",
                       quote_tok(t, q),
                       suggest(t->text, topology_names, N_TOPOLOGIES, hint, sizeof(hint)));
    sc->topology = (enum scenario_topology)kind;
    sc->topology_arg = 0;
    switch (sc->topology) {
    case SCENARIO_TOPOLOGY_STAR:
        if (peek(p) != NULL && parse_node(p, next(p), "the centre node", &sc->topology_arg) < 0)
            return -1;
        break;
    case SCENARIO_TOPOLOGY_TREE:
    case SCENARIO_TOPOLOGY_GRID:
    case SCENARIO_TOPOLOGY_RANDOM: {
        static const char *const arg_names[] = {
            [SCENARIO_TOPOLOGY_TREE] = "fanout",
            [SCENARIO_TOPOLOGY_GRID] = "columns",
            [SCENARIO_TOPOLOGY_RANDOM] = "degree",
        };
        const char *noun = arg_names[sc->topology];
        const struct tok *a = next(p);
        char after[32];
        uint64_t max;

        snprintf(after, sizeof(after), "topology %s", t->text);
        if (sc->topology == SCENARIO_TOPOLOGY_RANDOM && sc->nodes < 2)
            return fail_at(p, t->col,
                           "'topology random' needs at least 2 nodes (the scenario "
                           "has 1)");
        max = sc->topology == SCENARIO_TOPOLOGY_RANDOM ? sc->nodes - 1 : SIM_MAX_NODES;
        if (parse_number(p, a, noun, after, 1, max, &v) < 0)
            return -1;
        sc->topology_arg = (unsigned)v;
        break;
    }
    default:
        break;
    }
    p->topology_line = p->line;
    return expect_end(p);
}

static int parse_link(struct parser *p, struct scenario_step *st)
{
    struct scenario_edge_op op;
    struct scenario *sc = p->sc;

    (void)st;
    memset(&op, 0, sizeof(op));
    op.remove = strcmp(p->keyword, "unlink") == 0;
    op.line = p->line;
    op.col = p->toks[0].col;
    if (parse_pair(p, &op.from, &op.to, &op.one_way) < 0 || expect_end(p) < 0)
        return -1;
    sc->edges = grow_array(sc->edges, &p->cap_edges, sc->n_edges + 1, sizeof(*sc->edges));
    sc->edges[sc->n_edges++] = op;
    return 0;
}

static int parse_seed(struct parser *p, struct scenario_step *st)
{
    (void)st;
    if (p->seed_line != 0)
        return fail_duplicate(p, p->seed_line);
    if (parse_number(p, next(p), "seed", "seed", 0, UINT64_MAX, &p->sc->seed) < 0)
        return -1;
    p->sc->seed_given = true;
    p->seed_line = p->line;
    return expect_end(p);
}

static int parse_timeout(struct parser *p, struct scenario_step *st)
{
    const struct tok *t = next(p);
    char q[QUOTE_SZ];

    (void)st;
    if (p->timeout_line != 0)
        return fail_duplicate(p, p->timeout_line);
    if (parse_duration(p, t, "a duration after 'timeout'", &p->sc->timeout_ms) < 0)
        return -1;
    if (p->sc->timeout_ms == 0)
        return fail_at(p, t->col, "bad timeout '%s': must be more than 0", quote_tok(t, q));
    p->timeout_line = p->line;
    return expect_end(p);
}

/* True when t is written as a node set: "all", or a comma list of nK and nK-nM (unquoted). */
static bool is_nodeset_word(const struct tok *t)
{
    const char *s = t->text;

    if (t->kind != TOK_WORD || memchr(t->src, '"', t->src_len) != NULL)
        return false;
    if (strcmp(s, "all") == 0)
        return true;
    for (;;) {
        for (int end = 0; end < 2; end++) {
            if (*s++ != 'n' || *s < '0' || *s > '9')
                return false;
            while (*s >= '0' && *s <= '9')
                s++;
            if (*s != '-')
                break;
            if (end == 1)
                return false;
            s++;
        }
        if (*s == '\0')
            return true;
        if (*s++ != ',')
            return false;
    }
}

/* The optional NODES of node-args and node-cmd: *out is "all" when the next token is not
 * written as a node set (for node-cmd: when it is a string), and empty for the word `none`
 * (unquoted), which names no node, so that a parameter can switch a line off. */
static int parse_node_line_set(struct parser *p, struct nodeset *out, unsigned *col)
{
    const struct tok *t = peek(p);
    char what[64];

    nodeset_clear(out);
    out->all = true;
    *col = p->toks[0].col;
    if (t != NULL && t->kind == TOK_WORD && memchr(t->src, '"', t->src_len) == NULL &&
        strcmp(t->text, "none") == 0) {
        out->all = false;
        *col = t->col;
        next(p);
        return 0;
    }
    if (t == NULL || !is_nodeset_word(t))
        return 0;
    if (p->sc->nodes == 0 && strcmp(t->text, "all") != 0)
        return fail_at(p, t->col,
                       "'%s %s' before 'nodes': declare the number of nodes first, e.g. "
                       "'nodes 3'",
                       p->keyword, t->text);
    *col = t->col;
    snprintf(what, sizeof(what), "a node set after '%s'", p->keyword);
    return parse_set(p, next(p), what, out);
}

/* Keep a node-args or node-cmd line (its words are moved out of the tokens). */
static void add_node_line(struct parser *p, const struct nodeset *nodes, unsigned col, bool cmd)
{
    struct node_line *nl;

    p->node_lines = grow_array(p->node_lines, &p->cap_node_lines, p->n_node_lines + 1, sizeof(*nl));
    nl = &p->node_lines[p->n_node_lines++];
    memset(nl, 0, sizeof(*nl));
    nl->nodes = *nodes;
    nl->cmd = cmd;
    nl->line = p->line;
    nl->col = col;
    nl->words = xcalloc(p->n_toks - p->pos + 1, sizeof(char *));
    while (peek(p) != NULL) {
        struct tok *t = &p->toks[p->pos++];
        nl->words[nl->n_words++] = t->text;
        t->text = NULL; /* moved */
    }
}

static int parse_node_args(struct parser *p, struct scenario_step *st)
{
    struct nodeset nodes;
    unsigned col;

    (void)st;
    if (parse_node_line_set(p, &nodes, &col) < 0)
        return -1;
    if (peek(p) == NULL)
        return fail_expected(p, NULL,
                             p->pos > 1 ? "at least one argument after 'node-args NODES'"
                                        : "at least one argument after 'node-args'");
    add_node_line(p, &nodes, col, false);
    return 0;
}

static int parse_node_cmd(struct parser *p, struct scenario_step *st)
{
    struct nodeset nodes;
    const struct tok *t;
    unsigned col;

    (void)st;
    if (parse_node_line_set(p, &nodes, &col) < 0)
        return -1;
    t = peek(p);
    if (t == NULL || t->kind != TOK_STRING)
        return fail_expected(p, t,
                             p->pos > 1 ? "a command template after 'node-cmd NODES' (a "
                                          "double-quoted string)"
                                        : "a node set or a command template after 'node-cmd' "
                                          "(a double-quoted string)");
    if (t->len == 0)
        return fail_at(p, t->col, "the command template is empty");
    if (p->pos + 1 < p->n_toks)
        return fail_at(p, p->toks[p->pos + 1].col,
                       "unexpected '%s' after the template: node-cmd takes one string; put "
                       "arguments inside it, or in node-args",
                       p->toks[p->pos + 1].text);
    add_node_line(p, &nodes, col, true);
    return 0;
}

/* param NAME DEFAULT (lexed literally: the default is taken as written). */
static int parse_param(struct parser *p, struct scenario_step *st)
{
    struct scenario *sc = p->sc;
    const struct tok *name = next(p), *def;
    struct scenario_param *pm;
    char why[160];

    (void)st;
    if (name == NULL || name->kind != TOK_WORD)
        return fail_expected(p, name, "a parameter name after 'param'");
    if (scenario_check_name(name->text, name->len, why, sizeof(why)) < 0)
        return fail_at(p, name->col, "bad parameter name: %s", why);
    for (size_t i = 0; i < sc->n_params; i++) {
        if (strcmp(sc->params[i].name, name->text) == 0)
            return fail_at(p, name->col, "duplicate parameter '%s' (first declared on line %u)",
                           name->text, sc->params[i].line);
    }
    def = next(p);
    if (def == NULL || def->kind != TOK_WORD)
        return fail_expected(p, def,
                             "the default value after 'param NAME' (one word, like 10, "
                             "20ms or n0-n2)");
    if (strstr(def->text, "${") != NULL)
        return fail_at(p, def->col, "a default cannot refer to a parameter: write its value");
    if (scenario_check_value(def->text, def->len, why, sizeof(why)) < 0)
        return fail_at(p, def->col, "bad default: %s", why);
    if (expect_end(p) < 0)
        return -1;
    sc->params = grow_array(sc->params, &p->cap_params, sc->n_params + 1, sizeof(*sc->params));
    p->uses = xrealloc(p->uses, (sc->n_params + 1) * sizeof(*p->uses));
    p->uses[sc->n_params] = 0;
    pm = &sc->params[sc->n_params++];
    memset(pm, 0, sizeof(*pm));
    pm->name = xstrdup(name->text);
    pm->default_value = xstrdup(def->text);
    pm->value = xstrdup(def->text);
    pm->origin = xstrdup("default");
    pm->line = p->line;
    pm->col = name->col;
    for (size_t i = 0; i < p->n_settings; i++) {
        if (strcmp(p->settings[i].name, pm->name) == 0) {
            free(pm->value);
            free(pm->origin);
            pm->value = xstrdup(p->settings[i].value);
            pm->origin = xstrdup(p->settings[i].origin);
        }
    }
    return 0;
}

static int parse_links_stmt(struct parser *p, struct scenario_step *st)
{
    (void)st;
    if (p->links_line != 0)
        return fail_duplicate(p, p->links_line);
    if (!at_word(p, "direct"))
        return fail_expected(p, peek(p), "'direct' after 'links'");
    next(p);
    p->sc->links_direct = true;
    p->links_line = p->line;
    return expect_end(p);
}

/* ---- steps ----------------------------------------------------------------------------- */

static int parse_append(struct parser *p, struct scenario_step *st)
{
    const struct tok *t;

    if (parse_node(p, next(p), "a node after 'append'", &st->append.node) < 0)
        return -1;
    t = next(p);
    if (t != NULL && t->kind == TOK_STRING) {
        st->append.data = xmemdup(t->text, t->len);
    } else if (t != NULL && t->kind == TOK_WORD &&
               ((t->text[0] >= '0' && t->text[0] <= '9') || t->text[0] == '-' ||
                t->text[0] == '+')) {
        if (parse_number(p, t, "count", "append NODE", 1, SCENARIO_MAX_APPEND_COUNT,
                         &st->append.count) < 0)
            return -1;
    } else {
        return fail_expected(p, t, "\"DATA\" (double-quoted) or a COUNT after 'append NODE'");
    }
    return expect_end(p);
}

static int parse_load(struct parser *p, struct scenario_step *st)
{
    const struct tok *t = next(p);
    char q[QUOTE_SZ];
    size_t n;
    uint64_t rate = 0;

    if (t == NULL || t->kind != TOK_WORD)
        return fail_expected(p, t, "a rate like 50/s after 'load'");
    n = t->len;
    if (n < 3 || strcmp(t->text + n - 2, "/s") != 0 || t->text[0] < '0' || t->text[0] > '9')
        return fail_at(p, t->col, "bad rate '%s': expected appends per second like 50/s",
                       quote_tok(t, q));
    for (size_t i = 0; i < n - 2; i++) {
        if (t->text[i] < '0' || t->text[i] > '9')
            return fail_at(p, t->col, "bad rate '%s': expected appends per second like 50/s",
                           quote_tok(t, q));
        rate = rate * 10 + (uint64_t)(t->text[i] - '0');
        if (rate > SCENARIO_MAX_LOAD_RATE)
            break;
    }
    if (rate < 1 || rate > SCENARIO_MAX_LOAD_RATE)
        return fail_at(p, t->col, "bad rate '%s': expected 1/s to %u/s", quote_tok(t, q),
                       SCENARIO_MAX_LOAD_RATE);
    st->load.per_s = rate;
    if (!at_word(p, "for"))
        return fail_expected(p, peek(p), "'for DURATION' after 'load RATE'");
    next(p);
    t = next(p);
    if (parse_duration(p, t, "a duration after 'for'", &st->load.duration_ms) < 0)
        return -1;
    if (st->load.duration_ms == 0)
        return fail_at(p, t->col, "bad duration '%s': a load must last more than 0",
                       quote_tok(t, q));
    if (parse_on_nodes(p, "load", &st->load.nodes) < 0)
        return -1;
    return expect_end(p);
}

/* sync, kill, stop, restart, pause, resume: NODES. */
static int parse_nodes_step(struct parser *p, struct scenario_step *st)
{
    char what[64];

    snprintf(what, sizeof(what), "a node set after '%s'", p->keyword);
    if (parse_set(p, next(p), what, &st->nodes) < 0)
        return -1;
    return expect_end(p);
}

static int parse_peer(struct parser *p, struct scenario_step *st)
{
    const struct tok *t = next(p);
    const struct tok *b;

    if (t == NULL || t->kind != TOK_WORD ||
        (strcmp(t->text, "add") != 0 && strcmp(t->text, "remove") != 0))
        return fail_expected(p, t, "'add' or 'remove' after 'peer'");
    st->kind = strcmp(t->text, "add") == 0 ? SCENARIO_STEP_PEER_ADD : SCENARIO_STEP_PEER_REMOVE;
    if (parse_node(p, next(p), "a node after 'peer add'/'peer remove'", &st->peer.from) < 0)
        return -1;
    b = next(p);
    if (parse_node(p, b, "a second node after 'peer add A'/'peer remove A'", &st->peer.to) < 0)
        return -1;
    if (st->peer.from == st->peer.to)
        return fail_at(p, b->col, "a node cannot be its own peer: 'n%u' twice", st->peer.to);
    return expect_end(p);
}

static int parse_partition(struct parser *p, struct scenario_step *st)
{
    static const char expected[] =
        "groups of nodes after 'partition' (like n0-n2 | n3-n5) or one of halves, "
        "random-halves, majority, bridge";
    const struct tok *t = peek(p);
    struct nodeset seen;
    unsigned need = 2;

    st->partition.kind = SCENARIO_PARTITION_GROUPS;
    if (t == NULL)
        return fail_expected(p, t, expected);
    for (size_t k = 1; k < N_PARTITIONS; k++) {
        if (t->kind == TOK_WORD && strcmp(t->text, partition_names[k]) == 0)
            st->partition.kind = (enum scenario_partition_kind)k;
    }
    if (st->partition.kind != SCENARIO_PARTITION_GROUPS) {
        next(p);
        if (st->partition.kind == SCENARIO_PARTITION_BRIDGE)
            need = 3;
        if (p->sc->nodes < need)
            return fail_at(p, t->col,
                           "'partition %s' needs at least %u nodes (the scenario has %u)", t->text,
                           need, p->sc->nodes);
        return expect_end(p);
    }
    if (t->kind != TOK_WORD)
        return fail_expected(p, t, expected);
    nodeset_clear(&seen);
    for (;;) {
        struct nodeset g;
        t = next(p);
        if (parse_set(p, t, st->partition.n_groups == 0 ? expected : "a node set after '|'", &g) <
            0)
            return -1;
        if (g.all)
            return fail_at(p, t->col,
                           "'all' cannot be a partition group: name the nodes of "
                           "each side");
        if (nodeset_intersects(&seen, &g)) {
            struct nodeset both = g;
            for (size_t w = 0; w < NODESET_WORDS; w++)
                both.bits[w] &= seen.bits[w];
            return fail_at(p, t->col, "node n%d is in two partition groups",
                           nodeset_next(&both, -1));
        }
        nodeset_union(&seen, &g);
        st->partition.groups = xrealloc(st->partition.groups, (st->partition.n_groups + 1) *
                                                                  sizeof(*st->partition.groups));
        st->partition.groups[st->partition.n_groups++] = g;
        if (!at_sym(p, "|"))
            break;
        next(p);
    }
    return expect_end(p);
}

static int parse_cut(struct parser *p, struct scenario_step *st)
{
    if (parse_pair(p, &st->cut.from, &st->cut.to, &st->cut.one_way) < 0)
        return -1;
    return expect_end(p);
}

/* heal: no arguments. */
static int parse_bare(struct parser *p, struct scenario_step *st)
{
    (void)st;
    return expect_end(p);
}

static int parse_latency(struct parser *p, struct scenario_step *st)
{
    if (parse_links(p, &st->latency.links) < 0 ||
        parse_duration(p, next(p), "a delay after 'latency LINKS'", &st->latency.delay_ms) < 0)
        return -1;
    if (at_word(p, "jitter")) {
        next(p);
        if (parse_duration(p, next(p), "a duration after 'jitter'", &st->latency.jitter_ms) < 0)
            return -1;
    }
    return expect_end(p);
}

static int parse_loss(struct parser *p, struct scenario_step *st)
{
    if (parse_links(p, &st->loss.links) < 0 || parse_percent(p, next(p), &st->loss.per_million) < 0)
        return -1;
    return expect_end(p);
}

static int parse_bandwidth_step(struct parser *p, struct scenario_step *st)
{
    if (parse_links(p, &st->bandwidth.links) < 0 ||
        parse_bandwidth(p, next(p), &st->bandwidth.bytes_per_s) < 0)
        return -1;
    return expect_end(p);
}

static int parse_reset(struct parser *p, struct scenario_step *st)
{
    if (parse_links(p, &st->links) < 0)
        return -1;
    return expect_end(p);
}

static int parse_clear(struct parser *p, struct scenario_step *st)
{
    memset(&st->links, 0, sizeof(st->links));
    st->links.kind = SCENARIO_LINKS_ALL;
    if (peek(p) != NULL && parse_links(p, &st->links) < 0)
        return -1;
    return expect_end(p);
}

static int parse_sleep(struct parser *p, struct scenario_step *st)
{
    if (parse_duration(p, next(p), "a duration after 'sleep'", &st->sleep_ms) < 0)
        return -1;
    return expect_end(p);
}

static int parse_await(struct parser *p, struct scenario_step *st)
{
    if (parse_cond(p, &st->await.cond) < 0)
        return -1;
    if (!at_word(p, "within"))
        return fail_expected(p, peek(p), "'within DURATION' after the condition");
    next(p);
    if (parse_duration(p, next(p), "a duration after 'within'", &st->await.within_ms) < 0)
        return -1;
    return expect_end(p);
}

static int parse_expect(struct parser *p, struct scenario_step *st)
{
    if (parse_cond(p, &st->expect) < 0)
        return -1;
    return expect_end(p);
}

static int parse_log(struct parser *p, struct scenario_step *st)
{
    if (parse_string(p, next(p), "the text after 'log'", &st->log_text) < 0)
        return -1;
    return expect_end(p);
}

static const struct stmt stmts[] = {
    {"nodes", true, false, 0, parse_nodes_stmt},
    {"topology", true, true, 0, parse_topology},
    {"link", true, true, 0, parse_link},
    {"unlink", true, true, 0, parse_link},
    {"seed", true, false, 0, parse_seed},
    {"timeout", true, false, 0, parse_timeout},
    {"node-args", true, false, 0, parse_node_args},
    {"node-cmd", true, false, 0, parse_node_cmd},
    {"param", true, false, 0, parse_param},
    {"links", true, false, 0, parse_links_stmt},
    {"append", false, true, SCENARIO_STEP_APPEND, parse_append},
    {"load", false, true, SCENARIO_STEP_LOAD, parse_load},
    {"sync", false, true, SCENARIO_STEP_SYNC, parse_nodes_step},
    {"peer", false, true, SCENARIO_STEP_PEER_ADD, parse_peer},
    {"partition", false, true, SCENARIO_STEP_PARTITION, parse_partition},
    {"cut", false, true, SCENARIO_STEP_CUT, parse_cut},
    {"heal", false, true, SCENARIO_STEP_HEAL, parse_bare},
    {"latency", false, true, SCENARIO_STEP_LATENCY, parse_latency},
    {"loss", false, true, SCENARIO_STEP_LOSS, parse_loss},
    {"bandwidth", false, true, SCENARIO_STEP_BANDWIDTH, parse_bandwidth_step},
    {"reset", false, true, SCENARIO_STEP_RESET, parse_reset},
    {"clear", false, true, SCENARIO_STEP_CLEAR, parse_clear},
    {"kill", false, true, SCENARIO_STEP_KILL, parse_nodes_step},
    {"stop", false, true, SCENARIO_STEP_STOP, parse_nodes_step},
    {"restart", false, true, SCENARIO_STEP_RESTART, parse_nodes_step},
    {"pause", false, true, SCENARIO_STEP_PAUSE, parse_nodes_step},
    {"resume", false, true, SCENARIO_STEP_RESUME, parse_nodes_step},
    {"sleep", false, true, SCENARIO_STEP_SLEEP, parse_sleep},
    {"await", false, true, SCENARIO_STEP_AWAIT, parse_await},
    {"expect", false, true, SCENARIO_STEP_EXPECT, parse_expect},
    {"log", false, true, SCENARIO_STEP_LOG, parse_log},
};
#define N_STMTS (sizeof(stmts) / sizeof(stmts[0]))

/* ---- statements ------------------------------------------------------------------------ */

static void cond_free(struct scenario_cond *c)
{
    free(c->data);
    c->data = NULL;
}

/* Free what a step owns (its kind says which union member is live). */
static void step_clear(struct scenario_step *st)
{
    free(st->text);
    switch (st->kind) {
    case SCENARIO_STEP_APPEND:
        free(st->append.data);
        break;
    case SCENARIO_STEP_PARTITION:
        free(st->partition.groups);
        break;
    case SCENARIO_STEP_AWAIT:
        cond_free(&st->await.cond);
        break;
    case SCENARIO_STEP_EXPECT:
        cond_free(&st->expect);
        break;
    case SCENARIO_STEP_LOG:
        free(st->log_text);
        break;
    default:
        break;
    }
    memset(st, 0, sizeof(*st));
}

static const struct stmt *find_stmt(const char *name)
{
    for (size_t i = 0; i < N_STMTS; i++) {
        if (strcmp(stmts[i].name, name) == 0)
            return &stmts[i];
    }
    return NULL;
}

static int fail_unknown_stmt(struct parser *p, const struct tok *t)
{
    const char *names[N_STMTS];
    char q[QUOTE_SZ];
    char hint[64];

    for (size_t i = 0; i < N_STMTS; i++)
        names[i] = stmts[i].name;
    return fail_at(p, t->col,
                   "unknown statement '%s'%s: expected a header statement (nodes, topology, link, "
                   "unlink, seed, timeout, node-args, node-cmd, links, param) or a step (append, "
                   "load, sync, peer, "
                   "partition, cut, heal, latency, loss, bandwidth, reset, clear, kill, stop, "
                   "restart, pause, resume, sleep, await, expect, log)",
                   quote_tok(t, q), suggest(t->text, names, N_STMTS, hint, sizeof(hint)));
}

/* The current statement as written, without comment and outer blanks, with its parameters
 * substituted. Caller frees. */
static char *statement_text(const struct parser *p)
{
    const struct tok *first = &p->toks[0];
    struct buf b = BUF_INIT;
    const char *at = first->src;

    for (size_t i = 0; i < p->n_toks; i++) {
        const struct tok *t = &p->toks[i];
        size_t done = 0;
        buf_append(&b, at, (size_t)(t->src - at)); /* the blanks before t */
        for (size_t k = 0; k < t->n_spans; k++) {
            const struct span *sp = &t->spans[k];
            buf_append(&b, t->src + done, sp->src_off - done);
            buf_append(&b, t->text + sp->out_off, sp->out_len);
            done = sp->src_off + sp->src_len;
        }
        buf_append(&b, t->src + done, t->src_len - done);
        at = t->src + t->src_len;
    }
    return buf_take(&b, NULL);
}

/* Parse the tokens of the current line as one statement. */
static int parse_statement(struct parser *p)
{
    const struct tok *kw = next(p);
    const struct stmt *stmt;
    struct scenario *sc = p->sc;
    struct scenario_step st;
    char q[QUOTE_SZ];
    int rc = -1;

    memset(&st, 0, sizeof(st));
    if (kw->kind != TOK_WORD)
        return fail_at(p, kw->col, "expected a statement, got '%s'", quote_tok(kw, q));
    stmt = find_stmt(kw->text);
    if (stmt == NULL)
        return fail_unknown_stmt(p, kw);
    p->keyword = stmt->name;
    if (stmt->header && p->steps_only)
        return fail_at(p, kw->col,
                       "'%s' is a header statement: the header was fixed when the cluster "
                       "started; only steps can be run now",
                       stmt->name);
    if (stmt->header && p->first_step_line != 0)
        return fail_at(p, kw->col, "'%s' must come before the first step ('%s' on line %u)",
                       stmt->name, p->first_step, p->first_step_line);
    if (stmt->needs_nodes && sc->nodes == 0)
        return fail_at(p, kw->col,
                       "'%s' before 'nodes': declare the number of nodes first, "
                       "e.g. 'nodes 3'",
                       stmt->name);
    if (stmt->header)
        return stmt->parse(p, NULL);

    st.kind = stmt->kind;
    st.line = p->line;
    st.col = kw->col;
    if (sc->links_direct && scenario_step_kind_is_fault(st.kind) && p->steps_only)
        return fail_at(p, kw->col, "'%s' needs the link layer, but the cluster runs 'links direct'",
                       stmt->name);
    if (sc->links_direct && scenario_step_kind_is_fault(st.kind))
        return fail_at(p, kw->col, "'%s' needs the link layer, but line %u says 'links direct'",
                       stmt->name, p->links_line);
    if (stmt->parse(p, &st) < 0)
        goto out;
    st.text = statement_text(p);
    sc->steps = grow_array(sc->steps, &p->cap_steps, sc->n_steps + 1, sizeof(*sc->steps));
    sc->steps[sc->n_steps++] = st;
    memset(&st, 0, sizeof(st));
    if (p->first_step_line == 0) {
        p->first_step_line = p->line;
        p->first_step = stmt->name;
    }
    rc = 0;
out:
    step_clear(&st);
    return rc;
}

/* ---- public ---------------------------------------------------------------------------- */

/* Give every node its node-args words and node-cmd template; a node named by two node-cmd lines
 * is an error at the second. */
static int resolve_node_lines(struct parser *p)
{
    struct scenario *sc = p->sc;
    unsigned *cmd_line = xcalloc(sc->nodes, sizeof(unsigned));
    size_t *n_args = xcalloc(sc->nodes, sizeof(size_t));
    int rc = -1;

    sc->node_args = xcalloc(sc->nodes, sizeof(char **));
    sc->node_cmds = xcalloc(sc->nodes, sizeof(char *));
    for (size_t k = 0; k < p->n_node_lines; k++) {
        const struct node_line *nl = &p->node_lines[k];
        for (unsigned i = 0; i < sc->nodes; i++) {
            if (!nl->nodes.all && !nodeset_has(&nl->nodes, i))
                continue;
            if (nl->cmd && cmd_line[i] != 0) {
                p->line = nl->line;
                fail_at(p, nl->col,
                        "n%u already has a node-cmd (line %u): name each node in one "
                        "node-cmd line at most",
                        i, cmd_line[i]);
                goto out;
            }
            if (nl->cmd) {
                cmd_line[i] = nl->line;
                sc->node_cmds[i] = xstrdup(nl->words[0]);
                continue;
            }
            sc->node_args[i] =
                xrealloc(sc->node_args[i], (n_args[i] + nl->n_words + 1) * sizeof(char *));
            for (size_t w = 0; w < nl->n_words; w++)
                sc->node_args[i][n_args[i]++] = xstrdup(nl->words[w]);
            sc->node_args[i][n_args[i]] = NULL;
        }
    }
    for (unsigned i = 0; i < sc->nodes; i++) {
        if (sc->node_args[i] == NULL)
            sc->node_args[i] = xcalloc(1, sizeof(char *));
    }
    rc = 0;
out:
    free(cmd_line);
    free(n_args);
    return rc;
}

/* Fail with "FILE: ORIGIN NAME=VALUE: reason" (a setting has no line). */
static int fail_setting(struct parser *p, const struct scenario_setting *st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_setting(struct parser *p, const struct scenario_setting *st, const char *fmt, ...)
{
    char msg[MSG_SZ];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->err != NULL && p->errsz > 0)
        snprintf(p->err, p->errsz, "%s: %s %s=%s: %s", p->path, st->origin, st->name, st->value,
                 msg);
    return -1;
}

/* Every setting is a name and a one-word value, each name given once. */
static int check_settings(struct parser *p)
{
    char why[160];

    for (size_t i = 0; i < p->n_settings; i++) {
        const struct scenario_setting *st = &p->settings[i];
        if (scenario_check_name(st->name, strlen(st->name), why, sizeof(why)) < 0 ||
            scenario_check_value(st->value, strlen(st->value), why, sizeof(why)) < 0)
            return fail_setting(p, st, "%s", why);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(p->settings[k].name, st->name) == 0)
                return fail_setting(p, st, "'%s' is also given by %s %s=%s: give it once", st->name,
                                    p->settings[k].origin, p->settings[k].name,
                                    p->settings[k].value);
        }
    }
    return 0;
}

/* After the last line: every setting names a parameter, every parameter is used (unless steps
 * posted later may use it). */
static int check_params(struct parser *p)
{
    struct scenario *sc = p->sc;
    struct buf names = BUF_INIT;
    int rc = 0;

    for (size_t i = 0; i < p->n_settings && rc == 0; i++) {
        const struct scenario_setting *st = &p->settings[i];
        if (scenario_param_value(sc, st->name) != NULL)
            continue;
        for (size_t k = 0; k < sc->n_params; k++)
            buf_printf(&names, "%s%s", k ? ", " : "", sc->params[k].name);
        if (sc->n_params == 0)
            rc = fail_setting(p, st,
                              "the scenario declares no parameters (write 'param %s "
                              "DEFAULT' in its header)",
                              st->name);
        else
            rc = fail_setting(p, st, "the scenario has no parameter '%s' (it has %s)", st->name,
                              names.data);
    }
    for (size_t i = 0; i < sc->n_params && rc == 0 && !p->served; i++) {
        if (p->uses[i] > 0)
            continue;
        p->line = sc->params[i].line;
        rc = fail_at(p, sc->params[i].col,
                     "parameter '%s' is never used: write ${%s} where its value goes, or remove "
                     "the line (inside strings ${...} is plain text)",
                     sc->params[i].name, sc->params[i].name);
    }
    buf_free(&names);
    return rc;
}

/* A parser for text into a new scenario; messages name path (NULL: none); settings
 * (borrowed) override the defaults of the parameters. */
static void parser_init(struct parser *p, const char *path, const struct scenario_setting *settings,
                        size_t n_settings, char *err, size_t errsz)
{
    memset(p, 0, sizeof(*p));
    p->path = path;
    p->err = err;
    p->errsz = errsz;
    p->settings = settings;
    p->n_settings = n_settings;
    p->sc = xcalloc(1, sizeof(*p->sc));
    p->sc->seed = SCENARIO_DEFAULT_SEED;
    p->sc->timeout_ms = SCENARIO_DEFAULT_TIMEOUT_MS;
    if (err != NULL && errsz > 0)
        err[0] = '\0';
}

/* Lex and parse every line of text into p->sc. Returns 0 or -1 (p->err set). */
static int parser_run(struct parser *p, const char *text, size_t len)
{
    size_t pos = 0;

    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t line_len = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
        p->line++;
        p->line_text = text + pos;
        p->line_len = line_len;
        clear_toks(p);
        if (lex_line(p) < 0)
            return -1;
        if (p->n_toks > 0 && parse_statement(p) < 0)
            return -1;
        pos += line_len + 1;
        if (nl == NULL)
            break;
    }
    return 0;
}

/* Free what the parser holds; returns its scenario on success (rc 0), else frees it too. */
static struct scenario *parser_finish(struct parser *p, int rc)
{
    struct scenario *sc = rc == 0 ? p->sc : NULL;

    clear_toks(p);
    free(p->toks);
    free(p->uses);
    for (size_t i = 0; i < p->n_node_lines; i++) {
        for (size_t w = 0; w < p->node_lines[i].n_words; w++)
            free(p->node_lines[i].words[w]);
        free(p->node_lines[i].words);
    }
    free(p->node_lines);
    if (rc != 0)
        scenario_free(p->sc);
    return sc;
}

/* Parse text into p->sc and check that it is complete: a scenario declares its nodes and uses
 * its parameters, a text of steps holds one. Returns 0 with *out, or -1 with *out = NULL. */
static int parser_parse(struct parser *p, const char *text, size_t len, struct scenario **out)
{
    int rc = check_settings(p);

    if (rc == 0)
        rc = parser_run(p, text, len);
    clear_toks(p); /* the checks below concern no word of the last line */
    if (rc == 0 && p->steps_only && p->sc->n_steps == 0) {
        p->line = 1;
        rc = fail_at(p, 1, "no step: send one or more steps, one a line (e.g. 'append n0 \"x\"')");
    } else if (rc == 0 && !p->steps_only && p->sc->nodes == 0) {
        p->line = 1;
        rc = fail_at(p, 1, "missing 'nodes N': every scenario declares its number of nodes first");
    } else if (rc == 0 && !p->steps_only) {
        rc = check_params(p) < 0 || resolve_node_lines(p) < 0 ? -1 : 0;
    }
    *out = parser_finish(p, rc);
    return rc;
}

/* Parse a whole scenario; served: for chainlab-sim serve (see scenario_parse_served). */
static int parse_text(const char *path, const char *text, size_t len,
                      const struct scenario_setting *settings, size_t n_settings, bool served,
                      struct scenario **out, char *err, size_t errsz)
{
    struct parser p;
    parser_init(&p, path != NULL ? path : "<input>", settings, n_settings, err, errsz);
    p.served = served;
    p.sc->path = xstrdup(p.path);
    return parser_parse(&p, text, len, out);
}

int scenario_parse_with(const char *path, const char *text, size_t len,
                        const struct scenario_setting *settings, size_t n_settings,
                        struct scenario **out, char *err, size_t errsz)
{
    return parse_text(path, text, len, settings, n_settings, false, out, err, errsz);
}

int scenario_parse_served(const char *path, const char *text, size_t len,
                          const struct scenario_setting *settings, size_t n_settings,
                          struct scenario **out, char *err, size_t errsz)
{
    return parse_text(path, text, len, settings, n_settings, true, out, err, errsz);
}

int scenario_parse(const char *path, const char *text, size_t len, struct scenario **out, char *err,
                   size_t errsz)
{
    return scenario_parse_with(path, text, len, NULL, 0, out, err, errsz);
}

int scenario_parse_steps(const struct scenario *header, const char *text, size_t len,
                         struct scenario **out, char *err, size_t errsz)
{
    struct parser p;
    struct scenario *sc;

    parser_init(&p, NULL, NULL, 0, err, errsz);
    p.steps_only = true;
    sc = p.sc;
    sc->path = xstrdup(header->path);
    sc->nodes = header->nodes;
    sc->links_direct = header->links_direct;
    sc->params = xcalloc(header->n_params + 1, sizeof(*sc->params));
    for (size_t i = 0; i < header->n_params; i++) {
        const struct scenario_param *from = &header->params[i];
        struct scenario_param *pm = &sc->params[i];
        pm->name = xstrdup(from->name);
        pm->default_value = xstrdup(from->default_value);
        pm->value = xstrdup(from->value);
        pm->origin = xstrdup(from->origin);
        pm->line = from->line;
        pm->col = from->col;
    }
    sc->n_params = header->n_params;
    p.cap_params = header->n_params + 1;
    p.uses = xcalloc(header->n_params + 1, sizeof(*p.uses));
    return parser_parse(&p, text, len, out);
}

static void load_fail(char *err, size_t errsz, const char *path, const char *reason)
{
    if (err != NULL && errsz > 0)
        snprintf(err, errsz, "%s: cannot read: %s", path, reason);
}

int scenario_load(const char *path, struct scenario **out, char *err, size_t errsz)
{
    return scenario_load_with(path, NULL, 0, out, err, errsz);
}

/* Read the file at path and parse it as parse_text() does. */
static int load_file(const char *path, const struct scenario_setting *settings, size_t n_settings,
                     bool served, struct scenario **out, char *err, size_t errsz)
{
    FILE *f = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = -1;

    *out = NULL;
    f = fopen(path, "rb");
    if (f == NULL) {
        load_fail(err, errsz, path, strerror(errno));
        goto out;
    }
    text = xmalloc(SCENARIO_MAX_FILE_BYTES + 1);
    len = fread(text, 1, SCENARIO_MAX_FILE_BYTES + 1, f);
    if (ferror(f)) {
        load_fail(err, errsz, path, strerror(errno));
        goto out;
    }
    if (len > SCENARIO_MAX_FILE_BYTES) {
        char reason[64];
        snprintf(reason, sizeof(reason), "larger than the limit of %u bytes",
                 SCENARIO_MAX_FILE_BYTES);
        load_fail(err, errsz, path, reason);
        goto out;
    }
    rc = parse_text(path, text, len, settings, n_settings, served, out, err, errsz);
out:
    if (f != NULL)
        fclose(f);
    free(text);
    return rc;
}

int scenario_load_with(const char *path, const struct scenario_setting *settings, size_t n_settings,
                       struct scenario **out, char *err, size_t errsz)
{
    return load_file(path, settings, n_settings, false, out, err, errsz);
}

int scenario_load_served(const char *path, const struct scenario_setting *settings,
                         size_t n_settings, struct scenario **out, char *err, size_t errsz)
{
    return load_file(path, settings, n_settings, true, out, err, errsz);
}

void scenario_free(struct scenario *sc)
{
    if (sc == NULL)
        return;
    for (size_t i = 0; i < sc->n_steps; i++)
        step_clear(&sc->steps[i]);
    for (unsigned i = 0; sc->node_args != NULL && i < sc->nodes; i++) {
        for (char **a = sc->node_args[i]; a != NULL && *a != NULL; a++)
            free(*a);
        free(sc->node_args[i]);
    }
    free(sc->node_args);
    for (unsigned i = 0; sc->node_cmds != NULL && i < sc->nodes; i++)
        free(sc->node_cmds[i]);
    free(sc->node_cmds);
    for (size_t i = 0; i < sc->n_params; i++) {
        free(sc->params[i].name);
        free(sc->params[i].default_value);
        free(sc->params[i].value);
        free(sc->params[i].origin);
    }
    free(sc->params);
    free(sc->steps);
    free(sc->edges);
    free(sc->path);
    free(sc);
}

int scenario_check_name(const char *name, size_t len, char *err, size_t errsz)
{
    const char *why = NULL;

    if (len == 0)
        why = "the name is empty";
    else if (len > SCENARIO_MAX_PARAM_NAME)
        why = "the name is longer than 64 bytes";
    for (size_t i = 0; why == NULL && i < len; i++) {
        if (!is_name_byte(name[i], i == 0))
            why = i == 0 && name[0] >= '0' && name[0] <= '9'
                      ? "a name starts with a letter or '_'"
                      : "a name holds only letters, digits and '_'";
    }
    if (why == NULL)
        return 0;
    if (err != NULL && errsz > 0) {
        char q[QUOTE_SZ];
        snprintf(err, errsz, "'%s': %s", log_escape(name, len, QUOTE_MAX, q, sizeof(q)), why);
    }
    return -1;
}

int scenario_check_value(const char *value, size_t len, char *err, size_t errsz)
{
    const char *why = NULL;

    if (len == 0)
        why = "the value is empty";
    else if (len > SCENARIO_MAX_PARAM_VALUE)
        why = "the value is longer than 256 bytes";
    else if (memmem(value, len, "${", 2) != NULL)
        why = "a value cannot refer to a parameter";
    for (size_t i = 0; why == NULL && i < len; i++) {
        if (value[i] == '\0' || value[i] == '\n' || ends_word(value, i, len))
            why = "a value is one word: no blanks, '#', '\"', '|', '<', '>', '=', '!' or '->'";
    }
    if (why == NULL)
        return 0;
    if (err != NULL && errsz > 0)
        snprintf(err, errsz, "%s", why);
    return -1;
}

const char *scenario_param_value(const struct scenario *sc, const char *name)
{
    for (size_t i = 0; i < sc->n_params; i++) {
        if (strcmp(sc->params[i].name, name) == 0)
            return sc->params[i].value;
    }
    return NULL;
}

int scenario_check_kinds(const struct scenario *sc, unsigned supported, char *err, size_t errsz)
{
    for (size_t i = 0; i < sc->n_steps; i++) {
        const struct scenario_step *st = &sc->steps[i];
        if ((supported & SCENARIO_STEP_BIT(st->kind)) == 0) {
            if (err != NULL && errsz > 0)
                snprintf(err, errsz, "%s:%u:%u: '%s' is not supported yet", sc->path, st->line,
                         st->col, scenario_step_kind_name(st->kind));
            return -1;
        }
    }
    return 0;
}

bool scenario_step_kind_is_fault(enum scenario_step_kind kind)
{
    switch (kind) {
    case SCENARIO_STEP_PARTITION:
    case SCENARIO_STEP_CUT:
    case SCENARIO_STEP_HEAL:
    case SCENARIO_STEP_LATENCY:
    case SCENARIO_STEP_LOSS:
    case SCENARIO_STEP_BANDWIDTH:
    case SCENARIO_STEP_RESET:
    case SCENARIO_STEP_CLEAR:
        return true;
    default:
        return false;
    }
}

const char *scenario_step_kind_name(enum scenario_step_kind kind)
{
    if ((unsigned)kind >= SCENARIO_STEP_KIND_COUNT)
        return "?";
    return step_kind_names[kind];
}

const char *scenario_cond_kind_name(enum scenario_cond_kind kind)
{
    return (unsigned)kind < N_CONDS ? cond_names[kind] : "?";
}

const char *scenario_cmp_name(enum scenario_cmp op)
{
    return (unsigned)op < N_CMPS ? cmp_names[op] : "?";
}

const char *scenario_topology_name(enum scenario_topology topology)
{
    return (unsigned)topology < N_TOPOLOGIES ? topology_names[topology] : "?";
}

const char *scenario_partition_kind_name(enum scenario_partition_kind kind)
{
    return (unsigned)kind < N_PARTITIONS ? partition_names[kind] : "?";
}

bool scenario_cmp_holds(enum scenario_cmp op, uint64_t lhs, uint64_t rhs)
{
    switch (op) {
    case SCENARIO_CMP_EQ:
        return lhs == rhs;
    case SCENARIO_CMP_NE:
        return lhs != rhs;
    case SCENARIO_CMP_LT:
        return lhs < rhs;
    case SCENARIO_CMP_LE:
        return lhs <= rhs;
    case SCENARIO_CMP_GT:
        return lhs > rhs;
    case SCENARIO_CMP_GE:
        return lhs >= rhs;
    }
    return false;
}
