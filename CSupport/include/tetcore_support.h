/* Umbrella header of the CSupport module: the C hot path of tetcore-analytics. */
#include "ts_ws.h"
#include "ts_json.h"
#include "ts_crc32c.h"
