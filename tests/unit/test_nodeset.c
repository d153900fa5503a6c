/* Unit tests for sim/nodeset.c: parsing, formatting and set operations, table-driven. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "nodeset.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- nodeset_parse: accepted ---------------------------------------------------------- */

static const struct {
    const char *text;
    unsigned n_nodes;
    const char *canonical; /* nodeset_format of the result */
    unsigned count;        /* explicit members */
} parse_ok[] = {
    {"n3", 6, "n3", 1},
    {"n0", 1, "n0", 1},
    {"n2-n5", 6, "n2-n5", 4},
    {"n0,n3-n5", 6, "n0,n3-n5", 4},
    {"all", 6, "all", 0},
    {"n5,n0", 6, "n0,n5", 2},
    {"n1,n1", 6, "n1", 1},
    {"n0-n0", 6, "n0", 1},
    {"n1-n2,n2-n3", 6, "n1-n3", 3},
    {"n0,n2,n4", 6, "n0,n2,n4", 3},
    {"n4,n3,n2", 6, "n2-n4", 3},
    {"n16383", 16384, "n16383", 1},
    {"n0-n16383", 16384, "n0-n16383", 16384},
    {"n62-n65", 100, "n62-n65", 4},
    {"n63,n64", 100, "n63-n64", 2},
    {"n10-n12,n0", 13, "n0,n10-n12", 4},
};

START_TEST(test_parse_ok)
{
    struct nodeset s;
    struct buf b = BUF_INIT;
    char err[NODESET_ERR_SZ];
    size_t off = 99;

    int rc = nodeset_parse(parse_ok[_i].text, strlen(parse_ok[_i].text), parse_ok[_i].n_nodes, &s,
                           &off, err, sizeof(err));
    ck_assert_msg(rc == 0, "'%s': %s", parse_ok[_i].text, err);
    nodeset_format(&s, &b);
    ck_assert_str_eq(b.data, parse_ok[_i].canonical);
    ck_assert_uint_eq(nodeset_count(&s), parse_ok[_i].count);
    ck_assert(s.all == (strcmp(parse_ok[_i].text, "all") == 0));
    buf_free(&b);
}
END_TEST

/* The parser reads only len bytes: the text need not be NUL-terminated. */
START_TEST(test_parse_respects_len)
{
    struct nodeset s;
    char err[NODESET_ERR_SZ];
    const char text[] = "n1-n2,n9 trailing";

    ck_assert_int_eq(nodeset_parse(text, 5, 3, &s, NULL, err, sizeof(err)), 0);
    ck_assert_uint_eq(nodeset_count(&s), 2);
    ck_assert_int_eq(nodeset_parse(text, 3, 3, &s, NULL, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "incomplete range 'n1-'"));
    ck_assert_int_eq(nodeset_parse(text, 2, 3, &s, NULL, NULL, 0), 0);
}
END_TEST

/* ---- nodeset_parse: rejected ---------------------------------------------------------- */

static const struct {
    const char *text;
    unsigned n_nodes;
    size_t err_off;   /* offset of the offending part */
    const char *want; /* substring of the message */
} parse_bad[] = {
    {"n9", 6, 0, "unknown node 'n9' (the scenario has 6 nodes: n0..n5)"},
    {"n6", 6, 0, "unknown node 'n6'"},
    {"n1", 1, 0, "unknown node 'n1' (the scenario has 1 node: n0)"},
    {"n0,n9", 6, 3, "unknown node 'n9'"},
    {"n1-n9", 6, 3, "unknown node 'n9'"},
    {"n0,n1,n7-n8", 6, 6, "unknown node 'n7'"},
    {"n99999999999", 6, 0, "unknown node 'n99999999999'"},
    {"n16384", 16384, 0, "unknown node 'n16384'"},
    {"n5-n2", 6, 0, "reversed range 'n5-n2': write 'n2-n5'"},
    {"n0,n4-n3", 6, 3, "reversed range 'n4-n3'"},
    {"n01", 6, 0, "bad node name 'n01': no leading zeros, write 'n1'"},
    {"n1-n02", 6, 3, "no leading zeros, write 'n2'"},
    {"", 6, 0, "expected a node set"},
    {",n1", 6, 0, "empty element in node list"},
    {"n1,", 6, 3, "empty element in node list"},
    {"n1,,n2", 6, 3, "empty element in node list"},
    {"all,n1", 6, 0, "'all' cannot be part of a node list"},
    {"n1,all", 6, 3, "'all' cannot be part of a node list"},
    {"x3", 6, 0, "bad node set 'x3': expected a node like n3"},
    {"n", 6, 0, "bad node set 'n'"},
    {"N3", 6, 0, "bad node set 'N3'"},
    {"ALL", 6, 0, "bad node set 'ALL'"},
    {"n3x", 6, 0, "bad node set 'n3x'"},
    {"n-1", 6, 0, "bad node set 'n'"},
    {"n1-", 6, 0, "incomplete range 'n1-'"},
    {"-n1", 6, 0, "incomplete range '-n1'"},
    {"n1--n3", 6, 3, "bad node set '-n3'"},
    {"n1-n2-n3", 6, 3, "bad node set 'n2-n3'"},
    {"n\xc3\xa9", 6, 0, "bad node set 'n\\xc3\\xa9'"},
};

START_TEST(test_parse_bad)
{
    struct nodeset s;
    char err[NODESET_ERR_SZ];
    size_t off = 99;

    nodeset_fill(&s, 3);
    int rc = nodeset_parse(parse_bad[_i].text, strlen(parse_bad[_i].text), parse_bad[_i].n_nodes,
                           &s, &off, err, sizeof(err));
    ck_assert_msg(rc == -1, "'%s' parsed", parse_bad[_i].text);
    ck_assert_msg(strstr(err, parse_bad[_i].want) != NULL, "'%s': got \"%s\", want \"%s\"",
                  parse_bad[_i].text, err, parse_bad[_i].want);
    ck_assert_msg(off == parse_bad[_i].err_off, "'%s': offset %zu, want %zu", parse_bad[_i].text,
                  off, parse_bad[_i].err_off);
    ck_assert_uint_eq(nodeset_count(&s), 0); /* cleared on failure */
    ck_assert(!s.all);
}
END_TEST

/* ---- nodeset_parse_node ----------------------------------------------------------------- */

static const struct {
    const char *text;
    int node;         /* -1: an error */
    const char *want; /* error substring */
} node_rows[] = {
    {"n0", 0, NULL},
    {"n5", 5, NULL},
    {"n6", -1, "unknown node 'n6' (the scenario has 6 nodes: n0..n5)"},
    {"all", -1, "expected a single node like n3, got 'all'"},
    {"n1-n2", -1, "expected a single node like n3, got 'n1-n2'"},
    {"n1,n2", -1, "expected a single node like n3, got 'n1,n2'"},
    {"n007", -1, "no leading zeros, write 'n7'"},
    {"x", -1, "bad node set 'x'"},
    {"", -1, "bad node set ''"},
};

START_TEST(test_parse_node)
{
    char err[NODESET_ERR_SZ] = "";
    unsigned node = 77;
    int rc = nodeset_parse_node(node_rows[_i].text, strlen(node_rows[_i].text), 6, &node, err,
                                sizeof(err));
    if (node_rows[_i].node >= 0) {
        ck_assert_msg(rc == 0, "'%s': %s", node_rows[_i].text, err);
        ck_assert_uint_eq(node, (unsigned)node_rows[_i].node);
    } else {
        ck_assert_int_eq(rc, -1);
        ck_assert_msg(strstr(err, node_rows[_i].want) != NULL, "'%s': got \"%s\"",
                      node_rows[_i].text, err);
    }
}
END_TEST

/* ---- set operations ------------------------------------------------------------------- */

START_TEST(test_members_and_iteration)
{
    static const unsigned members[] = {0, 1, 63, 64, 65, 127, 128, 500, 1023, 16382, 16383};
    struct nodeset s;
    unsigned k = 0;

    nodeset_clear(&s);
    ck_assert_int_eq(nodeset_next(&s, -1), -1);
    for (size_t i = 0; i < ARRAY_LEN(members); i++)
        nodeset_add(&s, members[i]);
    nodeset_add(&s, SIM_MAX_NODES);     /* ignored */
    nodeset_add(&s, SIM_MAX_NODES + 9); /* ignored */
    ck_assert_uint_eq(nodeset_count(&s), ARRAY_LEN(members));
    for (int i = nodeset_next(&s, -1); i >= 0; i = nodeset_next(&s, i)) {
        ck_assert_uint_lt(k, ARRAY_LEN(members));
        ck_assert_int_eq(i, (int)members[k++]);
    }
    ck_assert_uint_eq(k, ARRAY_LEN(members));
    ck_assert(nodeset_has(&s, 63));
    ck_assert(!nodeset_has(&s, 62));
    ck_assert(!nodeset_has(&s, SIM_MAX_NODES));
    nodeset_remove(&s, 63);
    nodeset_remove(&s, SIM_MAX_NODES); /* ignored */
    ck_assert(!nodeset_has(&s, 63));
    ck_assert_int_eq(nodeset_next(&s, 1), 64);
    ck_assert_int_eq(nodeset_next(&s, 1023), 16382);
    ck_assert_int_eq(nodeset_next(&s, 16383), -1);
}
END_TEST

START_TEST(test_fill_union_subtract_intersects)
{
    struct nodeset a, b, c;
    struct buf out = BUF_INIT;

    nodeset_fill(&a, 6);
    ck_assert_uint_eq(nodeset_count(&a), 6);
    nodeset_fill(&c, SIM_MAX_NODES + 5);
    ck_assert_uint_eq(nodeset_count(&c), SIM_MAX_NODES);
    nodeset_clear(&b);
    nodeset_add(&b, 2);
    nodeset_add(&b, 3);
    nodeset_add(&b, 70);
    ck_assert(nodeset_intersects(&a, &b));
    nodeset_subtract(&a, &b);
    nodeset_format(&a, &out);
    ck_assert_str_eq(out.data, "n0-n1,n4-n5");
    ck_assert(!nodeset_intersects(&a, &b));
    nodeset_union(&a, &b);
    buf_clear(&out);
    nodeset_format(&a, &out);
    ck_assert_str_eq(out.data, "n0-n5,n70");
    buf_free(&out);
}
END_TEST

START_TEST(test_resolve_and_format_edges)
{
    struct nodeset all, running, out, empty;
    struct buf b = BUF_INIT;
    char err[NODESET_ERR_SZ];

    ck_assert_int_eq(nodeset_parse("all", 3, 6, &all, NULL, err, sizeof(err)), 0);
    nodeset_fill(&running, 6);
    nodeset_remove(&running, 2);
    nodeset_resolve(&all, &running, &out);
    ck_assert(!out.all);
    nodeset_format(&out, &b);
    ck_assert_str_eq(b.data, "n0-n1,n3-n5");

    /* a named set resolves to itself, and out may alias s */
    ck_assert_int_eq(nodeset_parse("n2", 2, 6, &out, NULL, err, sizeof(err)), 0);
    nodeset_resolve(&out, &running, &out);
    ck_assert_uint_eq(nodeset_count(&out), 1);
    ck_assert(nodeset_has(&out, 2));

    nodeset_clear(&empty);
    buf_clear(&b);
    nodeset_format(&empty, &b);
    ck_assert_uint_eq(b.len, 0);
    buf_free(&b);
}
END_TEST

/* Every format round-trips through the parser. */
START_TEST(test_format_round_trip)
{
    struct nodeset s, back;
    struct buf b = BUF_INIT;
    char err[NODESET_ERR_SZ];
    unsigned seed = 12345;

    for (int round = 0; round < 200; round++) {
        nodeset_clear(&s);
        for (unsigned i = 0; i < SIM_MAX_NODES; i++) {
            seed = seed * 1103515245u + 12345u;
            if ((seed >> 16) % 3 == 0)
                nodeset_add(&s, i);
        }
        buf_clear(&b);
        nodeset_format(&s, &b);
        ck_assert_int_eq(nodeset_parse(b.data, b.len, SIM_MAX_NODES, &back, NULL, err, sizeof(err)),
                         0);
        ck_assert_mem_eq(s.bits, back.bits, sizeof(s.bits));
    }
    buf_free(&b);
}
END_TEST

static Suite *nodeset_suite(void)
{
    Suite *s = suite_create("nodeset");
    TCase *tc = tcase_create("parse");

    tcase_add_loop_test(tc, test_parse_ok, 0, ARRAY_LEN(parse_ok));
    tcase_add_loop_test(tc, test_parse_bad, 0, ARRAY_LEN(parse_bad));
    tcase_add_loop_test(tc, test_parse_node, 0, ARRAY_LEN(node_rows));
    tcase_add_test(tc, test_parse_respects_len);
    suite_add_tcase(s, tc);

    tc = tcase_create("ops");
    tcase_add_test(tc, test_members_and_iteration);
    tcase_add_test(tc, test_fill_union_subtract_intersects);
    tcase_add_test(tc, test_resolve_and_format_edges);
    tcase_add_test(tc, test_format_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(nodeset_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
