#include "ts_crc32c.h"

#include <pthread.h>

/* Slicing-by-8 over tables built on first use: eight bytes per step, about
 * 1-2 GB/s on one core, so checksumming a batch costs far less than its
 * fsync. The tables are built once, under pthread_once (the spool's file
 * thread and the tests may call this first). */
static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = n;
        for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
        table[0][n] = crc;
    }
    for (uint32_t n = 0; n < 256; n++) {
        for (int slice = 1; slice < 8; slice++) {
            table[slice][n] = (table[slice - 1][n] >> 8) ^ table[0][table[slice - 1][n] & 0xFF];
        }
    }
}

uint32_t ts_crc32c(uint32_t crc, const uint8_t *bytes, size_t length) {
    pthread_once(&table_once, build_table);
    crc = ~crc;
    while (length >= 8) {
        uint32_t low = crc ^ ((uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24);
        crc = table[7][low & 0xFF] ^ table[6][(low >> 8) & 0xFF] ^ table[5][(low >> 16) & 0xFF] ^ table[4][low >> 24]
            ^ table[3][bytes[4]] ^ table[2][bytes[5]] ^ table[1][bytes[6]] ^ table[0][bytes[7]];
        bytes += 8;
        length -= 8;
    }
    while (length--) crc = (crc >> 8) ^ table[0][(crc ^ *bytes++) & 0xFF];
    return ~crc;
}
