/* libFuzzer target: the JSON pre-parse with a small then a fitting output
 * buffer, and the timestamp parser with a format round trip. */
#include "ts_json.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ts_json_message m;
    char small[16];
    size_t needed = 0;
    int rc = ts_json_preparse((const char *)data, size, 1, small, sizeof(small), &needed, &m);
    if (rc == TS_JSON_OK) ts_json_message_release(&m);
    if (rc == TS_JSON_ENOSPC) {
        char *big = malloc(needed);
        if (ts_json_preparse((const char *)data, size, 0, big, needed, &needed, &m) == TS_JSON_OK)
            ts_json_message_release(&m);
        free(big);
    }
    int64_t us, again;
    char text[TS_TIME_FORMAT_LEN + 1];
    if (ts_time_parse((const char *)data, size, TS_TIME_ALLOW_NAIVE, &us) == 0 && ts_time_format(us, text) == 0) {
        if (ts_time_parse(text, TS_TIME_FORMAT_LEN, TS_TIME_ALLOW_NAIVE, &again) != 0 || again != us) abort();
    }
    return 0;
}
