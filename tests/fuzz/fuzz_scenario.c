/* fuzz_scenario: scenario_parse() on arbitrary bytes must either give a scenario (freed here) or
 * fail with an error of the form "fuzz.scn:LINE:COL: message", LINE and COL at least 1.
 * Input: the text of a .scn file. When it begins with "#set ", the rest of that line is a list of
 * NAME=VALUE words given as settings (the sim's --set): then an error may also have the form
 * "fuzz.scn: --set NAME=VALUE: message". The same bytes posted as steps (scenario_parse_steps()
 * after a header of 8 nodes with the parameter N) give at least one step or "LINE:COL: message". */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "scenario.h"

#define FUZZ_PATH    "fuzz.scn"
#define ERR_SZ       1024 /* larger than any message, so the position is never cut */
#define MAX_SETTINGS 8    /* NAME=VALUE words read from a "#set " line */
#define SET_LINE_MAX 512  /* bytes of that line used */

/* Skip a decimal number >= 1 at s; returns the byte after it, or NULL when there is none. */
static const char *skip_position(const char *s)
{
    if (*s < '1' || *s > '9')
        return NULL;
    while (*s >= '0' && *s <= '9')
        s++;
    return s;
}

/* err is "PATH:LINE:COL: message" (path NULL: "LINE:COL: message"). */
static bool error_has_position(const char *err, const char *path)
{
    size_t n = path ? strlen(path) : 0;
    if (path && (strncmp(err, path, n) != 0 || err[n] != ':'))
        return false;
    const char *s = skip_position(err + (path ? n + 1 : 0));
    if (s == NULL || *s != ':')
        return false;
    s = skip_position(s + 1);
    return s != NULL && s[0] == ':' && s[1] == ' ' && s[2] != '\0';
}

/* The bytes as the body of a POST /steps to a served 8-node cluster. */
static void fuzz_steps(const uint8_t *data, size_t size)
{
    static const char header_text[] = "nodes 8\nparam N 2\nsync n${N}\n";
    struct scenario *header = NULL, *sc = (struct scenario *)1;
    char err[ERR_SZ];

    if (scenario_parse(FUZZ_PATH, header_text, sizeof(header_text) - 1, &header, err, sizeof(err)))
        fuzz_fail(__LINE__);
    if (scenario_parse_steps(header, (const char *)data, size, &sc, err, sizeof(err)) < 0) {
        if (sc != NULL || !error_has_position(err, NULL))
            fuzz_fail(__LINE__);
    } else if (sc == NULL || sc->n_steps == 0 || sc->nodes != 8 || sc->steps[0].line == 0) {
        fuzz_fail(__LINE__);
    }
    scenario_free(sc);
    scenario_free(header);
}

/* An error about a setting: "fuzz.scn: --set ...: message". */
static bool error_is_setting(const char *err, size_t n_settings)
{
    static const char prefix[] = FUZZ_PATH ": --set ";
    return n_settings > 0 && strncmp(err, prefix, sizeof(prefix) - 1) == 0;
}

/* Split "#set A=1 B=2" (the first line of data) into settings pointing into line. */
static size_t read_settings(const uint8_t *data, size_t size, char *line,
                            struct scenario_setting *sets)
{
    size_t n = 0, len = 0;
    if (size < 5 || memcmp(data, "#set ", 5) != 0)
        return 0;
    while (5 + len < size && len < SET_LINE_MAX && data[5 + len] != '\n' && data[5 + len] != 0)
        len++;
    memcpy(line, data + 5, len);
    line[len] = '\0';
    for (char *save = NULL, *w = strtok_r(line, " ", &save); w != NULL && n < MAX_SETTINGS;
         w = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(w, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        sets[n++] = (struct scenario_setting){w, eq + 1, "--set"};
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scenario *sc = (struct scenario *)1; /* must be set to NULL on failure */
    struct scenario_setting sets[MAX_SETTINGS];
    char line[SET_LINE_MAX + 1];
    char err[ERR_SZ];
    size_t n_sets = read_settings(data, size, line, sets);

    fuzz_steps(data, size);
    if (scenario_parse_with(FUZZ_PATH, (const char *)data, size, sets, n_sets, &sc, err,
                            sizeof(err)) < 0) {
        if (sc != NULL || !(error_has_position(err, FUZZ_PATH) || error_is_setting(err, n_sets)))
            fuzz_fail(__LINE__);
        return 0;
    }
    for (size_t i = 0; i < sc->n_params; i++) {
        /* a parameter's value is its default or a setting, always a valid value */
        const char *v = sc->params[i].value;
        if (scenario_check_value(v, strlen(v), NULL, 0) != 0)
            fuzz_fail(__LINE__);
    }
    if (sc == NULL || sc->nodes == 0 || strcmp(sc->path, FUZZ_PATH) != 0)
        fuzz_fail(__LINE__);
    for (size_t i = 0; i < sc->n_steps; i++) {
        const struct scenario_step *st = &sc->steps[i];
        if (st->line == 0 || st->col == 0 || st->text == NULL ||
            strcmp(scenario_step_kind_name(st->kind), "?") == 0)
            fuzz_fail(__LINE__);
    }
    /* Allowing every kind must accept; allowing none must reject with a position. */
    if (scenario_check_kinds(sc, SCENARIO_STEP_ALL_BITS, err, sizeof(err)) != 0)
        fuzz_fail(__LINE__);
    if (sc->n_steps > 0 &&
        (scenario_check_kinds(sc, 0, err, sizeof(err)) == 0 || !error_has_position(err, FUZZ_PATH)))
        fuzz_fail(__LINE__);
    scenario_free(sc);
    return 0;
}
