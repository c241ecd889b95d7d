/*
 * ts_ws.c — RFC 6455 frame decoding and encoding.
 *
 * ts_ws_decode() looks at one frame at a time and changes the decoder's
 * state only when it returns a whole frame, so a caller that gets
 * TS_WS_EAGAIN simply calls again later with more bytes from the same
 * start. Payloads are unmasked in place in the caller's buffer.
 */
#include "ts_ws.h"

#include <string.h>

_Static_assert(sizeof(uint64_t) == 8, "the mask loop works on 8-byte words");

void ts_ws_decoder_init(ts_ws_decoder *d, uint64_t max_message, int require_mask)
{
    memset(d, 0, sizeof(*d));
    d->max_message = max_message;
    d->require_mask = require_mask ? 1 : 0;
    d->utf8_state = TS_UTF8_ACCEPT;
}

static uint64_t read_be(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = (v << 8) | p[i];
    return v;
}

static int is_control(uint8_t opcode)
{
    return opcode >= TS_WS_OP_CLOSE;
}

static int is_known_opcode(uint8_t opcode)
{
    return opcode <= TS_WS_OP_BINARY || (opcode >= TS_WS_OP_CLOSE && opcode <= TS_WS_OP_PONG);
}

/* Close codes a peer may send (RFC 6455 §7.4 and the IANA registry). */
static int close_code_is_valid(uint16_t code)
{
    if (code >= 3000 && code <= 4999) return 1;
    switch (code) {
    case 1000: case 1001: case 1002: case 1003: case 1007: case 1008:
    case 1009: case 1010: case 1011: case 1012: case 1013: case 1014:
        return 1;
    default:
        return 0;
    }
}

/* Checks a close frame's payload and points the frame at code and reason. */
static int parse_close(ts_ws_frame *f)
{
    if (f->payload_len == 0) {
        f->close_code = 1005; /* no status code present */
        return 0;
    }
    if (f->payload_len == 1) return TS_WS_EPROTO;
    f->close_code = (uint16_t)((f->payload[0] << 8) | f->payload[1]);
    if (!close_code_is_valid(f->close_code)) return TS_WS_EPROTO;
    f->close_reason = f->payload + 2;
    f->close_reason_len = f->payload_len - 2;
    if (ts_utf8_validate(TS_UTF8_ACCEPT, f->close_reason, f->close_reason_len) != TS_UTF8_ACCEPT)
        return TS_WS_EUTF8;
    return 0;
}

int64_t ts_ws_decode(ts_ws_decoder *d, uint8_t *buf, size_t len, ts_ws_frame *f)
{
    memset(f, 0, sizeof(*f));
    if (len < 2) return TS_WS_EAGAIN;

    uint8_t fin = buf[0] >> 7, rsv = (buf[0] >> 4) & 7, opcode = buf[0] & 0x0F;
    uint8_t masked = buf[1] >> 7, len7 = buf[1] & 0x7F;

    /* Everything the first two bytes decide, before waiting for more. */
    if (rsv != 0 || !is_known_opcode(opcode)) return TS_WS_EPROTO;
    if (masked != d->require_mask) return TS_WS_EPROTO;
    if (is_control(opcode) && (!fin || len7 > 125)) return TS_WS_EPROTO;
    if (opcode == TS_WS_OP_CONTINUATION && !d->in_message) return TS_WS_EPROTO;
    if ((opcode == TS_WS_OP_TEXT || opcode == TS_WS_OP_BINARY) && d->in_message) return TS_WS_EPROTO;

    size_t length_bytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    size_t header_len = 2 + length_bytes + (masked ? 4 : 0);
    if (len < 2 + length_bytes) return TS_WS_EAGAIN;
    uint64_t payload_len = length_bytes ? read_be(buf + 2, (int)length_bytes) : len7;
    /* Lengths must use the shortest encoding; the 64-bit form's top bit is 0. */
    if (length_bytes == 2 && payload_len < 126) return TS_WS_EPROTO;
    if (length_bytes == 8 && (payload_len <= 0xFFFF || payload_len >> 63)) return TS_WS_EPROTO;

    /* The size limit is decided from the header: nothing is buffered for a
     * message that could never be accepted. */
    if (!is_control(opcode)) {
        uint64_t so_far = opcode == TS_WS_OP_CONTINUATION ? d->message_len : 0;
        if (payload_len > d->max_message || so_far + payload_len > d->max_message) return TS_WS_ETOOBIG;
    }
    if (len < header_len || len - header_len < payload_len) {
        f->needed = header_len + payload_len;
        return TS_WS_EAGAIN;
    }

    uint8_t *payload = buf + header_len;
    if (masked) ts_ws_apply_mask(payload, (size_t)payload_len, buf + header_len - 4, 0);
    f->payload = payload;
    f->payload_len = (size_t)payload_len;
    f->fin = fin;

    if (is_control(opcode)) {
        f->opcode = opcode;
        if (opcode == TS_WS_OP_CLOSE) {
            int rc = parse_close(f);
            if (rc < 0) return rc;
        }
        return (int64_t)(header_len + payload_len);
    }

    /* A data frame: track the message it belongs to. */
    uint8_t message_opcode = opcode == TS_WS_OP_CONTINUATION ? d->message_opcode : opcode;
    uint32_t utf8 = opcode == TS_WS_OP_CONTINUATION ? d->utf8_state : TS_UTF8_ACCEPT;
    if (message_opcode == TS_WS_OP_TEXT) {
        utf8 = ts_utf8_validate(utf8, payload, f->payload_len);
        if (utf8 == TS_UTF8_REJECT || (fin && utf8 != TS_UTF8_ACCEPT)) return TS_WS_EUTF8;
    }
    f->opcode = message_opcode;
    f->first = opcode != TS_WS_OP_CONTINUATION;
    if (fin) {
        d->in_message = 0;
        d->message_len = 0;
        d->utf8_state = TS_UTF8_ACCEPT;
    } else {
        d->in_message = 1;
        d->message_opcode = message_opcode;
        d->message_len = (f->first ? 0 : d->message_len) + payload_len;
        d->utf8_state = utf8;
    }
    return (int64_t)(header_len + payload_len);
}

uint16_t ts_ws_error_close_code(int error)
{
    switch (error) {
    case TS_WS_EPROTO: return 1002;
    case TS_WS_EUTF8: return 1007;
    case TS_WS_ETOOBIG: return 1009;
    default: return 1011;
    }
}

size_t ts_ws_header_size(uint64_t payload_len, int masked)
{
    size_t size = payload_len < 126 ? 2 : payload_len <= 0xFFFF ? 4 : 10;
    return size + (masked ? 4 : 0);
}

int ts_ws_encode_header(uint8_t *out, size_t out_cap, ts_ws_opcode opcode, int fin,
                        uint64_t payload_len, const uint8_t mask[4])
{
    size_t size = ts_ws_header_size(payload_len, mask != NULL);
    if (out_cap < size) return TS_WS_ENOSPC;
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
    uint8_t mask_bit = mask ? 0x80 : 0;
    size_t at;
    if (payload_len < 126) {
        out[1] = (uint8_t)(mask_bit | payload_len);
        at = 2;
    } else if (payload_len <= 0xFFFF) {
        out[1] = mask_bit | 126;
        out[2] = (uint8_t)(payload_len >> 8);
        out[3] = (uint8_t)payload_len;
        at = 4;
    } else {
        out[1] = mask_bit | 127;
        for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
        at = 10;
    }
    if (mask) memcpy(out + at, mask, 4);
    return (int)size;
}

void ts_ws_apply_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
    uint8_t m[4];
    size_t i = 0;
    for (int k = 0; k < 4; k++) m[k] = mask[(offset + (uint64_t)k) & 3];
    /* Byte by byte until data is 8-byte aligned, keeping the mask phase. */
    while (i < len && ((uintptr_t)(data + i) & 7) != 0) {
        data[i] ^= m[i & 3];
        i++;
    }
    if (len - i >= 8) {
        uint8_t rotated[8];
        for (int k = 0; k < 8; k++) rotated[k] = m[(i + (size_t)k) & 3];
        uint64_t word_mask;
        memcpy(&word_mask, rotated, 8);
        for (; len - i >= 8; i += 8) {
            uint64_t word;
            memcpy(&word, data + i, 8);
            word ^= word_mask;
            memcpy(data + i, &word, 8);
        }
    }
    for (; i < len; i++) data[i] ^= m[i & 3];
}

int ts_ws_encode_close(uint8_t *out, size_t out_cap, uint16_t code,
                       const char *reason, size_t reason_len, const uint8_t mask[4])
{
    size_t payload_len = code ? 2 + reason_len : 0;
    if (payload_len > 125) return TS_WS_ENOSPC;
    int header = ts_ws_encode_header(out, out_cap, TS_WS_OP_CLOSE, 1, payload_len, mask);
    if (header < 0 || out_cap - (size_t)header < payload_len) return TS_WS_ENOSPC;
    uint8_t *payload = out + header;
    if (code) {
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)code;
        if (reason_len) memcpy(payload + 2, reason, reason_len);
    }
    if (mask) ts_ws_apply_mask(payload, payload_len, mask, 0);
    return header + (int)payload_len;
}
