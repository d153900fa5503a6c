/* fuzz_scenario: scenario_parse() on arbitrary bytes must either give a scenario (freed here) or
 * fail with an error of the form "fuzz.scn:LINE:COL: message", LINE and COL at least 1.
 * Input: the text of a .scn file. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "scenario.h"

#define FUZZ_PATH "fuzz.scn"
#define ERR_SZ    1024 /* larger than any message, so the position is never cut */

/* Skip a decimal number >= 1 at s; returns the byte after it, or NULL when there is none. */
static const char *skip_position(const char *s)
{
    if (*s < '1' || *s > '9')
        return NULL;
    while (*s >= '0' && *s <= '9')
        s++;
    return s;
}

static bool error_has_position(const char *err)
{
    size_t n = strlen(FUZZ_PATH);
    if (strncmp(err, FUZZ_PATH, n) != 0 || err[n] != ':')
        return false;
    const char *s = skip_position(err + n + 1);
    if (s == NULL || *s != ':')
        return false;
    s = skip_position(s + 1);
    return s != NULL && s[0] == ':' && s[1] == ' ' && s[2] != '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scenario *sc = (struct scenario *)1; /* must be set to NULL on failure */
    char err[ERR_SZ];

    if (scenario_parse(FUZZ_PATH, (const char *)data, size, &sc, err, sizeof(err)) < 0) {
        if (sc != NULL || !error_has_position(err))
            fuzz_fail(__LINE__);
        return 0;
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
        (scenario_check_kinds(sc, 0, err, sizeof(err)) == 0 || !error_has_position(err)))
        fuzz_fail(__LINE__);
    scenario_free(sc);
    return 0;
}
