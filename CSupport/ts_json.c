/*
 * ts_json.c — pre-parse of one telemetry message with Jansson.
 *
 * One json_loadb() per message, then a handful of hash lookups: the form,
 * `ts`, `msg`, and (when asked) the node's identity. A flat message is
 * stored as the bytes that arrived; only the wrapped form is re-serialised,
 * into the caller's buffer.
 */
#include "ts_json.h"

#include <jansson.h>
#include <string.h>

static ts_json_str borrow(json_t *value)
{
    ts_json_str s = {NULL, 0};
    if (json_is_string(value)) {
        s.ptr = json_string_value(value);
        s.len = json_string_length(value);
    }
    return s;
}

static int str_equals(ts_json_str s, const char *literal)
{
    size_t n = strlen(literal);
    return s.ptr != NULL && s.len == n && memcmp(s.ptr, literal, n) == 0;
}

/* startup_time: a JSON integer or a string of decimal digits (milliseconds). */
static void read_startup_time(json_t *value, ts_json_node_info *node)
{
    if (json_is_integer(value)) {
        node->startup_time = (int64_t)json_integer_value(value);
        node->has_startup_time = 1;
        return;
    }
    ts_json_str s = borrow(value);
    if (s.ptr == NULL || s.len == 0 || s.len > 18) return;
    int64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9') return;
        v = v * 10 + (s.ptr[i] - '0');
    }
    node->startup_time = v;
    node->has_startup_time = 1;
}

static void read_node_info(json_t *fields, ts_json_message *m)
{
    ts_json_node_info *node = &m->node;
    if (str_equals(m->msg, "system.connected")) {
        json_t *authority = json_object_get(fields, "authority");
        node->peer_id = borrow(json_object_get(fields, "network_id"));
        node->name = borrow(json_object_get(fields, "name"));
        node->chain = borrow(json_object_get(fields, "chain"));
        node->version = borrow(json_object_get(fields, "version"));
        node->implementation = borrow(json_object_get(fields, "implementation"));
        node->authority = json_is_boolean(authority) ? json_is_true(authority) : -1;
        read_startup_time(json_object_get(fields, "startup_time"), node);
        node->from_connected = 1;
        return;
    }
    /* Older nodes never send system.connected; their peer id rides along in
     * system.network_state (state.peerId) or system.interval (network_state.peerId). */
    node->peer_id = borrow(json_object_get(json_object_get(fields, "state"), "peerId"));
    if (node->peer_id.ptr == NULL)
        node->peer_id = borrow(json_object_get(json_object_get(fields, "network_state"), "peerId"));
}

static int parse_ts(json_t *ts, int64_t *out)
{
    if (!json_is_string(ts)) return TS_JSON_EBADTS;
    return ts_time_parse(json_string_value(ts), json_string_length(ts), TS_TIME_RFC3339, out) == 0 ? 0 : TS_JSON_EBADTS;
}

/* Flattens {"id", "ts", "payload": {...}} into the payload with ts and id
 * added, written compact into out. */
static int flatten_wrapped(json_t *payload, json_t *ts, json_int_t id,
                           char *out, size_t out_cap, size_t *out_needed, ts_json_message *m)
{
    json_t *id_value = json_integer(id);
    if (id_value == NULL || json_object_set_new(payload, "id", id_value) != 0 ||
        json_object_set(payload, "ts", ts) != 0)
        return TS_JSON_EINVALID;
    size_t needed = json_dumpb(payload, NULL, 0, JSON_COMPACT);
    if (out_needed) *out_needed = needed;
    if (needed == 0) return TS_JSON_EINVALID;
    if (needed > out_cap || out == NULL) return TS_JSON_ENOSPC;
    m->row = out;
    m->row_len = json_dumpb(payload, out, out_cap, JSON_COMPACT);
    return TS_JSON_OK;
}

int ts_json_preparse(const char *data, size_t len, int want_node_info,
                     char *out, size_t out_cap, size_t *out_needed, ts_json_message *m)
{
    json_error_t error;
    memset(m, 0, sizeof(*m));
    m->node.authority = -1;
    if (out_needed) *out_needed = 0;

    /* ALLOW_NUL on purpose: PostgreSQL, not this pre-parse, decides what
     * jsonb accepts, and a refused row is isolated by the batch writer. */
    json_t *root = json_loadb(data, len, JSON_ALLOW_NUL, &error);
    if (root == NULL) return TS_JSON_EINVALID;
    int rc = TS_JSON_ENOTOBJECT;
    if (!json_is_object(root)) goto fail;

    json_t *fields = root;
    json_t *ts = json_object_get(root, "ts");
    json_t *payload = json_object_get(root, "payload");
    json_int_t id = 0;
    if (payload != NULL) {
        if (!json_is_object(payload)) goto fail;
        json_t *id_value = json_object_get(root, "id");
        rc = TS_JSON_EBADID;
        if (id_value != NULL && (!json_is_integer(id_value) || json_integer_value(id_value) < 0)) goto fail;
        id = id_value ? json_integer_value(id_value) : 0;
        if (ts == NULL) ts = json_object_get(payload, "ts");
        m->form = TS_JSON_WRAPPED;
        m->node_id = (int64_t)id;
        fields = payload;
    }

    rc = parse_ts(ts, &m->created_at_us);
    if (rc != 0) goto fail;
    m->msg = borrow(json_object_get(fields, "msg"));

    if (m->form == TS_JSON_WRAPPED) {
        rc = flatten_wrapped(payload, ts, id, out, out_cap, out_needed, m);
        if (rc != TS_JSON_OK) goto fail;
    } else {
        m->row = data;
        m->row_len = len;
    }
    if (want_node_info) read_node_info(fields, m);
    m->tree_ = root;
    return TS_JSON_OK;

fail:
    json_decref(root);
    memset(m, 0, sizeof(*m));
    m->node.authority = -1;
    return rc;
}

void ts_json_message_release(ts_json_message *m)
{
    if (m->tree_ != NULL) json_decref((json_t *)m->tree_);
    memset(m, 0, sizeof(*m));
    m->node.authority = -1;
}
