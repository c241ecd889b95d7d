/*
 * libFuzzer target: HTTP request parsing as Sources/AnalyticsServer/HTTP
 * does it. Drives Debian's http-parser with HTTPRequestParser's settings and
 * callbacks (16 KiB head limit, a pause after each message, 411 for
 * Transfer-Encoding, 413 above 4096 body bytes, 400 for a target whose path
 * or query does not percent-decode) and HTTPConnection's loop over pipelined
 * requests. The first input byte picks where the rest is split in two; the
 * stream is read in one piece and in those two pieces, each in a heap block
 * of exactly its size (the first freed before the second is fed), and both
 * readings must give the same requests and failures. Every callback span
 * must lie inside the bytes being fed, the head and body must fit their
 * limits, and the percent-decoder runs on exactly-sized copies so any read
 * past a piece is an AddressSanitizer error.
 *
 * http-parser checks its head limit after it hands over a piece, and the
 * outcome depends on how the bytes were split; so HTTPRequestParser counts
 * the head itself (target, names, values, 4 bytes of framing per header)
 * and refuses with 431 before keeping a piece past 16 KiB, with
 * http-parser's limit at twice that as a backstop. Done the same here.
 *
 * libhttp_parser itself is not instrumented: ASan sees its reads only
 * through the callbacks and the intercepted libc calls.
 */
// fuzz-libs: -lhttp_parser
#include "ts_ws.h"

#include <http_parser.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(condition) do { if (!(condition)) abort(); } while (0)

/* HTTPRequestParser.maxHeadBytes and HTTPServer.Limits.maxBodyBytes. */
#define MAX_HEAD_BYTES 16384
#define MAX_BODY_BYTES 4096

/* What the connection got from one feed: a request or a refusal. */
typedef struct outcome {
    int status;          /* 0 for a request, else the answered error status */
    size_t end;          /* stream offset after a request; 0 for a failure */
    unsigned method, keep_alive, upgrade;
    size_t header_count, body_len;
    uint64_t digest;     /* target, headers and body, to compare readings */
} outcome;

/* The request being parsed (HTTPRequestParser.current and its header
 * accumulators). The callbacks deliver pieces; bounded buffers hold them. */
typedef struct request {
    uint8_t *target;     /* these three hold head_capacity bytes each */
    size_t target_len;
    uint8_t *name;
    size_t name_len;
    uint8_t *value;
    size_t value_len;
    int reading_value;
    int in_head;         /* between message begin and headers complete */
    size_t head_bytes;   /* target, names and values so far */
    size_t head_capacity;
    size_t header_count;
    uint64_t headers_digest;
    uint8_t body[MAX_BODY_BYTES];
    size_t body_len;
} request;

/* One connection reading the stream. */
typedef struct connection {
    http_parser parser;
    request current;
    int completed;       /* a request is waiting to be returned by feed() */
    outcome completed_request;
    int rejection;       /* status set by on_headers_complete, or 0 */
    const uint8_t *chunk;
    size_t chunk_len;
    outcome *outcomes;   /* one per request, and the failure that ended it */
    size_t count;
    int closed;
} connection;

static uint64_t digest_bytes(uint64_t h, const uint8_t *s, size_t len)
{
    /* FNV-1a, preceded by the length so adjacent fields cannot blur. */
    for (size_t i = 0; i < sizeof(len); i++) h = (h ^ ((len >> (8 * i)) & 0xFF)) * 0x100000001B3u;
    for (size_t i = 0; i < len; i++) h = (h ^ s[i]) * 0x100000001B3u;
    return h;
}

static connection *from(http_parser *p)
{
    return p->data;
}

/* Callback data must point into the bytes handed to http_parser_execute. */
static void check_span(const connection *c, const char *at, size_t length)
{
    const uint8_t *data = (const uint8_t *)at;
    CHECK(data >= c->chunk && length <= c->chunk_len && data - c->chunk <= (ptrdiff_t)(c->chunk_len - length));
}

/* HTTPRequestParser.countHead: false (431) once the head passes the limit. */
static int count_head(connection *c, size_t bytes)
{
    c->current.head_bytes += bytes;
    if (c->current.head_bytes <= MAX_HEAD_BYTES) return 1;
    c->rejection = 431;
    return 0;
}

/* Appends a piece of the head, already counted within the limit. */
static void append_head(request *r, uint8_t *buf, size_t *len, const char *at, size_t length)
{
    CHECK(*len + length <= r->head_capacity);
    memcpy(buf + *len, at, length);
    *len += length;
}

/* HTTPRequestParser.flushHeader: header names lower-cased, values trimmed.
 * Names are tokens (http-parser also lets a space through), so ASCII
 * lower-casing is Swift's lowercased(); trimming is ASCII-only here where
 * Swift also trims Unicode spaces. */
static void flush_header(request *r)
{
    if (r->name_len > 0) {
        size_t start = 0, end = r->value_len;
        for (size_t i = 0; i < r->name_len; i++) {
            uint8_t b = r->name[i];
            CHECK(b >= 0x20 && b < 0x7F);
            if (b >= 'A' && b <= 'Z') r->name[i] = (uint8_t)(b - 'A' + 'a');
        }
        while (start < end && (r->value[start] == ' ' || r->value[start] == '\t')) start++;
        while (end > start && (r->value[end - 1] == ' ' || r->value[end - 1] == '\t')) end--;
        r->headers_digest = digest_bytes(r->headers_digest, r->name, r->name_len);
        r->headers_digest = digest_bytes(r->headers_digest, r->value + start, end - start);
        r->header_count++;
    }
    r->name_len = 0;
    r->value_len = 0;
    r->reading_value = 0;
}

static int hex_value(uint8_t b)
{
    if (b >= '0' && b <= '9') return b - '0';
    if (b >= 'a' && b <= 'f') return b - 'a' + 10;
    if (b >= 'A' && b <= 'F') return b - 'A' + 10;
    return -1;
}

/* HTTPRequest.swift's percentDecode: %XX escapes in either case, '+' as a
 * space when plus_is_space, and the result must be UTF-8. out has room for
 * len bytes. Returns the decoded length, or -1 for a truncated or non-hex
 * escape or invalid UTF-8. (Swift gets the target as a String, so raw
 * invalid UTF-8 there was already replaced by U+FFFD; here it is refused.) */
static ptrdiff_t percent_decode(const uint8_t *in, size_t len, int plus_is_space, uint8_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = in[i];
        if (b == '%') {
            if (len - i < 3) return -1;
            int high = hex_value(in[i + 1]), low = hex_value(in[i + 2]);
            if (high < 0 || low < 0) return -1;
            b = (uint8_t)(high << 4 | low);
            i += 2;
        } else if (b == '+' && plus_is_space) {
            b = ' ';
        }
        out[n++] = b;
    }
    return ts_utf8_validate(TS_UTF8_ACCEPT, out, n) == TS_UTF8_ACCEPT ? (ptrdiff_t)n : -1;
}

/* Decodes s[0..len) from its own exactly-sized copy into an exactly-sized
 * output, so a read or write past either is caught. */
static ptrdiff_t decode_piece(const uint8_t *s, size_t len, int plus_is_space, uint8_t *first)
{
    uint8_t *in = malloc(len ? len : 1), *out = malloc(len ? len : 1);
    CHECK(in != NULL && out != NULL);
    memcpy(in, s, len);
    ptrdiff_t n = percent_decode(in, len, plus_is_space, out);
    CHECK(n <= (ptrdiff_t)len);
    if (first) *first = n > 0 ? out[0] : 0;
    free(in);
    free(out);
    return n;
}

/* QueryParameters(parsing:): '&'-separated pairs, empty ones skipped, each
 * split at its first '='; names and values decode with '+' as a space. */
static int query_decodes(const uint8_t *q, size_t len)
{
    size_t start = 0;
    while (start <= len) {
        const uint8_t *amp = memchr(q + start, '&', len - start);
        size_t end = amp ? (size_t)(amp - q) : len;
        if (end > start) {
            const uint8_t *eq = memchr(q + start, '=', end - start);
            size_t name_end = eq ? (size_t)(eq - q) : end;
            if (decode_piece(q + start, name_end - start, 1, NULL) < 0) return 0;
            if (eq && decode_piece(eq + 1, end - name_end - 1, 1, NULL) < 0) return 0;
        }
        start = end + 1;
    }
    return 1;
}

/* The target: a decodable path starting with '/', then an optional query.
 * (Swift's hasPrefix("/") compares characters, so there a '/' followed by a
 * combining mark does not count; here the first byte decides.) */
static int target_is_valid(const request *r)
{
    const uint8_t *question = memchr(r->target, '?', r->target_len);
    size_t path_len = question ? (size_t)(question - r->target) : r->target_len;
    uint8_t first;
    if (decode_piece(r->target, path_len, 0, &first) <= 0 || first != '/') return 0;
    return question == NULL || query_decodes(question + 1, r->target_len - path_len - 1);
}

static int on_message_begin(http_parser *p)
{
    request *r = &from(p)->current;
    r->target_len = r->name_len = r->value_len = r->head_bytes = r->header_count = r->body_len = 0;
    r->reading_value = 0;
    r->in_head = 1;
    r->headers_digest = 0xCBF29CE484222325u;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t length)
{
    connection *c = from(p);
    check_span(c, at, length);
    for (size_t i = 0; i < length; i++) CHECK(at[i] != ' ' && at[i] != '\r' && at[i] != '\n' && at[i] != '\0');
    if (!count_head(c, length)) return 1;
    append_head(&c->current, c->current.target, &c->current.target_len, at, length);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t length)
{
    connection *c = from(p);
    check_span(c, at, length);
    if (!count_head(c, length + (c->current.reading_value || c->current.name_len == 0 ? 4 : 0))) return 1;
    if (c->current.reading_value) flush_header(&c->current);
    append_head(&c->current, c->current.name, &c->current.name_len, at, length);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t length)
{
    connection *c = from(p);
    check_span(c, at, length);
    for (size_t i = 0; i < length; i++) CHECK(at[i] != '\r' && at[i] != '\n');
    if (!count_head(c, length)) return 1;
    append_head(&c->current, c->current.value, &c->current.value_len, at, length);
    c->current.reading_value = 1;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    connection *c = from(p);
    flush_header(&c->current);
    c->current.in_head = 0;
    CHECK(c->current.head_bytes <= MAX_HEAD_BYTES);
    if (p->uses_transfer_encoding) {
        c->rejection = 411;
        return -1;
    }
    /* content_length is ULLONG_MAX when the header is absent. */
    if (p->content_length != ULLONG_MAX && p->content_length > MAX_BODY_BYTES) {
        c->rejection = 413;
        return -1;
    }
    if (!target_is_valid(&c->current)) {
        c->rejection = 400;
        return -1;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t length)
{
    connection *c = from(p);
    check_span(c, at, length);
    /* Transfer-Encoding is refused and Content-Length capped, so the body fits. */
    CHECK(c->current.body_len + length <= MAX_BODY_BYTES);
    memcpy(c->current.body + c->current.body_len, at, length);
    c->current.body_len += length;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    connection *c = from(p);
    request *r = &c->current;
    outcome *o = &c->completed_request;
    memset(o, 0, sizeof(*o));
    o->method = p->method;
    o->keep_alive = (unsigned)http_should_keep_alive(p);
    o->upgrade = p->upgrade;
    o->header_count = r->header_count;
    o->body_len = r->body_len;
    o->digest = digest_bytes(digest_bytes(r->headers_digest, r->target, r->target_len), r->body, r->body_len);
    c->completed = 1;
    /* Stop after each request so pipelined requests come out in order. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* size is the stream length: the most one execute call can overrun the
 * head limit by. */
static void start_connection(connection *c, size_t size)
{
    request *r = &c->current;
    memset(c, 0, sizeof(*c));
    r->head_capacity = MAX_HEAD_BYTES + size;
    r->target = malloc(r->head_capacity);
    r->name = malloc(r->head_capacity);
    r->value = malloc(r->head_capacity);
    CHECK(r->target != NULL && r->name != NULL && r->value != NULL);
    http_parser_set_max_header_size(MAX_HEAD_BYTES * 2);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    /* Each outcome uses at least one byte, and one failure may end it. */
    c->outcomes = malloc((size + 1) * sizeof(outcome));
    CHECK(c->outcomes != NULL);
}

static void end_connection(connection *c)
{
    free(c->current.target);
    free(c->current.name);
    free(c->current.value);
    free(c->outcomes);
}

/* HTTPRequestParser.feed: at most one request from bytes[0..len). Appends
 * the outcome, if any, and returns the bytes used. */
static size_t feed(connection *c, const uint8_t *bytes, size_t len, size_t stream_offset)
{
    c->chunk = bytes;
    c->chunk_len = len;
    size_t used = http_parser_execute(&c->parser, &settings, (const char *)bytes, len);
    CHECK(used <= len);
    enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
    if (c->current.in_head && c->rejection != 431) CHECK(c->current.head_bytes <= MAX_HEAD_BYTES);
    if (err == HPE_PAUSED) {
        http_parser_pause(&c->parser, 0);
    } else if (err != HPE_OK) {
        outcome *o = &c->outcomes[c->count++];
        memset(o, 0, sizeof(*o));
        o->status = c->rejection ? c->rejection : err == HPE_HEADER_OVERFLOW ? 431 : 400;
        c->closed = 1;
        return used;
    }
    if (c->completed) {
        c->completed = 0;
        c->completed_request.end = stream_offset + used;
        c->outcomes[c->count++] = c->completed_request;
        /* Connection: close (or HTTP/1.0) ends the connection after the answer.
         * After an upgrade parsing goes on, as it does when the upgrade asks
         * for a route that is not a WebSocket one. */
        if (!c->completed_request.keep_alive) c->closed = 1;
    }
    return used;
}

/* HTTPConnection.process over one piece of the stream that arrived at
 * stream_offset, given in a heap block of exactly its size. */
static void process(connection *c, const uint8_t *bytes, size_t len, size_t stream_offset)
{
    size_t offset = 0;
    while (offset < len && !c->closed) {
        size_t before = c->count;
        offset += feed(c, bytes + offset, len - offset, stream_offset + offset);
        /* Without an outcome the parser has taken everything (the connection
         * would drop bytes left over). */
        if (c->count == before) CHECK(offset == len);
    }
}

static void process_copy(connection *c, const uint8_t *data, size_t len, size_t stream_offset)
{
    if (len == 0) return;
    uint8_t *copy = malloc(len);
    CHECK(copy != NULL);
    memcpy(copy, data, len);
    process(c, copy, len, stream_offset);
    free(copy);
}

static int same_outcome(const outcome *a, const outcome *b)
{
    return a->status == b->status && a->end == b->end && a->method == b->method &&
           a->keep_alive == b->keep_alive && a->upgrade == b->upgrade &&
           a->header_count == b->header_count && a->body_len == b->body_len && a->digest == b->digest;
}

/* The decoder on arbitrary bytes: '+' handling changes neither whether it
 * decodes nor the length. */
static void check_percent_decode(const uint8_t *data, size_t size)
{
    ptrdiff_t plain = decode_piece(data, size, 0, NULL);
    ptrdiff_t form = decode_piece(data, size, 1, NULL);
    CHECK(plain == form);
    if (memchr(data, '%', size) == NULL) {
        int valid = ts_utf8_validate(TS_UTF8_ACCEPT, data, size) == TS_UTF8_ACCEPT;
        CHECK(plain == (valid ? (ptrdiff_t)size : -1));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    connection whole, split;
    if (size == 0) return 0;
    const uint8_t *stream = data + 1;
    size_t len = size - 1;
    size_t at = (size_t)data[0] * len / 255;

    check_percent_decode(stream, len);

    start_connection(&whole, len);
    process_copy(&whole, stream, len, 0);
    start_connection(&split, len);
    process_copy(&split, stream, at, 0);
    process_copy(&split, stream + at, len - at, at);

    CHECK(whole.count == split.count);
    for (size_t i = 0; i < whole.count; i++) CHECK(same_outcome(&whole.outcomes[i], &split.outcomes[i]));
    end_connection(&whole);
    end_connection(&split);
    return 0;
}
