/*
 * ts_ws_handshake.c — Sec-WebSocket-Accept (RFC 6455 §4.2.2) with
 * OpenSSL's libcrypto for SHA-1 and base64.
 */
#include "ts_ws.h"

#include <string.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

static const char websocket_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* The key must be base64 of exactly 16 bytes: 24 characters, "==" padded. */
static int key_is_valid(const char *key, size_t key_len)
{
    unsigned char decoded[18];
    if (key_len != 24 || key[22] != '=' || key[23] != '=') return 0;
    for (size_t i = 0; i < 22; i++) {
        char c = key[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!ok) return 0;
    }
    /* EVP_DecodeBlock counts padding as output: 24 chars -> 18 bytes. */
    return EVP_DecodeBlock(decoded, (const unsigned char *)key, 24) == 18;
}

int ts_ws_accept_key(const char *key, size_t key_len, char out[TS_WS_ACCEPT_LEN + 1])
{
    unsigned char input[24 + sizeof(websocket_guid) - 1];
    unsigned char digest[SHA_DIGEST_LENGTH];

    if (key == NULL || !key_is_valid(key, key_len)) return TS_WS_EBADKEY;
    memcpy(input, key, 24);
    memcpy(input + 24, websocket_guid, sizeof(websocket_guid) - 1);
    SHA1(input, sizeof(input), digest);
    /* 20 bytes encode to 28 characters plus the NUL EVP_EncodeBlock writes. */
    EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
    return 0;
}
