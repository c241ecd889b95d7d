/*
 * ts_utf8.c — incremental UTF-8 validation (RFC 3629).
 *
 * The state between two bytes is either a character boundary, the sticky
 * reject state, or "n continuation bytes still to come, and the next one must
 * lie in [low, high]". Only the byte after a lead byte ever has a narrower
 * range than 80..BF, and that narrowing is what refuses overlong forms,
 * surrogates and code points above U+10FFFF (RFC 3629 §4, Table 3.7 of the
 * Unicode standard).
 */
#include "ts_ws.h"

#include <string.h>

/* A pending character: (remaining << 16) | (low << 8) | high. remaining is
 * at least 1, so no pending state equals TS_UTF8_ACCEPT or TS_UTF8_REJECT. */
#define PENDING(remaining, low, high) \
    (((uint32_t)(remaining) << 16) | ((uint32_t)(low) << 8) | (uint32_t)(high))

_Static_assert(PENDING(1, 0, 0) > TS_UTF8_REJECT, "pending states differ from accept and reject");

/* The state after a lead byte. */
static uint32_t after_lead_byte(uint8_t b)
{
    if (b < 0x80) return TS_UTF8_ACCEPT;
    if (b < 0xC2) return TS_UTF8_REJECT;              /* continuation byte, or overlong C0/C1 */
    if (b < 0xE0) return PENDING(1, 0x80, 0xBF);
    if (b == 0xE0) return PENDING(2, 0xA0, 0xBF);     /* below A0 would be overlong */
    if (b == 0xED) return PENDING(2, 0x80, 0x9F);     /* above 9F would be a surrogate */
    if (b < 0xF0) return PENDING(2, 0x80, 0xBF);
    if (b == 0xF0) return PENDING(3, 0x90, 0xBF);     /* below 90 would be overlong */
    if (b < 0xF4) return PENDING(3, 0x80, 0xBF);
    if (b == 0xF4) return PENDING(3, 0x80, 0x8F);     /* above 8F would pass U+10FFFF */
    return TS_UTF8_REJECT;                            /* F5..FF never appear */
}

/* The state after a continuation byte of a pending character. */
static uint32_t after_continuation_byte(uint32_t state, uint8_t b)
{
    uint32_t remaining = state >> 16;
    uint8_t low = (uint8_t)(state >> 8), high = (uint8_t)state;

    if (b < low || b > high) return TS_UTF8_REJECT;
    return remaining == 1 ? TS_UTF8_ACCEPT : PENDING(remaining - 1, 0x80, 0xBF);
}

/* Bytes of pure ASCII at the start of s, counted eight at a time. */
static size_t ascii_prefix(const uint8_t *s, size_t len)
{
    size_t i = 0;
    for (; len - i >= 8; i += 8) {
        uint64_t word;
        memcpy(&word, s + i, 8);
        if (word & 0x8080808080808080ULL) break;
    }
    return i;
}

uint32_t ts_utf8_validate(uint32_t state, const uint8_t *s, size_t len)
{
    size_t i = 0;

    while (i < len && state != TS_UTF8_REJECT) {
        if (state == TS_UTF8_ACCEPT) {
            i += ascii_prefix(s + i, len - i); /* telemetry is mostly ASCII */
            if (i == len) break;
            state = after_lead_byte(s[i++]);
        } else {
            state = after_continuation_byte(state, s[i++]);
        }
    }
    return state;
}
