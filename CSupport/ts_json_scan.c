/*
 * ts_json_scan.c — one validating pass over a message with yajl's event
 * parser, remembering only what the pre-parse needs: the top-level members
 * `ts`, `msg`, `id` and `payload`, the same members of the payload, whether
 * the fields carry something that names the node, and the fields' members
 * that carry node and chain state (ts_json_state).
 *
 * No tree is built: a value nobody asked for costs its lexing and nothing
 * else, which is what makes a 170 KB system.network_state cheap.
 */
#include "ts_json_scan.h"

#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

/* Deeper than any real message by far, and well inside what PostgreSQL's
 * jsonb input accepts (a deeper document would fail there with a
 * stack-depth error, which is not a data error and would be retried). */
#define MAX_DEPTH 256

enum member {
    M_NONE = 0,
    M_TS,
    M_MSG,
    M_ID,
    M_PAYLOAD,
    M_IDENTITY, /* state, network_state: may hold the node's peer id */
    M_NUMBER = 16, /* + ts_json_state_number_id */
    M_STRING = 48  /* + ts_json_state_string_id */
};

struct known_member {
    const char *name;
    size_t len;
    int member;
    int top_only; /* only at the top level (`id`, `payload`) */
};

#define KNOWN(literal, member, top_only) {literal, sizeof(literal) - 1, member, top_only}
static const struct known_member known_members[] = {
    KNOWN("ts", M_TS, 0),
    KNOWN("msg", M_MSG, 0),
    KNOWN("id", M_ID, 1),
    KNOWN("payload", M_PAYLOAD, 1),
    KNOWN("state", M_IDENTITY, 0),
    KNOWN("network_state", M_IDENTITY, 0),
    KNOWN("height", M_NUMBER + TS_JSON_N_HEIGHT, 0),
    KNOWN("best", M_STRING + TS_JSON_S_BEST, 0),
    KNOWN("finalized_height", M_NUMBER + TS_JSON_N_FINALIZED_HEIGHT, 0),
    KNOWN("finalized_hash", M_STRING + TS_JSON_S_FINALIZED_HASH, 0),
    KNOWN("txcount", M_NUMBER + TS_JSON_N_TXCOUNT, 0),
    KNOWN("peers", M_NUMBER + TS_JSON_N_PEERS, 0),
    KNOWN("bandwidth_download", M_NUMBER + TS_JSON_N_BANDWIDTH_DOWNLOAD, 0),
    KNOWN("bandwidth_upload", M_NUMBER + TS_JSON_N_BANDWIDTH_UPLOAD, 0),
    KNOWN("used_state_cache_size", M_NUMBER + TS_JSON_N_USED_STATE_CACHE_SIZE, 0),
    KNOWN("origin", M_STRING + TS_JSON_S_ORIGIN, 0),
    KNOWN("number", M_NUMBER + TS_JSON_N_NUMBER, 0),
    KNOWN("hash", M_STRING + TS_JSON_S_HASH, 0),
    KNOWN("cpu_hashrate_score", M_NUMBER + TS_JSON_N_CPU_HASHRATE_SCORE, 0),
    KNOWN("parallel_cpu_hashrate_score", M_NUMBER + TS_JSON_N_PARALLEL_CPU_HASHRATE_SCORE, 0),
    KNOWN("memory_memcpy_score", M_NUMBER + TS_JSON_N_MEMORY_MEMCPY_SCORE, 0),
    KNOWN("disk_sequential_write_score", M_NUMBER + TS_JSON_N_DISK_SEQUENTIAL_WRITE_SCORE, 0),
    KNOWN("disk_random_write_score", M_NUMBER + TS_JSON_N_DISK_RANDOM_WRITE_SCORE, 0),
};
#undef KNOWN

_Static_assert(TS_JSON_N_COUNT <= M_STRING - M_NUMBER, "number members overlap string members");
_Static_assert(TS_JSON_N_COUNT <= 32, "numbers_present has a bit per number member");

/* Most keys are not known: their length and first byte rule most entries
 * out before a memcmp (every known name has a first byte). */
static int classify(const unsigned char *key, size_t len, int top)
{
    for (size_t i = 0; i < sizeof(known_members) / sizeof(known_members[0]); i++) {
        const struct known_member *k = &known_members[i];
        if (k->len == len && key[0] == (unsigned char)k->name[0] && (top || !k->top_only) &&
            memcmp(key, k->name, len) == 0)
            return k->member;
    }
    return M_NONE;
}

static ts_json_scan_fields *fields_at(ts_json_scan *s, int depth)
{
    if (depth == 1) return &s->top;
    if (depth == 2 && s->in_payload) return &s->payload;
    return NULL;
}

/* A scalar or container value starts: if it is the value of a member we
 * track, hand back which one (and forget the key). */
static int take_member(ts_json_scan *s, ts_json_scan_fields **fields)
{
    int m = M_NONE;
    *fields = NULL;
    if (s->pending != M_NONE && s->pending_depth == s->depth) {
        m = s->pending;
        *fields = fields_at(s, s->depth);
    }
    s->pending = M_NONE;
    return m;
}

static int is_number_member(int m) { return m >= M_NUMBER && m < M_NUMBER + TS_JSON_N_COUNT; }
static int is_string_member(int m) { return m >= M_STRING && m < M_STRING + TS_JSON_S_COUNT; }

/* A state member whose value is not usable: absent, also when an earlier
 * member of the same name was (the last of duplicate keys wins, as in jsonb). */
static void forget_state(ts_json_scan_fields *f, int m)
{
    if (f == NULL) return;
    if (is_number_member(m)) f->state.numbers_present &= ~(1u << (m - M_NUMBER));
    if (is_string_member(m)) f->state.strings[m - M_STRING] = (ts_json_str){NULL, 0};
}

/* Decimal digits with an optional sign, fraction (dropped) and nothing
 * else, within int64; 0 on success. JSON numbers with an exponent and
 * strings holding anything else are refused. */
static int parse_integer(const char *v, size_t len, int allow_fraction, int64_t *out)
{
    size_t i = 0;
    int negative = 0;
    if (i < len && v[i] == '-') negative = 1, i++;
    if (i == len) return -1;
    int64_t value = 0;
    size_t digits = 0;
    for (; i < len && v[i] >= '0' && v[i] <= '9'; i++, digits++) {
        int digit = v[i] - '0';
        if (value > (INT64_MAX - digit) / 10) return -1;
        value = value * 10 + digit;
    }
    if (digits == 0) return -1;
    if (i < len && v[i] == '.' && allow_fraction) {
        for (i++; i < len && v[i] >= '0' && v[i] <= '9'; i++) {}
    }
    if (i != len) return -1;
    *out = negative ? -value : value;
    return 0;
}

static void keep_number(ts_json_scan_fields *f, int m, const char *v, size_t len, int from_string)
{
    if (f == NULL) return;
    int64_t value;
    if (parse_integer(v, len, !from_string, &value) != 0) {
        forget_state(f, m);
        return;
    }
    f->state.numbers[m - M_NUMBER] = value;
    f->state.numbers_present |= 1u << (m - M_NUMBER);
}

/* A string value of `ts` or `msg`. Unescaped strings point into the input
 * (yajl hands those out in place); escaped ones live in yajl's decode
 * buffer until the next token, so they are copied out when they fit. */
static void keep_string(ts_json_scan *s, ts_json_scan_text *text, const unsigned char *v, size_t len)
{
    const char *p = (const char *)v;
    text->present = 1;
    if (p >= s->data && p + len <= s->data + s->len) {
        text->ptr = p;
        text->len = len;
    } else if (len <= sizeof(text->copy)) {
        memcpy(text->copy, p, len);
        text->ptr = text->copy;
        text->len = len;
    } else {
        text->ptr = NULL; /* escaped and too long: treated as not a string */
        text->len = 0;
    }
}

/* `ts` that is not a string is there but bad; `msg` that is not a string
 * counts as no `msg`, as before. */
static void non_string(ts_json_scan_fields *f, int m)
{
    if (f == NULL) return;
    if (m == M_TS) f->ts = (ts_json_scan_text){.present = 1};
    if (m == M_MSG) f->msg = (ts_json_scan_text){0};
}

static int on_scalar(ts_json_scan *s)
{
    ts_json_scan_fields *f;
    int m = take_member(s, &f);
    non_string(f, m);
    forget_state(f, m);
    if (m == M_ID) s->id_state = TS_JSON_SCAN_ID_BAD;
    if (m == M_PAYLOAD) s->payload_state = TS_JSON_SCAN_PAYLOAD_NOT_OBJECT;
    return 1;
}

static int on_null(void *ctx) { return on_scalar(ctx); }
static int on_boolean(void *ctx, int value) { (void)value; return on_scalar(ctx); }

/* Numbers arrive as their text, so no value overflows and none is
 * converted unless it is the wrapped form's `id`. */
static int on_number(void *ctx, const char *v, size_t len)
{
    ts_json_scan *s = ctx;
    ts_json_scan_fields *f;
    int m = take_member(s, &f);
    if (is_number_member(m)) {
        keep_number(f, m, v, len, 0);
        return 1;
    }
    if (m != M_ID) {
        non_string(f, m);
        forget_state(f, m);
        if (m == M_PAYLOAD) s->payload_state = TS_JSON_SCAN_PAYLOAD_NOT_OBJECT;
        return 1;
    }
    int64_t id = 0;
    s->id_state = TS_JSON_SCAN_ID_BAD;
    for (size_t i = 0; i < len; i++) {
        unsigned digit = (unsigned)(unsigned char)v[i] - '0';
        if (digit > 9 || id > (INT64_MAX - (int64_t)digit) / 10) return 1;
        id = id * 10 + (int64_t)digit;
    }
    s->id = id;
    s->id_state = TS_JSON_SCAN_ID_OK;
    return 1;
}

static int on_string(void *ctx, const unsigned char *v, size_t len)
{
    ts_json_scan *s = ctx;
    ts_json_scan_fields *f;
    int m = take_member(s, &f);
    if (is_number_member(m)) keep_number(f, m, (const char *)v, len, 1);
    if (is_string_member(m) && f != NULL) {
        const char *p = (const char *)v;
        /* In the input means unescaped: yajl decodes escapes elsewhere. */
        if (p >= s->data && p + len <= s->data + s->len)
            f->state.strings[m - M_STRING] = (ts_json_str){p, len};
        else
            forget_state(f, m);
    }
    if (m == M_TS && f != NULL) keep_string(s, &f->ts, v, len);
    if (m == M_MSG && f != NULL) keep_string(s, &f->msg, v, len);
    if (m == M_ID) s->id_state = TS_JSON_SCAN_ID_BAD;
    if (m == M_PAYLOAD) s->payload_state = TS_JSON_SCAN_PAYLOAD_NOT_OBJECT;
    return 1;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len)
{
    ts_json_scan *s = ctx;
    ts_json_scan_fields *f = fields_at(s, s->depth);
    if (f == NULL) return 1;
    f->members++;
    int m = classify(key, len, s->depth == 1);
    if (m == M_IDENTITY) f->names_node = 1;
    s->pending = m;
    s->pending_depth = s->depth;
    return 1;
}

static int open_container(ts_json_scan *s, int is_map)
{
    ts_json_scan_fields *f;
    int m = take_member(s, &f);
    non_string(f, m);
    forget_state(f, m);
    if (m == M_ID) s->id_state = TS_JSON_SCAN_ID_BAD;
    if (s->depth == 0) s->root_is_object = is_map;
    if (m == M_PAYLOAD) {
        if (is_map) {
            /* A later "payload" member replaces an earlier one, as in jsonb. */
            s->payload_state = TS_JSON_SCAN_PAYLOAD_OBJECT;
            s->payload = (ts_json_scan_fields){0};
            s->payload_start = yajl_get_bytes_consumed(s->parser) - 1;
            s->in_payload = 1;
        } else {
            s->payload_state = TS_JSON_SCAN_PAYLOAD_NOT_OBJECT;
        }
    }
    if (++s->depth > MAX_DEPTH) {
        s->too_deep = 1;
        return 0; /* stops the parse */
    }
    return 1;
}

static int close_container(ts_json_scan *s)
{
    if (s->depth == 2 && s->in_payload) {
        s->payload_end = yajl_get_bytes_consumed(s->parser);
        s->in_payload = 0;
    }
    s->depth--;
    return 1;
}

static int on_start_map(void *ctx) { return open_container(ctx, 1); }
static int on_end_map(void *ctx) { return close_container(ctx); }
static int on_start_array(void *ctx) { return open_container(ctx, 0); }
static int on_end_array(void *ctx) { return close_container(ctx); }

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

/*
 * Where yajl's memory for one scan comes from. A scan allocates a few
 * small blocks (the handle, the lexer, the state stack; a decode buffer for
 * strings with escapes) and frees them all when it ends, so they are carved
 * from one buffer on the caller's stack instead of the heap
 * (benchmarks/preparse.c: 845 against 780 ns per flat message). A block that
 * does not fit comes from the heap, as before. Each block is preceded by its
 * size, which realloc needs; a block is never freed alone.
 */
#define ARENA_BYTES 4096
#define ARENA_ALIGN 16

typedef struct scan_arena {
    _Alignas(ARENA_ALIGN) unsigned char bytes[ARENA_BYTES];
    size_t used;
} scan_arena;

static int arena_owns(const scan_arena *a, const void *ptr)
{
    const unsigned char *p = ptr;
    return p >= a->bytes && p < a->bytes + ARENA_BYTES;
}

static void *arena_malloc(void *ctx, size_t size)
{
    scan_arena *a = ctx;
    size_t need = ARENA_ALIGN + (size + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (size > ARENA_BYTES || need > ARENA_BYTES - a->used) return malloc(size);
    unsigned char *block = a->bytes + a->used + ARENA_ALIGN;
    memcpy(block - sizeof(size_t), &size, sizeof(size_t));
    a->used += need;
    return block;
}

static void arena_free(void *ctx, void *ptr)
{
    /* Arena blocks go with the scan. */
    if (!arena_owns(ctx, ptr)) free(ptr);
}

static void *arena_realloc(void *ctx, void *ptr, size_t size)
{
    if (ptr == NULL) return arena_malloc(ctx, size);
    if (!arena_owns(ctx, ptr)) return realloc(ptr, size);
    size_t old;
    memcpy(&old, (unsigned char *)ptr - sizeof(size_t), sizeof(size_t));
    if (size <= old) return ptr;
    void *moved = arena_malloc(ctx, size);
    if (moved != NULL) memcpy(moved, ptr, old);
    return moved;
}

int ts_json_scan_run(const char *data, size_t len, ts_json_scan *s)
{
    memset(s, 0, sizeof(*s));
    s->data = data;
    s->len = len;
    scan_arena arena;
    arena.used = 0;
    yajl_alloc_funcs allocation = {arena_malloc, arena_realloc, arena_free, &arena};
    /* yajl's defaults are the strict ones: UTF-8 checked, no comments, no
     * trailing bytes, one value per message. */
    yajl_handle parser = yajl_alloc(&callbacks, &allocation, s);
    if (parser == NULL) return -1;
    s->parser = parser;
    int ok = yajl_parse(parser, (const unsigned char *)data, len) == yajl_status_ok &&
             yajl_complete_parse(parser) == yajl_status_ok;
    yajl_free(parser);
    s->parser = NULL;
    return ok && !s->too_deep ? 0 : -1;
}
