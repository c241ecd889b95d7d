/*
 * ts_json_scan.h — private to CSupport: the single validating pass that
 * ts_json_preparse() makes over a message (see ts_json_scan.c).
 */
#ifndef TS_JSON_SCAN_H
#define TS_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "ts_json.h"

/* A string member's value: in the input when it had no escapes, else in
 * copy. present without ptr: the member exists but is not a usable string. */
typedef struct ts_json_scan_text {
    int present;
    const char *ptr;
    size_t len;
    char copy[64];
} ts_json_scan_text;

/* What one object (the message, or the wrapped form's payload) holds. */
typedef struct ts_json_scan_fields {
    ts_json_scan_text ts, msg;
    size_t members;
    int names_node; /* has `state` or `network_state` */
    ts_json_state state; /* its state-bearing members (kind unset) */
} ts_json_scan_fields;

enum { TS_JSON_SCAN_ID_ABSENT = 0, TS_JSON_SCAN_ID_OK, TS_JSON_SCAN_ID_BAD };
enum { TS_JSON_SCAN_PAYLOAD_ABSENT = 0, TS_JSON_SCAN_PAYLOAD_OBJECT, TS_JSON_SCAN_PAYLOAD_NOT_OBJECT };

typedef struct ts_json_scan {
    /* results */
    int root_is_object;
    ts_json_scan_fields top, payload;
    int id_state;
    int64_t id;
    int payload_state;
    size_t payload_start, payload_end; /* the payload object's bytes */

    /* parser state */
    const char *data;
    size_t len;
    void *parser;
    int depth, in_payload, too_deep;
    int pending, pending_depth;
} ts_json_scan;

/* Validates data[0..len) as one JSON value (RFC 8259, UTF-8, at most 256
 * levels deep) and fills s. Returns 0, or -1 when it is not valid JSON (or
 * yajl could not allocate its parser). */
int ts_json_scan_run(const char *data, size_t len, ts_json_scan *s);

#endif /* TS_JSON_SCAN_H */
