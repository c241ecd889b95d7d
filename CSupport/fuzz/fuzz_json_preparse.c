/*
 * libFuzzer target: ts_json_preparse() against a full Jansson parse of the
 * same bytes (validity, form, msg, and every state member it picked up),
 * then with and without node info, first
 * with a 16-byte output buffer (wrapped messages hit ENOSPC) and then with
 * exactly the size ENOSPC asked for. Checks the result's invariants, reads
 * every borrowed string (so ASan sees a dangling one), and pre-parses each
 * flattened row again: it must be the same message in the flat form.
 */
#include "ts_json.h"

#include <float.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Any broken invariant is a crash for libFuzzer to report. */
#define CHECK(condition) do { if (!(condition)) abort(); } while (0)

static volatile unsigned char sink;

static void touch(ts_json_str s)
{
    CHECK(s.ptr != NULL || s.len == 0);
    for (size_t i = 0; i < s.len; i++) sink ^= (unsigned char)s.ptr[i];
}

static int node_is_empty(const ts_json_node_info *node)
{
    return node->peer_id.ptr == NULL && node->name.ptr == NULL && node->chain.ptr == NULL &&
           node->version.ptr == NULL && node->implementation.ptr == NULL && node->authority == -1 &&
           node->has_startup_time == 0 && node->from_connected == 0;
}

/* The flattened row holds the payload with ts and id appended: pre-parsed
 * again it is a flat message with the same msg and time, unless the
 * payload itself carried a member named "payload", which decides the form
 * (then it is wrapped again, and its output does not fit in no buffer or
 * its payload is not an object). Jansson, when it takes the row at all,
 * must see the appended id and ts win. */
static void check_row_reparses(const ts_json_message *m)
{
    CHECK(m->row_len >= 2 && m->row[0] == '{' && m->row[m->row_len - 1] == '}');
    ts_json_message again;
    size_t needed;
    int rc = ts_json_preparse(m->row, m->row_len, NULL, 0, &needed, &again);
    if (rc == TS_JSON_ENOSPC || rc == TS_JSON_ENOTOBJECT) return;
    CHECK(rc == TS_JSON_OK);
    CHECK(again.form == TS_JSON_FLAT && again.created_at_us == m->created_at_us);
    CHECK(again.msg.len == m->msg.len && (m->msg.ptr == NULL) == (again.msg.ptr == NULL));
    CHECK(m->msg.ptr == NULL || memcmp(again.msg.ptr, m->msg.ptr, m->msg.len) == 0);
    ts_json_message_release(&again);

    json_t *row = json_loadb(m->row, m->row_len, JSON_ALLOW_NUL, NULL);
    if (row == NULL) return;
    json_t *id = json_object_get(row, "id");
    CHECK(json_is_integer(id) && json_integer_value(id) == m->node_id);
    CHECK(json_is_string(json_object_get(row, "ts")));
    json_decref(row);
}

static size_t depth_of(const json_t *value)
{
    size_t deepest = 0;
    if (json_is_object(value)) {
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)value, key, member) {
            size_t d = depth_of(member);
            if (d > deepest) deepest = d;
        }
        return deepest + 1;
    }
    if (json_is_array(value)) {
        for (size_t i = 0; i < json_array_size(value); i++) {
            size_t d = depth_of(json_array_get(value, i));
            if (d > deepest) deepest = d;
        }
        return deepest + 1;
    }
    return 0;
}

static const char *const number_names[TS_JSON_N_COUNT] = {
    "height", "finalized_height", "number", "txcount", "peers", "bandwidth_download", "bandwidth_upload",
    "used_state_cache_size", "cpu_hashrate_score", "parallel_cpu_hashrate_score", "memory_memcpy_score",
    "disk_sequential_write_score", "disk_random_write_score",
};
static const char *const string_names[TS_JSON_S_COUNT] = {"best", "finalized_hash", "hash", "origin"};

/* Every state member the scan found has the value Jansson sees for that
 * member of the fields; a JSON integer member is always found. */
static void check_state_against_jansson(const json_t *fields, const ts_json_message *m)
{
    const char *msg = m->msg.ptr;
    CHECK(m->state.kind >= TS_JSON_STATE_NONE && m->state.kind <= TS_JSON_STATE_HWBENCH);
    CHECK(m->state.kind == TS_JSON_STATE_NONE || msg != NULL);
    CHECK((m->state.numbers_present >> TS_JSON_N_COUNT) == 0);
    for (int i = 0; i < TS_JSON_N_COUNT; i++) {
        json_t *value = json_object_get(fields, number_names[i]);
        int64_t found;
        int present = ts_json_state_number(&m->state, (ts_json_state_number_id)i, &found);
        if (json_is_integer(value)) {
            CHECK(present && found == (int64_t)json_integer_value(value));
        } else if (present && json_is_real(value)) {
            /* The integer part of the text against the nearest double: under
             * 1 apart, plus the rounding of each to a double, which above
             * 2^53 is more than 1 (a unit in the last place, at most
             * |real| * DBL_EPSILON). */
            double real = json_real_value(value);
            double slack = 1 + (real < 0 ? -real : real) * DBL_EPSILON;
            if (real > -9e18 && real < 9e18) CHECK((double)found - real <= slack && real - (double)found <= slack);
        } else if (present) {
            CHECK(json_is_string(value) && json_string_length(value) > 0);
        }
    }
    for (int i = 0; i < TS_JSON_S_COUNT; i++) {
        ts_json_str found = ts_json_state_string(&m->state, (ts_json_state_string_id)i);
        touch(found);
        if (found.ptr == NULL) continue;
        json_t *value = json_object_get(fields, string_names[i]);
        CHECK(json_is_string(value) && json_string_length(value) == found.len &&
              memcmp(json_string_value(value), found.ptr, found.len) == 0);
    }
}

/* Differential check of the yajl scan against a full Jansson parse: what
 * Jansson takes (within the scan's 256 levels) the scan takes too, and
 * both find the same object-ness, form and msg. */
static void check_against_jansson(const uint8_t *data, size_t size, int rc, const ts_json_message *m)
{
    /* Jansson's lexer takes a raw NUL byte for the end of the input, so it
     * accepts `{…}\0anything`; yajl rightly does not. */
    if (memchr(data, 0, size) != NULL) return;
    json_t *root = json_loadb((const char *)data, size, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
    if (root == NULL) return;
    if (depth_of(root) > 256) {
        CHECK(rc == TS_JSON_EINVALID);
    } else {
        CHECK(rc != TS_JSON_EINVALID);
        CHECK((rc == TS_JSON_ENOTOBJECT) == (!json_is_object(root) || (json_object_get(root, "payload") != NULL &&
                                                                       !json_is_object(json_object_get(root, "payload")))));
    }
    if (rc == TS_JSON_OK) {
        json_t *payload = json_object_get(root, "payload");
        CHECK((m->form == TS_JSON_WRAPPED) == (payload != NULL));
        json_t *msg = json_object_get(payload != NULL ? payload : root, "msg");
        if (!json_is_string(msg)) {
            CHECK(m->msg.ptr == NULL);
        } else if (m->msg.ptr == NULL) {
            CHECK(json_string_length(msg) > 64); /* escaped and too long to copy */
        } else {
            CHECK(m->msg.len == json_string_length(msg) && memcmp(m->msg.ptr, json_string_value(msg), m->msg.len) == 0);
        }
        check_state_against_jansson(payload != NULL ? payload : root, m);
    }
    json_decref(root);
}

static void check_message(const ts_json_message *m, const uint8_t *data, size_t size, int want_node_info,
                          const char *out, size_t out_cap, size_t needed)
{
    touch(m->msg);
    touch(m->node.peer_id);
    touch(m->node.name);
    touch(m->node.chain);
    touch(m->node.version);
    touch(m->node.implementation);
    touch(m->node.genesis_hash);
    touch(m->node.target_os);
    touch(m->node.target_arch);
    touch(m->node.target_env);
    touch(m->node.cpu);
    touch(m->node.linux_kernel);
    touch(m->node.linux_distro);
    CHECK(m->node.memory >= -1 && m->node.core_count >= -1);
    CHECK(m->node.is_virtual_machine >= -1 && m->node.is_virtual_machine <= 1);
    for (int i = 0; i < TS_JSON_S_COUNT; i++) {
        ts_json_str found = ts_json_state_string(&m->state, (ts_json_state_string_id)i);
        touch(found);
        /* Borrowed from the input (the wrapped form's payload is in it too). */
        CHECK(found.ptr == NULL || (found.ptr >= (const char *)data && found.ptr + found.len <= (const char *)data + size));
    }
    CHECK(m->tree_ == NULL || m->names_node);
    CHECK(m->node.authority >= -1 && m->node.authority <= 1);
    if (!want_node_info) CHECK(node_is_empty(&m->node));
    if (m->form == TS_JSON_FLAT) {
        CHECK(m->row == (const char *)data && m->row_len == size && m->node_id == 0 && needed == 0);
    } else {
        CHECK(m->form == TS_JSON_WRAPPED && m->node_id >= 0);
        CHECK(m->row == out && m->row_len == needed && needed <= out_cap);
        check_row_reparses(m);
    }
}

/* Returns the result code, which must not depend on want_node_info. */
static int preparse_both_sizes(const uint8_t *data, size_t size, int want_node_info)
{
    char small[16];
    size_t needed = 1;
    ts_json_message m;
    int rc = ts_json_preparse((const char *)data, size, small, sizeof(small), &needed, &m);
    if (rc == TS_JSON_OK && want_node_info) ts_json_read_node_info(&m);
    if (rc == TS_JSON_OK) {
        check_message(&m, data, size, want_node_info, small, sizeof(small), needed);
        ts_json_message_release(&m);
        CHECK(m.tree_ == NULL && node_is_empty(&m.node));
        return rc;
    }
    CHECK(m.tree_ == NULL && m.row == NULL && node_is_empty(&m.node));
    if (rc != TS_JSON_ENOSPC) {
        CHECK(needed == 0);
        return rc;
    }

    CHECK(needed > sizeof(small));
    size_t asked = needed;
    char *big = malloc(asked);
    CHECK(big != NULL);
    CHECK(ts_json_preparse((const char *)data, size, big, asked, &needed, &m) == TS_JSON_OK);
    if (want_node_info) ts_json_read_node_info(&m);
    CHECK(needed == asked);
    check_message(&m, data, size, want_node_info, big, asked, needed);
    ts_json_message_release(&m);
    free(big);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A flattened row is at most the payload plus `,"ts":"…","id":N}`, and
     * the ts may be one taken from inside the payload. */
    size_t cap = 2 * size + 64;
    char *out = malloc(cap);
    CHECK(out != NULL);
    ts_json_message m;
    size_t needed;
    int rc = ts_json_preparse((const char *)data, size, out, cap, &needed, &m);
    CHECK(rc != TS_JSON_ENOSPC);
    check_against_jansson(data, size, rc, &m);
    if (rc == TS_JSON_OK) ts_json_message_release(&m);
    free(out);

    int without = preparse_both_sizes(data, size, 0);
    int with = preparse_both_sizes(data, size, 1);
    CHECK(without == with);
    return 0;
}
