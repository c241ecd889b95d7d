/*
 * ts_json.c — pre-parse of one telemetry message with Jansson.
 *
 * One json_loadb() per message, then a handful of hash lookups: the form,
 * `ts`, `msg`, and (when asked) the node's identity. A flat message is
 * stored as the bytes that arrived; only the wrapped form is serialised
 * again, once, straight into the caller's buffer.
 */
#include "ts_json.h"

#include <jansson.h>
#include <string.h>

static void clear_message(ts_json_message *m)
{
    memset(m, 0, sizeof(*m));
    m->node.authority = -1;
}

static ts_json_str borrow(const json_t *value)
{
    ts_json_str s = {NULL, 0};
    if (json_is_string(value)) {
        s.ptr = json_string_value(value);
        s.len = json_string_length(value);
    }
    return s;
}

#define STR_IS(s, literal) ((s).len == sizeof(literal) - 1 && memcmp((s).ptr, literal, sizeof(literal) - 1) == 0)

/* startup_time in milliseconds: a JSON integer, or a string of decimal
 * digits (what nodes actually send) that fits in an int64_t. */
static void read_startup_time(const json_t *value, ts_json_node_info *node)
{
    if (json_is_integer(value)) {
        node->startup_time = (int64_t)json_integer_value(value);
        node->has_startup_time = 1;
        return;
    }
    ts_json_str s = borrow(value);
    if (s.ptr == NULL || s.len == 0) return;
    int64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned digit = (unsigned)(unsigned char)s.ptr[i] - '0';
        if (digit > 9 || v > (INT64_MAX - (int64_t)digit) / 10) return;
        v = v * 10 + (int64_t)digit;
    }
    node->startup_time = v;
    node->has_startup_time = 1;
}

static void read_node_info(const json_t *fields, ts_json_message *m)
{
    ts_json_node_info *node = &m->node;
    if (m->msg.ptr != NULL && STR_IS(m->msg, "system.connected")) {
        const json_t *authority = json_object_get(fields, "authority");
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
    /* Nodes older than system.connected tell their peer id only inside
     * system.network_state (state.peerId) or system.interval
     * (network_state.peerId). */
    node->peer_id = borrow(json_object_get(json_object_get(fields, "state"), "peerId"));
    if (node->peer_id.ptr == NULL)
        node->peer_id = borrow(json_object_get(json_object_get(fields, "network_state"), "peerId"));
}

static int read_ts(const json_t *ts, int64_t *unix_us)
{
    if (!json_is_string(ts)) return TS_JSON_EBADTS;
    return ts_time_parse(json_string_value(ts), json_string_length(ts), TS_TIME_RFC3339, unix_us);
}

/*
 * Sets `ts` and `id` on the payload (replacing any it had) and writes it
 * compact into out. A single json_dumpb(): it reports the full size even
 * when the buffer is too small, so ENOSPC costs no second pass.
 */
static int flatten_wrapped(json_t *payload, json_t *ts, json_t *id, char *out, size_t out_cap,
                           size_t *out_needed, ts_json_message *m)
{
    /* json_object_set_new() takes the id reference even when it fails. */
    if (json_object_set(payload, "ts", ts) != 0 ||
        json_object_set_new(payload, "id", id != NULL ? json_incref(id) : json_integer(0)) != 0)
        return TS_JSON_EINVALID; /* Jansson is out of memory */
    size_t cap = out != NULL ? out_cap : 0;
    size_t needed = json_dumpb(payload, out, cap, JSON_COMPACT);
    if (needed == 0) return TS_JSON_EINVALID; /* out of memory again */
    if (out_needed != NULL) *out_needed = needed;
    if (needed > cap) return TS_JSON_ENOSPC;
    m->row = out;
    m->row_len = needed;
    return TS_JSON_OK;
}

/* Everything after the parse; on error the caller frees the tree. */
static int read_message(json_t *root, const char *data, size_t len, int want_node_info, char *out,
                        size_t out_cap, size_t *out_needed, ts_json_message *m)
{
    if (!json_is_object(root)) return TS_JSON_ENOTOBJECT;
    json_t *fields = root, *ts = json_object_get(root, "ts"), *id = NULL;
    json_t *payload = json_object_get(root, "payload");
    if (payload != NULL) {
        if (!json_is_object(payload)) return TS_JSON_ENOTOBJECT;
        id = json_object_get(root, "id");
        if (id != NULL && (!json_is_integer(id) || json_integer_value(id) < 0)) return TS_JSON_EBADID;
        if (ts == NULL) ts = json_object_get(payload, "ts");
        m->form = TS_JSON_WRAPPED;
        m->node_id = id != NULL ? (int64_t)json_integer_value(id) : 0;
        fields = payload;
    }

    if (read_ts(ts, &m->created_at_us) != 0) return TS_JSON_EBADTS;
    m->msg = borrow(json_object_get(fields, "msg"));
    if (m->form == TS_JSON_WRAPPED) {
        int rc = flatten_wrapped(payload, ts, id, out, out_cap, out_needed, m);
        if (rc != TS_JSON_OK) return rc;
    } else {
        m->row = data;
        m->row_len = len;
    }
    if (want_node_info) read_node_info(fields, m);
    return TS_JSON_OK;
}

int ts_json_preparse(const char *data, size_t len, int want_node_info, char *out, size_t out_cap,
                     size_t *out_needed, ts_json_message *m)
{
    clear_message(m);
    if (out_needed != NULL) *out_needed = 0;
    /* ALLOW_NUL on purpose: PostgreSQL, not this pre-parse, decides what
     * jsonb accepts, and the batch writer isolates a refused row.
     * DECODE_ANY so that a bare scalar is "not an object", not "not JSON".
     * No json_error_t: the reason is the return code, and Jansson would
     * format an error message for every rejected frame. */
    json_t *root = json_loadb(data, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
    if (root == NULL) return TS_JSON_EINVALID;
    int rc = read_message(root, data, len, want_node_info, out, out_cap, out_needed, m);
    if (rc != TS_JSON_OK) {
        json_decref(root);
        clear_message(m);
        return rc;
    }
    m->tree_ = root;
    return TS_JSON_OK;
}

void ts_json_message_release(ts_json_message *m)
{
    if (m->tree_ != NULL) json_decref((json_t *)m->tree_);
    clear_message(m);
}
