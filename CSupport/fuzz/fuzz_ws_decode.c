/* libFuzzer target: arbitrary bytes through a server and a client decoder,
 * whole and split at every position the input's first byte chooses. */
#include "ts_ws.h"

#include <stdlib.h>
#include <string.h>

static void decode_all(const uint8_t *data, size_t size, int require_mask, size_t split)
{
    ts_ws_decoder d;
    ts_ws_frame f;
    uint8_t *copy = malloc(size ? size : 1);
    size_t offset = 0, available = split < size ? split : size;
    memcpy(copy, data, size);
    ts_ws_decoder_init(&d, 1 << 16, require_mask);
    while (offset < size) {
        int64_t n = ts_ws_decode(&d, copy + offset, available - offset, &f);
        if (n == TS_WS_EAGAIN) {
            if (available == size) break;
            available = size; /* the rest of the bytes arrive */
            continue;
        }
        if (n < 0) break;
        if (f.payload_len && f.payload[f.payload_len - 1] == 0xFF) f.payload[0] ^= 1; /* touch the payload */
        offset += (size_t)n;
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t split = size ? data[0] : 0;
    decode_all(data, size, 1, size);
    decode_all(data, size, 0, size);
    decode_all(data, size, 1, split);
    ts_utf8_validate(TS_UTF8_ACCEPT, data, size);
    return 0;
}
