/*
 * libFuzzer target: ts_json_preparse() with and without node info, first
 * with a 16-byte output buffer (wrapped messages hit ENOSPC) and then with
 * exactly the size ENOSPC asked for. Checks the result's invariants, reads
 * every borrowed string (so ASan sees a dangling one), and pre-parses each
 * flattened row again: it must be the same message in the flat form.
 */
#include "ts_json.h"

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

/* The flattened row holds the payload with ts and id on top: pre-parsed
 * again it is a flat message with the same msg and time, unless the
 * payload itself carried a member named "payload", which decides the form. */
static void check_row_reparses(const ts_json_message *m)
{
    json_t *row = json_loadb(m->row, m->row_len, JSON_ALLOW_NUL, NULL);
    CHECK(json_is_object(row));
    json_t *id = json_object_get(row, "id");
    CHECK(json_is_integer(id) && json_integer_value(id) == m->node_id);
    CHECK(json_is_string(json_object_get(row, "ts")));
    int nested_payload = json_object_get(row, "payload") != NULL;
    json_decref(row);
    if (nested_payload) return;

    ts_json_message again;
    size_t needed;
    CHECK(ts_json_preparse(m->row, m->row_len, 0, NULL, 0, &needed, &again) == TS_JSON_OK);
    CHECK(again.form == TS_JSON_FLAT && again.created_at_us == m->created_at_us);
    CHECK(again.msg.len == m->msg.len && (m->msg.ptr == NULL) == (again.msg.ptr == NULL));
    CHECK(m->msg.ptr == NULL || memcmp(again.msg.ptr, m->msg.ptr, m->msg.len) == 0);
    ts_json_message_release(&again);
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
    CHECK(m->tree_ != NULL);
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
    int rc = ts_json_preparse((const char *)data, size, want_node_info, small, sizeof(small), &needed, &m);
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
    CHECK(ts_json_preparse((const char *)data, size, want_node_info, big, asked, &needed, &m) == TS_JSON_OK);
    CHECK(needed == asked);
    check_message(&m, data, size, want_node_info, big, asked, needed);
    ts_json_message_release(&m);
    free(big);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int without = preparse_both_sizes(data, size, 0);
    int with = preparse_both_sizes(data, size, 1);
    CHECK(without == with);
    return 0;
}
