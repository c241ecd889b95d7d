/*
 * ts_ws.h — RFC 6455 WebSocket framing for tetcore-analytics.
 *
 * Bytes in, frames out: this module does no I/O, keeps no policy and never
 * allocates. The caller owns every buffer; pointers returned in a
 * ts_ws_frame point into the buffer the caller passed to ts_ws_decode().
 *
 * Error codes are negative; ts_ws_error_close_code() maps each to the close
 * code the caller must send before closing the TCP connection.
 */
#ifndef TS_WS_H
#define TS_WS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ts_ws_opcode {
    TS_WS_OP_CONTINUATION = 0x0,
    TS_WS_OP_TEXT = 0x1,
    TS_WS_OP_BINARY = 0x2,
    TS_WS_OP_CLOSE = 0x8,
    TS_WS_OP_PING = 0x9,
    TS_WS_OP_PONG = 0xA
} ts_ws_opcode;

typedef enum ts_ws_error {
    /* More bytes are needed; frame->needed tells how many in total (0 while
     * the header itself is incomplete). Keep the bytes and call again. */
    TS_WS_EAGAIN = -1,
    /* Protocol violation: send close 1002 and close the connection. */
    TS_WS_EPROTO = -2,
    /* Text message or close reason is not UTF-8: close 1007. */
    TS_WS_EUTF8 = -3,
    /* Message larger than the decoder's limit: close 1009. Decided from the
     * frame header, before any payload is buffered. */
    TS_WS_ETOOBIG = -4,
    /* Sec-WebSocket-Key is not the base64 form of 16 bytes: HTTP 400. */
    TS_WS_EBADKEY = -5,
    /* Output buffer too small for the encoded bytes. */
    TS_WS_ENOSPC = -6
} ts_ws_error;

/* Incremental decoder state. Initialise with ts_ws_decoder_init(); no
 * teardown is needed. Fields are private to ts_ws.c. */
typedef struct ts_ws_decoder {
    uint64_t max_message;     /* bytes of one (reassembled) message */
    uint64_t message_len;     /* bytes of the fragmented message so far */
    uint32_t utf8_state;      /* validator state across text fragments */
    uint8_t require_mask;     /* 1 on a server (clients must mask) */
    uint8_t in_message;       /* a fragmented message is open */
    uint8_t message_opcode;   /* TEXT or BINARY of the open message */
    uint8_t reserved_;
} ts_ws_decoder;

/* One decoded frame. All pointers point into the caller's buffer. */
typedef struct ts_ws_frame {
    uint8_t opcode;        /* TEXT, BINARY, CLOSE, PING, PONG; a continuation
                              frame reports the opcode of its message */
    uint8_t first;         /* 1 on the first frame of a data message */
    uint8_t fin;           /* 1 on the last frame of a data message */
    uint8_t reserved_;
    uint8_t *payload;      /* unmasked in place */
    size_t payload_len;
    uint16_t close_code;   /* CLOSE only: the code, or 1005 if none */
    const uint8_t *close_reason; /* CLOSE only: UTF-8 reason, may be empty */
    size_t close_reason_len;
    uint64_t needed;       /* TS_WS_EAGAIN only: total bytes, from the start
                              of the buffer, that complete this frame */
} ts_ws_frame;

/* require_mask: 1 for a server decoding client frames, 0 for a client. */
void ts_ws_decoder_init(ts_ws_decoder *d, uint64_t max_message, int require_mask);

/*
 * Decode one complete frame from the start of buf[0..len).
 * Returns the number of bytes the frame occupied (> 0) and fills *frame;
 * the payload is unmasked in place. Validates everything RFC 6455 asks of
 * a receiver: reserved bits and opcodes, masking, control frame size and
 * fragmentation, continuation order, close payload (code and UTF-8),
 * UTF-8 of text messages across fragments (a frame may end mid-character),
 * and the message size limit.
 * Returns TS_WS_EAGAIN when buf holds less than a frame, or another
 * negative ts_ws_error. The decoder changes only when a frame is returned:
 * after TS_WS_EAGAIN, call again with the same bytes and more after them.
 * After any other error the stream cannot go on.
 */
int64_t ts_ws_decode(ts_ws_decoder *d, uint8_t *buf, size_t len, ts_ws_frame *frame);

/* The close code to send for a negative ts_ws_decode() result. */
uint16_t ts_ws_error_close_code(int error);

/* Bytes of a frame header for this payload length (2, 4 or 10, +4 masked). */
size_t ts_ws_header_size(uint64_t payload_len, int masked);

/*
 * Write a frame header (FIN set as given, RSV clear) into out.
 * mask == NULL writes an unmasked (server) header. Returns bytes written or
 * TS_WS_ENOSPC.
 */
int ts_ws_encode_header(uint8_t *out, size_t out_cap, ts_ws_opcode opcode, int fin,
                        uint64_t payload_len, const uint8_t mask[4]);

/* XOR data with mask, as if data started at byte `offset` of the payload. */
void ts_ws_apply_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

/*
 * Write a whole close frame (header and payload: code, then reason) into out.
 * code 0 writes an empty close payload and ignores the reason. Masks when
 * mask != NULL. Returns bytes written, or TS_WS_ENOSPC when out is too small
 * or the reason is longer than the 123 bytes a control frame leaves for it.
 */
int ts_ws_encode_close(uint8_t *out, size_t out_cap, uint16_t code,
                       const char *reason, size_t reason_len, const uint8_t mask[4]);

/* Length of a Sec-WebSocket-Accept value without the terminating NUL. */
#define TS_WS_ACCEPT_LEN 28

/*
 * Compute Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2).
 * The key (surrounding spaces already trimmed) must be base64 of exactly
 * 16 bytes. Writes TS_WS_ACCEPT_LEN chars and a NUL. Returns 0 or
 * TS_WS_EBADKEY.
 */
int ts_ws_accept_key(const char *key, size_t key_len, char out[TS_WS_ACCEPT_LEN + 1]);

/* Incremental UTF-8 validation (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF). Start with state = TS_UTF8_ACCEPT. */
#define TS_UTF8_ACCEPT 0u
#define TS_UTF8_REJECT 1u
/* Feeds bytes; returns the new state: TS_UTF8_ACCEPT at a character
 * boundary, TS_UTF8_REJECT (sticky) on invalid input, anything else while a
 * character is incomplete. */
uint32_t ts_utf8_validate(uint32_t state, const uint8_t *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* TS_WS_H */
