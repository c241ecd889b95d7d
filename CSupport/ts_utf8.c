/*
 * ts_utf8.c — incremental UTF-8 validation (RFC 3629).
 *
 * A small state machine: the state records how many continuation bytes are
 * still expected and the allowed range of the next one, which is where
 * overlong forms, surrogates and code points above U+10FFFF are refused.
 */
#include "ts_ws.h"

/* State layout: 0 = between characters, 1 = rejected (sticky); otherwise
 * (remaining << 16) | (low << 8) | high, the bounds of the next byte. */
#define STATE(remaining, low, high) (((uint32_t)(remaining) << 16) | ((uint32_t)(low) << 8) | (uint32_t)(high))

static uint32_t start_byte(uint8_t b)
{
    if (b < 0x80) return TS_UTF8_ACCEPT;
    if (b < 0xC2) return TS_UTF8_REJECT;             /* continuation or overlong 2-byte */
    if (b < 0xE0) return STATE(1, 0x80, 0xBF);
    if (b == 0xE0) return STATE(2, 0xA0, 0xBF);      /* no overlong 3-byte */
    if (b == 0xED) return STATE(2, 0x80, 0x9F);      /* no surrogates */
    if (b < 0xF0) return STATE(2, 0x80, 0xBF);
    if (b == 0xF0) return STATE(3, 0x90, 0xBF);      /* no overlong 4-byte */
    if (b < 0xF4) return STATE(3, 0x80, 0xBF);
    if (b == 0xF4) return STATE(3, 0x80, 0x8F);      /* nothing above U+10FFFF */
    return TS_UTF8_REJECT;
}

uint32_t ts_utf8_validate(uint32_t state, const uint8_t *s, size_t len)
{
    size_t i = 0;
    if (state == TS_UTF8_REJECT) return state;
    while (i < len) {
        if (state == TS_UTF8_ACCEPT) {
            /* Fast path: skip ASCII eight bytes at a time. */
            while (i + 8 <= len) {
                uint64_t word;
                __builtin_memcpy(&word, s + i, 8);
                if (word & 0x8080808080808080ULL) break;
                i += 8;
            }
            if (i == len) break;
            state = start_byte(s[i++]);
            if (state == TS_UTF8_REJECT) return state;
            continue;
        }
        uint8_t b = s[i++];
        uint8_t low = (uint8_t)(state >> 8), high = (uint8_t)state;
        uint32_t remaining = state >> 16;
        if (b < low || b > high) return TS_UTF8_REJECT;
        state = remaining == 1 ? TS_UTF8_ACCEPT : STATE(remaining - 1, 0x80, 0xBF);
    }
    return state;
}
