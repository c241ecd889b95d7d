/*
 * ts_ws_handshake.c — Sec-WebSocket-Accept (RFC 6455 §4.2.2): base64 of the
 * SHA-1 of the key followed by the protocol's GUID, with OpenSSL's libcrypto
 * for SHA-1 and base64.
 */
#include "ts_ws.h"

#include <string.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

/* base64 of 16 bytes: 22 significant characters and "==". */
#define KEY_LEN 24
#define KEY_DATA_CHARS 22

static const char websocket_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

_Static_assert(TS_WS_ACCEPT_LEN == 4 * ((SHA_DIGEST_LENGTH + 2) / 3), "base64 of a SHA-1 digest");

/*
 * The key must be base64 of exactly 16 bytes. EVP_DecodeBlock refuses
 * characters outside the alphabet but reads '=' anywhere as a zero digit and
 * counts the padding as output, so the padding is checked here and a valid
 * key decodes to 18 bytes.
 */
static int key_is_valid(const char *key, size_t key_len)
{
    unsigned char decoded[KEY_LEN / 4 * 3];

    if (key == NULL || key_len != KEY_LEN) return 0;
    if (key[KEY_DATA_CHARS] != '=' || key[KEY_DATA_CHARS + 1] != '=' ||
        memchr(key, '=', KEY_DATA_CHARS) != NULL) return 0;
    return EVP_DecodeBlock(decoded, (const unsigned char *)key, KEY_LEN) == (int)sizeof(decoded);
}

int ts_ws_accept_key(const char *key, size_t key_len, char out[TS_WS_ACCEPT_LEN + 1])
{
    unsigned char input[KEY_LEN + sizeof(websocket_guid) - 1];
    unsigned char digest[SHA_DIGEST_LENGTH];

    if (!key_is_valid(key, key_len)) return TS_WS_EBADKEY;
    memcpy(input, key, KEY_LEN);
    memcpy(input + KEY_LEN, websocket_guid, sizeof(websocket_guid) - 1);
    SHA1(input, sizeof(input), digest);
    /* Writes TS_WS_ACCEPT_LEN characters and a NUL. */
    EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
    return 0;
}
