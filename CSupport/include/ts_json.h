/*
 * ts_json.h — pre-parse of one telemetry message.
 *
 * Validates a frame's bytes as a JSON object, finds `msg` and `ts`, unwraps
 * the newer wrapped form ({"id", "ts", "payload": {...}}) into the flat form
 * the database stores, picks up the fields that carry node and chain state
 * (best and finalized blocks, peers, queue, bandwidth, hardware scores) in
 * the same pass, and extracts a node's identity when asked to.
 *
 * Memory: every pointer returned in a ts_json_message points into the
 * caller's input, into the caller's output buffer, into the message itself
 * or (node identity only) into a Jansson tree, and stays valid until
 * ts_json_message_release() as long as the input does. Inside the call,
 * yajl allocates its parser state and frees it before returning; Jansson
 * allocates the tree only when the identity is read.
 */
#ifndef TS_JSON_H
#define TS_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ts_json_result {
    TS_JSON_OK = 0,
    TS_JSON_EINVALID = -1,   /* not JSON, nested deeper than 256 levels,
                                or out of memory (reason "invalid_json") */
    TS_JSON_ENOTOBJECT = -2, /* JSON but not an object, or a wrapped message
                                whose payload is not one ("not_object") */
    TS_JSON_EBADTS = -3,     /* no `ts`, or not RFC 3339 ("bad_ts") */
    TS_JSON_EBADID = -4,     /* wrapped form with an `id` that is not a
                                non-negative integer ("bad_id") */
    TS_JSON_ENOSPC = -5      /* the flattened wrapped message does not fit in
                                out_cap; *out_needed says how many bytes do.
                                Nothing was kept: call again, bigger. */
} ts_json_result;

typedef enum ts_json_form {
    TS_JSON_FLAT = 0,    /* {"msg", "ts", "level", ...fields} */
    TS_JSON_WRAPPED = 1  /* {"id", "ts", "payload": {"msg", ...fields}} */
} ts_json_form;

/* A string borrowed from the parse tree; ptr is NULL when absent. The
 * bytes are not NUL-terminated in general: use len. */
typedef struct ts_json_str {
    const char *ptr;
    size_t len;
} ts_json_str;

/* What system.connected (and older messages) tell about the node. */
typedef struct ts_json_node_info {
    ts_json_str peer_id;        /* network_id of system.connected, else
                                   state.peerId, else network_state.peerId */
    ts_json_str name, chain, version, implementation;
    int authority;              /* 1, 0, or -1 when absent */
    int has_startup_time;       /* startup_time given as number or decimal
                                   string of milliseconds */
    int64_t startup_time;
    int from_connected;         /* 1 when taken from a system.connected */
    /* system.connected only; absent (NULL, -1) for older nodes. */
    ts_json_str genesis_hash, target_os, target_arch, target_env;
    /* system.connected's `sysinfo` object; every member may be absent. */
    ts_json_str cpu, linux_kernel, linux_distro;
    int64_t memory;             /* bytes, -1 when absent */
    int64_t core_count;         /* -1 when absent */
    int is_virtual_machine;     /* 1, 0, or -1 when absent */
} ts_json_node_info;

/* The message kinds that carry node or chain state, by `msg`. */
typedef enum ts_json_state_kind {
    TS_JSON_STATE_NONE = 0,         /* any other msg, or none */
    TS_JSON_STATE_CONNECTED = 1,    /* system.connected */
    TS_JSON_STATE_INTERVAL = 2,     /* system.interval */
    TS_JSON_STATE_BLOCK_IMPORT = 3, /* block.import */
    TS_JSON_STATE_FINALIZED = 4,    /* notify.finalized */
    TS_JSON_STATE_FINALIZED_UP_TO = 5, /* afg.finalized_blocks_up_to */
    TS_JSON_STATE_HWBENCH = 6       /* sysinfo.hwbench */
} ts_json_state_kind;

/* The integer members picked up, as indexes for ts_json_state_number().
 * Each is read from a JSON integer, the integer part of a JSON number with
 * a fraction, or a string of decimal digits (nodes send `notify.finalized`
 * heights as strings); anything else, or a value outside int64, is absent. */
typedef enum ts_json_state_number_id {
    TS_JSON_N_HEIGHT = 0,
    TS_JSON_N_FINALIZED_HEIGHT,
    TS_JSON_N_NUMBER,               /* afg.finalized_blocks_up_to */
    TS_JSON_N_TXCOUNT,
    TS_JSON_N_PEERS,
    TS_JSON_N_BANDWIDTH_DOWNLOAD,
    TS_JSON_N_BANDWIDTH_UPLOAD,
    TS_JSON_N_USED_STATE_CACHE_SIZE,
    TS_JSON_N_CPU_HASHRATE_SCORE,
    TS_JSON_N_PARALLEL_CPU_HASHRATE_SCORE,
    TS_JSON_N_MEMORY_MEMCPY_SCORE,
    TS_JSON_N_DISK_SEQUENTIAL_WRITE_SCORE,
    TS_JSON_N_DISK_RANDOM_WRITE_SCORE,
    TS_JSON_N_COUNT
} ts_json_state_number_id;

/* The string members picked up, for ts_json_state_string(). Only strings
 * without escapes are kept (hashes and origins never have any); an escaped
 * one is absent. */
typedef enum ts_json_state_string_id {
    TS_JSON_S_BEST = 0,             /* best block hash */
    TS_JSON_S_FINALIZED_HASH,
    TS_JSON_S_HASH,                 /* afg.finalized_blocks_up_to */
    TS_JSON_S_ORIGIN,               /* block.import */
    TS_JSON_S_COUNT
} ts_json_state_string_id;

/* The state-bearing members of the message's fields (the payload of a
 * wrapped message, the message itself otherwise), top level only, found by
 * the same pass that validates the message: no tree, no allocation.
 * Strings point into the caller's input. Read with the accessors below. */
typedef struct ts_json_state {
    ts_json_state_kind kind;
    uint32_t numbers_present;       /* bit i: numbers[i] was found */
    int64_t numbers[TS_JSON_N_COUNT];
    ts_json_str strings[TS_JSON_S_COUNT];
} ts_json_state;

typedef struct ts_json_message {
    ts_json_form form;
    int64_t node_id;            /* wrapped form's `id`; 0 for the flat form */
    int64_t created_at_us;      /* `ts` in UTC, microseconds since the Unix
                                   epoch, truncated */
    ts_json_str msg;            /* the `msg` field (flat or payload), or NULL */
    /* The JSON to store, always the flat form: the input itself for a flat
     * message; for a wrapped one the payload with `ts` and `id` added,
     * written compact into the caller's output buffer. */
    const char *row;
    size_t row_len;
    int names_node;             /* the message may name its node: it is a
                                   system.connected or has a `state` or
                                   `network_state` member */
    ts_json_state state;        /* filled by ts_json_preparse() */
    ts_json_node_info node;     /* filled by ts_json_read_node_info() */
    const char *fields_;        /* private: the object holding the fields */
    size_t fields_len_;
    void *tree_;                /* private: the Jansson tree of node info */
    char msg_copy_[64];         /* private: an escaped `msg`, unescaped */
} ts_json_message;

/*
 * Pre-parse data[0..len). out/out_cap receive the flattened form of a
 * wrapped message (unused for a flat one): the payload's bytes as they
 * arrived, with `"ts":…,"id":N` appended. *out_needed is set to its size
 * (0 for a flat message), also on TS_JSON_ENOSPC. m->node stays empty
 * (authority -1) until ts_json_read_node_info(). A `msg` longer than 64
 * bytes that uses escapes is reported as absent. The first failing
 * check decides the result, in this order: EINVALID, ENOTOBJECT, EBADID,
 * EBADTS, ENOSPC. On TS_JSON_OK the caller must call
 * ts_json_message_release(m). On any error m is cleared and nothing needs
 * releasing.
 */
int ts_json_preparse(const char *data, size_t len,
                     char *out, size_t out_cap, size_t *out_needed,
                     ts_json_message *m);

/*
 * Fills m->node from a pre-parsed message whose input is still valid:
 * from system.connected, else the peer id older nodes carry in
 * state.peerId or network_state.peerId. Builds a Jansson tree of the
 * fields (kept in m until ts_json_message_release()), so call it only
 * while the node's peer id is unknown and m->names_node is set; otherwise
 * it does nothing. Returns 0, or TS_JSON_EINVALID when out of memory.
 */
int ts_json_read_node_info(ts_json_message *m);

void ts_json_message_release(ts_json_message *m);

/*
 * One integer member of a pre-parsed message's state: returns 1 and sets
 * *value when it was found, 0 when absent (or `which` is out of range).
 */
int ts_json_state_number(const ts_json_state *state, ts_json_state_number_id which, int64_t *value);

/* One string member of a pre-parsed message's state; ptr is NULL when
 * absent. Valid as long as the message's input. */
ts_json_str ts_json_state_string(const ts_json_state *state, ts_json_state_string_id which);

/* Accept RFC 3339 only, or also the naive form "2020-03-25T13:17:09[.ffffff]"
 * (taken as UTC) that query strings of the original API use. */
#define TS_TIME_RFC3339 0
#define TS_TIME_ALLOW_NAIVE 1

/*
 * Parse a timestamp ('T' or ' ' between date and time, any number of
 * fraction digits, `Z`/`z` or +hh:mm/-hh:mm) into UTC microseconds since
 * the Unix epoch, truncating below a microsecond. Validates field ranges
 * (month, day of that month, leap years, 00..23:59:60 — a leap second is
 * taken as :59). Returns 0 or TS_JSON_EBADTS.
 */
int ts_time_parse(const char *s, size_t len, int flags, int64_t *unix_us);

/* Format UTC microseconds as "2020-03-25T13:17:09.008533" (26 chars + NUL,
 * always six fraction digits, no zone). Returns 0, or TS_JSON_EBADTS when
 * the year would fall outside 0000-9999 (out is then left untouched). */
#define TS_TIME_FORMAT_LEN 26
int ts_time_format(int64_t unix_us, char out[TS_TIME_FORMAT_LEN + 1]);

#ifdef __cplusplus
}
#endif
#endif /* TS_JSON_H */
