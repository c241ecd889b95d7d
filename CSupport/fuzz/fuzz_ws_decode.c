/*
 * libFuzzer target: ts_ws_decode() on arbitrary bytes taken as a stream of
 * frames, by a server decoder and by a client decoder (with a small message
 * limit, so fragments reach it). Each decoder reads the stream twice: in one
 * piece, and as it would arrive one byte at a time, re-called from the same
 * start after every TS_WS_EAGAIN. Both readings must report the same frames
 * and errors and leave the same bytes and state behind. In the byte-at-a-time
 * reading the bytes not yet "received" are poisoned, so any read past len is
 * an AddressSanitizer error. Every frame is checked against RFC 6455.
 */
#include "ts_ws.h"

#include <sanitizer/asan_interface.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(condition) do { if (!(condition)) abort(); } while (0)

/* The largest frame header: 2 bytes, a 64-bit length, a mask key. */
#define MAX_HEADER_SIZE 14

/* What one call reported, with pointers as offsets from the stream start. */
typedef struct outcome {
    int64_t result;
    uint8_t opcode, first, fin;
    uint16_t close_code;
    size_t payload_at, payload_len;
    size_t close_reason_at, close_reason_len;
    uint64_t needed;
} outcome;

/* One reading of the stream by one decoder. */
typedef struct reading {
    ts_ws_decoder decoder;
    uint8_t *bytes;       /* a private copy of the stream */
    outcome *outcomes;    /* one per frame, and the call that ended the reading */
    size_t count;
} reading;

static void start_reading(reading *r, const uint8_t *data, size_t size, uint64_t max_message, int server)
{
    ts_ws_decoder_init(&r->decoder, max_message, server);
    r->bytes = malloc(size ? size : 1);
    memcpy(r->bytes, data, size);
    /* Every call either consumes at least 2 bytes or ends the reading. */
    r->outcomes = malloc((size / 2 + 1) * sizeof(outcome));
    r->count = 0;
}

static void end_reading(reading *r)
{
    free(r->bytes);
    free(r->outcomes);
}

/* A close code the decoder may report: 1005 stands for "none given". */
static int close_code_is_reportable(uint16_t code)
{
    if (code >= 3000 && code <= 4999) return 1;
    return code >= 1000 && code <= 1014 && code != 1004 && code != 1006;
}

/* The RFC 6455 rules every frame the decoder returns must satisfy; d is the
 * decoder after the frame. */
static void check_frame(const ts_ws_decoder *d, const uint8_t *buf, size_t len, int64_t used, const ts_ws_frame *f)
{
    CHECK(used >= 2 && (uint64_t)used <= len);
    CHECK(f->payload >= buf + 2 && f->payload + f->payload_len == buf + used);
    switch (f->opcode) {
    case TS_WS_OP_TEXT:
    case TS_WS_OP_BINARY:
        CHECK(f->payload_len <= d->max_message && d->message_len <= d->max_message);
        CHECK(d->in_message == !f->fin);
        break;
    case TS_WS_OP_CLOSE:
        CHECK(close_code_is_reportable(f->close_code));
        CHECK(f->close_code == 1005 ? f->payload_len == 0 : f->close_reason_len + 2 == f->payload_len);
        CHECK(f->close_reason + f->close_reason_len == f->payload + f->payload_len);
        /* fall through: a close frame is a control frame */
    case TS_WS_OP_PING:
    case TS_WS_OP_PONG:
        CHECK(f->fin && !f->first && f->payload_len <= 125);
        break;
    default:
        CHECK(0);
    }
}

/* One call on buf[0..len), checked; the outcome is relative to `at`. */
static outcome decode_at(reading *r, size_t at, size_t len)
{
    ts_ws_decoder before = r->decoder;
    ts_ws_frame f;
    uint8_t *buf = r->bytes + at;
    outcome o;

    memset(&o, 0, sizeof(o));
    o.result = ts_ws_decode(&r->decoder, buf, len, &f);
    if (o.result > 0) {
        check_frame(&r->decoder, buf, len, o.result, &f);
        o.opcode = f.opcode;
        o.first = f.first;
        o.fin = f.fin;
        o.close_code = f.close_code;
        o.payload_at = at + (size_t)(f.payload - buf);
        o.payload_len = f.payload_len;
        o.close_reason_at = f.close_reason ? at + (size_t)(f.close_reason - buf) : 0;
        o.close_reason_len = f.close_reason_len;
        return o;
    }
    /* Only a returned frame changes the decoder. */
    CHECK(memcmp(&before, &r->decoder, sizeof(before)) == 0);
    if (o.result == TS_WS_EAGAIN) {
        /* needed is 0 only while the header is incomplete, and never asks
         * for bytes that are already there. */
        CHECK(f.needed == 0 ? len < MAX_HEADER_SIZE : f.needed > len);
        o.needed = f.needed;
    } else {
        CHECK(o.result == TS_WS_EPROTO || o.result == TS_WS_EUTF8 || o.result == TS_WS_ETOOBIG);
    }
    return o;
}

/* The stream in one piece: frames until an error or too few bytes. */
static void read_whole(reading *r, size_t size)
{
    size_t at = 0;
    while (at < size) {
        outcome o = decode_at(r, at, size - at);
        r->outcomes[r->count++] = o;
        if (o.result <= 0) break;
        at += (size_t)o.result;
    }
}

/* The stream one byte at a time: after each new byte, decode what is there.
 * An EAGAIN is an outcome only when no more bytes will come. */
static void read_bytewise(reading *r, size_t size)
{
    size_t at = 0;
    ASAN_POISON_MEMORY_REGION(r->bytes, size);
    for (size_t received = 1; received <= size; received++) {
        ASAN_UNPOISON_MEMORY_REGION(r->bytes + received - 1, 1);
        while (at < received) {
            outcome o = decode_at(r, at, received - at);
            if (o.result == TS_WS_EAGAIN && received < size) break;
            r->outcomes[r->count++] = o;
            if (o.result <= 0) {
                ASAN_UNPOISON_MEMORY_REGION(r->bytes, size);
                return;
            }
            at += (size_t)o.result;
        }
    }
}

static int same_outcome(const outcome *a, const outcome *b)
{
    return a->result == b->result && a->opcode == b->opcode && a->first == b->first && a->fin == b->fin &&
           a->close_code == b->close_code && a->payload_at == b->payload_at && a->payload_len == b->payload_len &&
           a->close_reason_at == b->close_reason_at && a->close_reason_len == b->close_reason_len &&
           a->needed == b->needed;
}

static void check_same_reading(const reading *a, const reading *b, size_t size)
{
    CHECK(a->count == b->count);
    for (size_t i = 0; i < a->count; i++) CHECK(same_outcome(&a->outcomes[i], &b->outcomes[i]));
    CHECK(memcmp(&a->decoder, &b->decoder, sizeof(a->decoder)) == 0);
    CHECK(memcmp(a->bytes, b->bytes, size) == 0);
}

static void read_both_ways(const uint8_t *data, size_t size, uint64_t max_message, int server)
{
    reading whole, bytewise;
    start_reading(&whole, data, size, max_message, server);
    start_reading(&bytewise, data, size, max_message, server);
    read_whole(&whole, size);
    read_bytewise(&bytewise, size);
    check_same_reading(&whole, &bytewise, size);
    end_reading(&whole);
    end_reading(&bytewise);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_both_ways(data, size, 1000, 1);
    read_both_ways(data, size, 64, 0);
    return 0;
}
