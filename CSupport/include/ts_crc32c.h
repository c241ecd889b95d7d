#ifndef TS_CRC32C_H
#define TS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI,
 * ext4 and many storage formats. Pass 0 to start; pass a previous result to
 * continue over a further range. Used for the disk spool's records. */
uint32_t ts_crc32c(uint32_t crc, const uint8_t *bytes, size_t length);

#endif
