/*
 * ts_ws.c — RFC 6455 frame decoding and encoding.
 *
 * ts_ws_decode() reads one frame at a time in three steps: parse the header,
 * check it against the protocol and the decoder's state, then (once the
 * whole payload is present) unmask and validate the payload. The decoder's
 * state changes only when a whole frame is returned, so a caller that gets
 * TS_WS_EAGAIN calls again later with more bytes from the same start.
 */
#include "ts_ws.h"

#include <string.h>

_Static_assert(sizeof(uint64_t) == 8, "the mask loop works on 8-byte words");

/* Control frames carry at most 125 payload bytes (RFC 6455 §5.5). */
#define MAX_CONTROL_PAYLOAD 125
/* Close frame payload when the peer gave no code (RFC 6455 §7.1.5). */
#define CLOSE_NO_STATUS 1005

/* What the header of one frame says. */
typedef struct frame_header {
    uint8_t fin, rsv, opcode, masked;
    uint8_t len7;          /* the 7-bit length: the length itself, or 126/127 */
    size_t length_bytes;   /* 0, 2 or 8 bytes of extended length */
    size_t size;           /* bytes of the whole header */
    uint64_t payload_len;
} frame_header;

void ts_ws_decoder_init(ts_ws_decoder *d, uint64_t max_message, int require_mask)
{
    memset(d, 0, sizeof(*d));
    d->max_message = max_message;
    d->require_mask = require_mask ? 1 : 0;
    d->utf8_state = TS_UTF8_ACCEPT;
}

static int is_control(uint8_t opcode)
{
    return opcode >= TS_WS_OP_CLOSE;
}

static int is_known_opcode(uint8_t opcode)
{
    return opcode <= TS_WS_OP_BINARY || (opcode >= TS_WS_OP_CLOSE && opcode <= TS_WS_OP_PONG);
}

/* The fields of the first two bytes, which every header has. */
static void read_first_bytes(const uint8_t *buf, frame_header *h)
{
    h->fin = buf[0] >> 7;
    h->rsv = (buf[0] >> 4) & 7;
    h->opcode = buf[0] & 0x0F;
    h->masked = buf[1] >> 7;
    h->len7 = buf[1] & 0x7F;
    h->length_bytes = h->len7 == 126 ? 2 : h->len7 == 127 ? 8 : 0;
    h->size = 2 + h->length_bytes + (h->masked ? 4 : 0);
}

/*
 * Everything the first two bytes decide: no extensions are negotiated, so
 * RSV bits and unknown opcodes are errors; masking must match the side we
 * are on; control frames are short and unfragmented; data frames must
 * follow the message order.
 */
static int check_frame_kind(const ts_ws_decoder *d, const frame_header *h)
{
    if (h->rsv != 0 || !is_known_opcode(h->opcode)) return TS_WS_EPROTO;
    if (h->masked != d->require_mask) return TS_WS_EPROTO;
    if (is_control(h->opcode)) return h->fin && h->len7 <= MAX_CONTROL_PAYLOAD ? 0 : TS_WS_EPROTO;
    if (h->opcode == TS_WS_OP_CONTINUATION) return d->in_message ? 0 : TS_WS_EPROTO;
    return d->in_message ? TS_WS_EPROTO : 0;
}

/*
 * Reads the payload length. Returns 0, TS_WS_EAGAIN while the extended
 * length is incomplete, or TS_WS_EPROTO for a length that is not in its
 * shortest form (RFC 6455 §5.2) or has the 64-bit form's top bit set.
 */
static int read_payload_length(const uint8_t *buf, size_t len, frame_header *h)
{
    uint64_t n = 0;

    if (len < 2 + h->length_bytes) return TS_WS_EAGAIN;
    if (h->length_bytes == 0) {
        h->payload_len = h->len7;
        return 0;
    }
    for (size_t i = 0; i < h->length_bytes; i++) n = (n << 8) | buf[2 + i];
    h->payload_len = n;
    /* The 16-bit form is for 126..65535, the 64-bit form for anything larger. */
    if (h->length_bytes == 2) return n < 126 ? TS_WS_EPROTO : 0;
    return n <= 0xFFFF || n >> 63 ? TS_WS_EPROTO : 0;
}

/* The size limit is checked from the header alone, so nothing is buffered
 * for a message that could never be accepted. Control frames don't count. */
static int check_message_size(const ts_ws_decoder *d, const frame_header *h)
{
    if (is_control(h->opcode)) return 0;
    uint64_t so_far = h->opcode == TS_WS_OP_CONTINUATION ? d->message_len : 0;
    /* so_far never exceeds max_message, so the subtraction cannot wrap. */
    return h->payload_len > d->max_message - so_far ? TS_WS_ETOOBIG : 0;
}

/* Close codes a peer may send (RFC 6455 §7.4.1 and the IANA registry);
 * 1004 is reserved, and 1005, 1006 and 1015 must never be sent. */
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
    f->close_reason = f->payload;
    if (f->payload_len == 0) {
        f->close_code = CLOSE_NO_STATUS;
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

/*
 * Fills in a data frame and moves the decoder's message state on. Text is
 * validated across fragments: only the final one must end on a character
 * boundary. Nothing changes in *d when this fails.
 */
static int accept_data_frame(ts_ws_decoder *d, const frame_header *h, ts_ws_frame *f)
{
    int continuation = h->opcode == TS_WS_OP_CONTINUATION;
    uint8_t message_opcode = continuation ? d->message_opcode : h->opcode;

    uint32_t utf8 = continuation ? d->utf8_state : TS_UTF8_ACCEPT;
    if (message_opcode == TS_WS_OP_TEXT) {
        utf8 = ts_utf8_validate(utf8, f->payload, f->payload_len);
        if (utf8 == TS_UTF8_REJECT || (h->fin && utf8 != TS_UTF8_ACCEPT)) return TS_WS_EUTF8;
    }

    f->opcode = message_opcode;
    f->first = !continuation;
    if (h->fin) {
        d->in_message = 0;
        d->message_len = 0;
        d->utf8_state = TS_UTF8_ACCEPT;
    } else {
        d->in_message = 1;
        d->message_opcode = message_opcode;
        d->message_len = (continuation ? d->message_len : 0) + h->payload_len;
        d->utf8_state = utf8;
    }
    return 0;
}

int64_t ts_ws_decode(ts_ws_decoder *d, uint8_t *buf, size_t len, ts_ws_frame *f)
{
    frame_header h;
    int rc;

    memset(f, 0, sizeof(*f));
    if (len < 2) return TS_WS_EAGAIN;
    read_first_bytes(buf, &h);
    if ((rc = check_frame_kind(d, &h)) < 0) return rc;
    if ((rc = read_payload_length(buf, len, &h)) < 0) return rc;
    if ((rc = check_message_size(d, &h)) < 0) return rc;
    if (len < h.size) return TS_WS_EAGAIN; /* needed stays 0 until the mask key is here */
    if (len - h.size < h.payload_len) {
        f->needed = h.size + h.payload_len;
        return TS_WS_EAGAIN;
    }

    /* The whole frame is here; payload_len <= len, so it fits a size_t. */
    f->payload = buf + h.size;
    f->payload_len = (size_t)h.payload_len;
    f->fin = h.fin;
    if (h.masked) ts_ws_apply_mask(f->payload, f->payload_len, buf + h.size - 4, 0);

    if (is_control(h.opcode)) {
        f->opcode = h.opcode;
        rc = h.opcode == TS_WS_OP_CLOSE ? parse_close(f) : 0;
    } else {
        rc = accept_data_frame(d, &h, f);
    }
    return rc < 0 ? rc : (int64_t)(h.size + f->payload_len);
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
    uint8_t mask_bit = mask ? 0x80 : 0;
    size_t at;

    if (out_cap < size) return TS_WS_ENOSPC;
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
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
    uint8_t phase[4]; /* the mask as seen from data[0] */
    size_t i = 0;

    for (int k = 0; k < 4; k++) phase[k] = mask[(offset + (uint64_t)k) & 3];
    /* Byte by byte until data + i is 8-byte aligned. */
    for (; i < len && ((uintptr_t)(data + i) & 7) != 0; i++) data[i] ^= phase[i & 3];
    if (len - i >= 8) {
        /* Eight mask bytes in the phase of data[i]; the phase repeats every
         * 4 bytes, so the same word serves every 8-byte step. memcpy keeps
         * the byte order right on any endianness. */
        uint8_t repeated[8];
        uint64_t word_mask;
        for (int k = 0; k < 8; k++) repeated[k] = phase[(i + (size_t)k) & 3];
        memcpy(&word_mask, repeated, 8);
        for (; len - i >= 8; i += 8) {
            uint64_t word;
            memcpy(&word, data + i, 8);
            word ^= word_mask;
            memcpy(data + i, &word, 8);
        }
    }
    for (; i < len; i++) data[i] ^= phase[i & 3];
}

int ts_ws_encode_close(uint8_t *out, size_t out_cap, uint16_t code,
                       const char *reason, size_t reason_len, const uint8_t mask[4])
{
    if (code && reason_len > MAX_CONTROL_PAYLOAD - 2) return TS_WS_ENOSPC;
    size_t payload_len = code ? 2 + reason_len : 0;
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
