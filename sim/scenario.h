/* scenario: the parsed form (AST) of a `.scn` scenario file, and its parser. */
#ifndef CHAINLAB_SCENARIO_H
#define CHAINLAB_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodeset.h"

#define SCENARIO_MAX_FILE_BYTES     (4u << 20) /* largest scenario file scenario_load reads */
#define SCENARIO_MAX_DURATION_MS    (30LL * 24 * 3600000) /* longest duration: 30 days */
#define SCENARIO_MAX_APPEND_COUNT   10000000u /* most appends one `append NODE COUNT` makes */
#define SCENARIO_MAX_LOAD_RATE      1000000u  /* most appends per second for `load` */
#define SCENARIO_DEFAULT_SEED       1u        /* seed when the file has no `seed` */
#define SCENARIO_DEFAULT_TIMEOUT_MS 60000     /* timeout when the file has no `timeout` */
#define SCENARIO_LOSS_SCALE         1000000u  /* loss is stored in parts per million */
#define SCENARIO_MAX_PARAM_NAME     64        /* bytes in a parameter's name */
#define SCENARIO_MAX_PARAM_VALUE    256       /* bytes in a parameter's value */

enum scenario_topology {
    SCENARIO_TOPOLOGY_NONE = 0, /* no edges (the default) */
    SCENARIO_TOPOLOGY_LINE,     /* n0-n1-...-n<N-1> */
    SCENARIO_TOPOLOGY_RING,     /* a line plus n<N-1>-n0 */
    SCENARIO_TOPOLOGY_STAR,     /* every node to the centre (arg, default 0) */
    SCENARIO_TOPOLOGY_MESH,     /* every pair */
    SCENARIO_TOPOLOGY_TREE,     /* arg = fanout >= 1 */
    SCENARIO_TOPOLOGY_GRID,     /* arg = columns >= 1 */
    SCENARIO_TOPOLOGY_RANDOM,   /* arg = degree, 1 <= degree < N; connected, from the seed */
};

/* One `link` / `unlink` header statement; applied in file order after the topology. */
struct scenario_edge_op {
    bool remove;         /* unlink */
    bool one_way;        /* `A -> B`; otherwise both ways */
    struct nodeset from; /* A (may be all) */
    struct nodeset to;   /* B (may be all); pairs with from == to are skipped */
    unsigned line, col;  /* position of the keyword */
};

/* Which links a fault step acts on. */
enum scenario_links_kind {
    SCENARIO_LINKS_ALL = 0,   /* `all` (or omitted for clear): every link */
    SCENARIO_LINKS_TOUCHING,  /* a node set: every link into or out of those nodes (a) */
    SCENARIO_LINKS_ONE_WAY,   /* `A -> B`: links from a to b */
    SCENARIO_LINKS_BOTH_WAYS, /* `A <-> B`: links from a to b and from b to a */
};

struct scenario_links {
    enum scenario_links_kind kind;
    struct nodeset a; /* TOUCHING, ONE_WAY, BOTH_WAYS */
    struct nodeset b; /* ONE_WAY, BOTH_WAYS */
};

enum scenario_cmp {
    SCENARIO_CMP_EQ = 0, /* == */
    SCENARIO_CMP_NE,     /* != */
    SCENARIO_CMP_LT,     /* < */
    SCENARIO_CMP_LE,     /* <= */
    SCENARIO_CMP_GT,     /* > */
    SCENARIO_CMP_GE,     /* >= */
};

enum scenario_cond_kind {
    SCENARIO_COND_CONVERGED = 0, /* converged [NODES] */
    SCENARIO_COND_DIVERGED,      /* diverged [NODES] */
    SCENARIO_COND_HEIGHT,        /* height OP N [on NODES] */
    SCENARIO_COND_CONTAINS,      /* contains "DATA" [on NODES] */
    SCENARIO_COND_LOST,          /* lost OP N [on NODE] */
    SCENARIO_COND_ALIVE,         /* alive NODES */
    SCENARIO_COND_DOWN,          /* down NODES */
    SCENARIO_COND_LOADS_DONE,    /* loads done: every background load has ended */
    SCENARIO_COND_PEERS,         /* peers OP N [on NODES]: the length of each one's GET /peers */
};

struct scenario_cond {
    enum scenario_cond_kind kind;
    struct nodeset nodes; /* every kind but LOST; "all" when omitted */
    enum scenario_cmp op; /* HEIGHT, LOST, PEERS */
    uint64_t value;       /* HEIGHT, LOST, PEERS: the N */
    char *data;           /* CONTAINS: owned, NUL-terminated, valid UTF-8 */
    int node;             /* LOST: the node, or -1 for the lowest-numbered running node */
};

enum scenario_partition_kind {
    SCENARIO_PARTITION_GROUPS = 0,    /* explicit groups; unnamed nodes form one more group */
    SCENARIO_PARTITION_HALVES,        /* the lower-numbered half | the rest */
    SCENARIO_PARTITION_RANDOM_HALVES, /* a random half | the rest */
    SCENARIO_PARTITION_MAJORITY,      /* a random majority | the rest */
    SCENARIO_PARTITION_BRIDGE,        /* two halves plus one node that reaches both */
};

enum scenario_step_kind {
    SCENARIO_STEP_APPEND = 0,
    SCENARIO_STEP_LOAD,
    SCENARIO_STEP_SYNC,
    SCENARIO_STEP_PEER_ADD,
    SCENARIO_STEP_PEER_REMOVE,
    SCENARIO_STEP_PARTITION,
    SCENARIO_STEP_CUT,
    SCENARIO_STEP_HEAL,
    SCENARIO_STEP_LATENCY,
    SCENARIO_STEP_LOSS,
    SCENARIO_STEP_BANDWIDTH,
    SCENARIO_STEP_RESET,
    SCENARIO_STEP_CLEAR,
    SCENARIO_STEP_KILL,
    SCENARIO_STEP_STOP,
    SCENARIO_STEP_RESTART,
    SCENARIO_STEP_PAUSE,
    SCENARIO_STEP_RESUME,
    SCENARIO_STEP_SLEEP,
    SCENARIO_STEP_AWAIT,
    SCENARIO_STEP_EXPECT,
    SCENARIO_STEP_LOG,
    SCENARIO_STEP_KIND_COUNT /* number of kinds; not a kind */
};

#define SCENARIO_STEP_BIT(kind) (1u << (kind)) /* a kind's bit in a kinds mask */
#define SCENARIO_STEP_ALL_BITS  ((1u << SCENARIO_STEP_KIND_COUNT) - 1) /* every kind */

struct scenario_step {
    enum scenario_step_kind kind;
    unsigned line, col; /* position of the statement's first word */
    char *text;         /* owned: the statement as written, without comment and outer blanks */
    union {
        struct {
            unsigned node;
            char *data;     /* owned, valid UTF-8; NULL when count is used */
            uint64_t count; /* generated appends (1..SCENARIO_MAX_APPEND_COUNT); 0 with data */
        } append;
        struct {
            uint64_t per_s;       /* appends per second, 1..SCENARIO_MAX_LOAD_RATE */
            int64_t duration_ms;  /* > 0 */
            struct nodeset nodes; /* "all" when omitted */
        } load;
        struct nodeset nodes; /* SYNC, KILL, STOP, RESTART, PAUSE, RESUME */
        struct {
            unsigned from, to; /* distinct nodes: the peer entry of link from->to on from */
        } peer;
        struct {
            enum scenario_partition_kind kind;
            struct nodeset *groups; /* GROUPS: owned array, disjoint, none is "all" */
            size_t n_groups;        /* GROUPS: >= 1 */
        } partition;
        struct {
            struct nodeset from, to; /* pairs with from == to are skipped */
            bool one_way;            /* `A -> B`; otherwise both ways */
        } cut;
        struct {
            struct scenario_links links;
            int64_t delay_ms;
            int64_t jitter_ms; /* 0 when omitted */
        } latency;
        struct {
            struct scenario_links links;
            uint32_t per_million; /* share of new connections that hang, 0..SCENARIO_LOSS_SCALE */
        } loss;
        struct {
            struct scenario_links links;
            uint64_t bytes_per_s; /* >= 1 */
        } bandwidth;
        struct scenario_links links; /* RESET, CLEAR (kind ALL when clear has no LINKS) */
        int64_t sleep_ms;            /* SLEEP */
        struct {
            struct scenario_cond cond;
            int64_t within_ms;
        } await;
        struct scenario_cond expect; /* EXPECT */
        char *log_text;              /* LOG: owned, valid UTF-8 */
    };
};

/* One `param NAME DEFAULT` header line and the value in force for this parse. */
struct scenario_param {
    char *name;          /* owned */
    char *default_value; /* owned: as written on the param line */
    char *value;         /* owned: the default, or the setting that overrides it */
    char *origin;        /* owned: "default", or the setting's origin ("--set", "--sweep") */
    unsigned line, col;  /* position of NAME on the param line */
};

/* A value given for a parameter from outside the file (the sim's --set and --sweep). */
struct scenario_setting {
    const char *name;   /* borrowed */
    const char *value;  /* borrowed: one word (see scenario_check_value) */
    const char *origin; /* borrowed: how it was given, named in messages ("--set") */
};

struct scenario {
    char *path;     /* owned copy of the path given to the parser */
    unsigned nodes; /* 1..SIM_MAX_NODES */
    enum scenario_topology topology;
    unsigned topology_arg; /* STAR: centre node; TREE: fanout; GRID: columns; RANDOM: degree */
    uint64_t seed;         /* SCENARIO_DEFAULT_SEED unless `seed` was given */
    bool seed_given;       /* the file has a `seed` line (the sim's --seed still overrides) */
    int64_t timeout_ms;    /* > 0; SCENARIO_DEFAULT_TIMEOUT_MS unless `timeout` was given */
    bool links_direct;     /* `links direct`: no link layer (fault steps were rejected) */
    char ***node_args; /* owned: per node (nodes entries), a NULL-terminated list of the raw words
                        * of every node-args line naming it, in file order; {node} {port} {dir}
                        * untouched */
    char **node_cmds;  /* owned: per node, the template of the node-cmd line naming it, or NULL
                        * (the sim's --node-cmd, else its node program) */
    struct scenario_param *params; /* owned: in file order */
    size_t n_params;
    struct scenario_edge_op *edges; /* owned; link/unlink in file order */
    size_t n_edges;
    struct scenario_step *steps; /* owned; in file order */
    size_t n_steps;
};

/* Parse scenario text (len bytes, need not be NUL-terminated); path is only used in messages
 * (NULL reads "<input>"). Returns 0 with *out (caller frees with scenario_free()), or -1 with
 * *out = NULL and err = "FILE:LINE:COL: message" (COL 1-based, at the offending token). */
int scenario_parse(const char *path, const char *text, size_t len, struct scenario **out, char *err,
                   size_t errsz);
/* scenario_parse with values for the file's parameters: settings[i] overrides the default of
 * `param NAME`. A setting that names no parameter of the file, a name given twice or a value that
 * is not one word fails with err = "FILE: ORIGIN NAME=VALUE: reason" (no line). */
int scenario_parse_with(const char *path, const char *text, size_t len,
                        const struct scenario_setting *settings, size_t n_settings,
                        struct scenario **out, char *err, size_t errsz);
/* scenario_parse_with for the scenario of chainlab-sim serve: a parameter that text does not use
 * is no error (the steps posted later may use it). */
int scenario_parse_served(const char *path, const char *text, size_t len,
                          const struct scenario_setting *settings, size_t n_settings,
                          struct scenario **out, char *err, size_t errsz);
/* Parse text (len bytes) as steps only, in the context of header (its node count, links mode and
 * parameters are copied, so `${NAME}` stands for the value in force; an unused parameter is no
 * error): a header statement is an error, and so is text without a step. Positions count
 * within text: err = "LINE:COL: message". Returns 0 with *out, a scenario whose steps are those of
 * text (caller frees with scenario_free()), or -1 with *out = NULL. */
int scenario_parse_steps(const struct scenario *header, const char *text, size_t len,
                         struct scenario **out, char *err, size_t errsz);
/* Read the file at path (at most SCENARIO_MAX_FILE_BYTES) and parse it. Returns as
 * scenario_parse; an unreadable file gives err = "FILE: cannot read: reason". */
int scenario_load(const char *path, struct scenario **out, char *err, size_t errsz);
/* scenario_load with settings, as scenario_parse_with. */
int scenario_load_with(const char *path, const struct scenario_setting *settings, size_t n_settings,
                       struct scenario **out, char *err, size_t errsz);
/* scenario_load with settings, as scenario_parse_served. */
int scenario_load_served(const char *path, const struct scenario_setting *settings,
                         size_t n_settings, struct scenario **out, char *err, size_t errsz);
/* Returns 0 when name is a parameter name (a letter or '_', then letters, digits and '_', at
 * most SCENARIO_MAX_PARAM_NAME bytes), else -1 with a sentence in err. */
int scenario_check_name(const char *name, size_t len, char *err, size_t errsz);
/* Returns 0 when value can stand for a parameter: one word as the lexer reads it (no blanks,
 * '#', '"', '|', '<', '>', '=', '!' or "->"), not empty, no "${", at most
 * SCENARIO_MAX_PARAM_VALUE bytes; else -1 with a sentence in err. */
int scenario_check_value(const char *value, size_t len, char *err, size_t errsz);
/* The value in force of parameter name (borrowed), or NULL when the scenario declares none. */
const char *scenario_param_value(const struct scenario *sc, const char *name);
/* Free a scenario and everything it owns; NULL is a no-op. */
void scenario_free(struct scenario *sc);

/* Returns 0 when every step's kind has its SCENARIO_STEP_BIT in supported, else -1 with
 * err = "FILE:LINE:COL: 'kill' is not supported yet" for the first step that has not. */
int scenario_check_kinds(const struct scenario *sc, unsigned supported, char *err, size_t errsz);
/* True for steps that need the link layer (partition, cut, heal, latency, loss, bandwidth,
 * reset, clear). */
bool scenario_step_kind_is_fault(enum scenario_step_kind kind);

/* Static names, as written in scenarios ("append", "peer add", ...); "?" for unknown values. */
const char *scenario_step_kind_name(enum scenario_step_kind kind);
const char *scenario_cond_kind_name(enum scenario_cond_kind kind);
const char *scenario_cmp_name(enum scenario_cmp op);
const char *scenario_topology_name(enum scenario_topology topology);
const char *scenario_partition_kind_name(enum scenario_partition_kind kind);
/* True when lhs OP rhs holds. */
bool scenario_cmp_holds(enum scenario_cmp op, uint64_t lhs, uint64_t rhs);

#endif
