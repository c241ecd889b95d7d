/*
 * ts_json.c — pre-parse of one telemetry message.
 *
 * Every message gets one validating pass of yajl's event parser
 * (ts_json_scan.c), which finds the form, `ts`, `msg` and `id` without
 * building anything. A flat message is stored as the bytes that arrived;
 * a wrapped one is spliced into the flat form (the payload's own bytes with
 * `ts` and `id` appended), so no number or string is ever re-serialised.
 * Jansson builds a tree only when the node's identity is asked for and the
 * message can hold it (system.connected, or a `state`/`network_state`
 * member), which the server does only until it knows the node's peer id.
 */
#include "ts_json.h"
#include "ts_json_scan.h"

#include <jansson.h>
#include <string.h>
static void clear_message(ts_json_message *m)
{
    memset(m, 0, sizeof(*m));
    m->node.authority = -1;
    m->node.memory = -1;
    m->node.core_count = -1;
    m->node.is_virtual_machine = -1;
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

/* A non-negative JSON integer, or -1. */
static int64_t read_count(const json_t *value)
{
    return json_is_integer(value) && json_integer_value(value) >= 0 ? (int64_t)json_integer_value(value) : -1;
}

static void read_sysinfo(const json_t *sysinfo, ts_json_node_info *node)
{
    if (!json_is_object(sysinfo)) return;
    const json_t *vm = json_object_get(sysinfo, "is_virtual_machine");
    node->cpu = borrow(json_object_get(sysinfo, "cpu"));
    node->memory = read_count(json_object_get(sysinfo, "memory"));
    node->core_count = read_count(json_object_get(sysinfo, "core_count"));
    node->linux_kernel = borrow(json_object_get(sysinfo, "linux_kernel"));
    node->linux_distro = borrow(json_object_get(sysinfo, "linux_distro"));
    node->is_virtual_machine = json_is_boolean(vm) ? json_is_true(vm) : -1;
}

static void read_node_info(const json_t *fields, ts_json_message *m)
{
    ts_json_node_info *node = &m->node;
    if (m->msg.ptr != NULL && STR_IS(m->msg, "system.connected")) {
        node->genesis_hash = borrow(json_object_get(fields, "genesis_hash"));
        node->target_os = borrow(json_object_get(fields, "target_os"));
        node->target_arch = borrow(json_object_get(fields, "target_arch"));
        node->target_env = borrow(json_object_get(fields, "target_env"));
        read_sysinfo(json_object_get(fields, "sysinfo"), node);
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

static int text_is(const ts_json_scan_text *t, const char *literal)
{
    size_t n = strlen(literal);
    return t->ptr != NULL && t->len == n && memcmp(t->ptr, literal, n) == 0;
}

static ts_json_state_kind state_kind(const ts_json_scan_text *msg)
{
    if (msg->ptr == NULL) return TS_JSON_STATE_NONE;
    if (text_is(msg, "system.interval")) return TS_JSON_STATE_INTERVAL;
    if (text_is(msg, "block.import")) return TS_JSON_STATE_BLOCK_IMPORT;
    if (text_is(msg, "notify.finalized")) return TS_JSON_STATE_FINALIZED;
    if (text_is(msg, "system.connected")) return TS_JSON_STATE_CONNECTED;
    if (text_is(msg, "sysinfo.hwbench")) return TS_JSON_STATE_HWBENCH;
    if (text_is(msg, "afg.finalized_blocks_up_to")) return TS_JSON_STATE_FINALIZED_UP_TO;
    return TS_JSON_STATE_NONE;
}

/* Writes `"id":N}` into out (at least 28 bytes) and returns its length.
 * By hand: snprintf took 2 % of the server's CPU under wrapped traffic. */
static size_t id_member(int64_t id, char *out)
{
    char digits[20];
    size_t n = 0;
    /* The magnitude as unsigned, so that INT64_MIN has one too. */
    uint64_t v = id < 0 ? (uint64_t)0 - (uint64_t)id : (uint64_t)id;
    do digits[n++] = (char)('0' + v % 10), v /= 10; while (v != 0);
    char *p = out;
    memcpy(p, "\"id\":", 5), p += 5;
    if (id < 0) *p++ = '-';
    while (n > 0) *p++ = digits[--n];
    *p++ = '}';
    return (size_t)(p - out);
}

/* The flat form of a wrapped message: the payload without its closing
 * brace, then `"ts":"…","id":N}` (`ts` only when it came from outside the
 * payload). Appended last, they win over members of the same name in the
 * payload, as jsonb keeps the last of duplicate keys. A valid `ts` holds
 * only characters that need no escaping. */
static int splice_wrapped(const ts_json_scan *s, const ts_json_scan_text *outer_ts, char *out, size_t out_cap,
                          size_t *out_needed, ts_json_message *m)
{
    char id[32];
    size_t id_len = id_member(m->node_id, id);
    size_t body = s->payload_end - 1 - s->payload_start; /* "{…" without "}" */
    size_t comma = s->payload.members > 0 ? 1 : 0;
    size_t ts_len = outer_ts != NULL ? sizeof("\"ts\":\"\",") - 1 + outer_ts->len : 0;
    size_t needed = body + comma + ts_len + id_len;
    if (out_needed != NULL) *out_needed = needed;
    if (out == NULL || needed > out_cap) return TS_JSON_ENOSPC;
    char *p = out;
    memcpy(p, s->data + s->payload_start, body), p += body;
    if (comma) *p++ = ',';
    if (outer_ts != NULL) {
        memcpy(p, "\"ts\":\"", 6), p += 6;
        memcpy(p, outer_ts->ptr, outer_ts->len), p += outer_ts->len;
        memcpy(p, "\",", 2), p += 2;
    }
    memcpy(p, id, id_len);
    m->row = out;
    m->row_len = needed;
    return TS_JSON_OK;
}

int ts_json_preparse(const char *data, size_t len, char *out, size_t out_cap, size_t *out_needed,
                     ts_json_message *m)
{
    clear_message(m);
    if (out_needed != NULL) *out_needed = 0;
    ts_json_scan s;
    if (ts_json_scan_run(data, len, &s) != 0) return TS_JSON_EINVALID;
    if (!s.root_is_object || s.payload_state == TS_JSON_SCAN_PAYLOAD_NOT_OBJECT) return TS_JSON_ENOTOBJECT;

    const ts_json_scan_fields *fields = &s.top;
    const ts_json_scan_text *ts = &s.top.ts;
    if (s.payload_state == TS_JSON_SCAN_PAYLOAD_OBJECT) {
        if (s.id_state == TS_JSON_SCAN_ID_BAD) return TS_JSON_EBADID;
        m->form = TS_JSON_WRAPPED;
        m->node_id = s.id_state == TS_JSON_SCAN_ID_OK ? s.id : 0;
        fields = &s.payload;
        if (!ts->present) ts = &s.payload.ts;
    }
    if (ts->ptr == NULL || ts_time_parse(ts->ptr, ts->len, TS_TIME_RFC3339, &m->created_at_us) != 0) {
        clear_message(m);
        return TS_JSON_EBADTS;
    }
    if (m->form == TS_JSON_WRAPPED) {
        int rc = splice_wrapped(&s, ts == &s.top.ts ? ts : NULL, out, out_cap, out_needed, m);
        if (rc != TS_JSON_OK) {
            clear_message(m);
            return rc;
        }
    } else {
        m->row = data;
        m->row_len = len;
    }
    /* msg borrows from the input or from m's own copy (an escaped msg). */
    if (fields->msg.ptr != NULL) {
        if (fields->msg.ptr == fields->msg.copy) {
            memcpy(m->msg_copy_, fields->msg.copy, fields->msg.len);
            m->msg.ptr = m->msg_copy_;
        } else {
            m->msg.ptr = fields->msg.ptr;
        }
        m->msg.len = fields->msg.len;
    }
    m->names_node = fields->names_node || text_is(&fields->msg, "system.connected");
    m->state = fields->state;
    m->state.kind = state_kind(&fields->msg);
    m->fields_ = data;
    m->fields_len_ = len;
    if (m->form == TS_JSON_WRAPPED) {
        m->fields_ = data + s.payload_start;
        m->fields_len_ = s.payload_end - s.payload_start;
    }
    return TS_JSON_OK;
}

int ts_json_read_node_info(ts_json_message *m)
{
    if (!m->names_node || m->tree_ != NULL) return TS_JSON_OK;
    json_t *tree = json_loadb(m->fields_, m->fields_len_, JSON_ALLOW_NUL, NULL);
    /* yajl accepted the text, so this is out of memory or something Jansson
     * alone refuses (an integer beyond 64 bits, a lone surrogate escape):
     * the node's identity then waits for a later message. */
    if (tree == NULL) return TS_JSON_EINVALID;
    m->tree_ = tree;
    read_node_info(tree, m);
    return TS_JSON_OK;
}


void ts_json_message_release(ts_json_message *m)
{
    if (m->tree_ != NULL) json_decref((json_t *)m->tree_);
    clear_message(m);
}

int ts_json_state_number(const ts_json_state *state, ts_json_state_number_id which, int64_t *value)
{
    if ((unsigned)which >= TS_JSON_N_COUNT || !(state->numbers_present & (1u << which))) return 0;
    *value = state->numbers[which];
    return 1;
}

ts_json_str ts_json_state_string(const ts_json_state *state, ts_json_state_string_id which)
{
    if ((unsigned)which >= TS_JSON_S_COUNT) return (ts_json_str){NULL, 0};
    return state->strings[which];
}
