/*
 * ts_json.h — pre-parse of one telemetry message.
 *
 * Validates a frame's bytes as a JSON object, finds `msg` and `ts`, unwraps
 * the newer wrapped form ({"id", "ts", "payload": {...}}) into the flat form
 * the database stores, and extracts a node's identity when asked to.
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
} ts_json_node_info;

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
