/*
 * libFuzzer target: ts_time_parse() with both flags, and ts_time_format()
 * round trips. Whatever parses must format (unless a zone offset pushed it
 * outside years 0000-9999) and the formatted text must parse back to the
 * same microsecond, as naive text and with a Z. The first eight input bytes
 * taken as an instant exercise the formatter on any int64_t.
 */
#include "ts_json.h"

#include <stdlib.h>
#include <string.h>

#define CHECK(condition) do { if (!(condition)) abort(); } while (0)

/* 0000-01-01T00:00:00 and 9999-12-31T23:59:59.999999 in Unix microseconds. */
#define FIRST_FORMATTABLE_US INT64_C(-62167219200000000)
#define LAST_FORMATTABLE_US INT64_C(253402300799999999)

static void check_round_trip(int64_t unix_us)
{
    char text[TS_TIME_FORMAT_LEN + 2];
    int64_t back;
    memset(text, 0x7F, sizeof(text));
    if (ts_time_format(unix_us, text) != 0) {
        CHECK(unix_us < FIRST_FORMATTABLE_US || unix_us > LAST_FORMATTABLE_US);
        return;
    }
    CHECK(text[TS_TIME_FORMAT_LEN] == '\0');
    CHECK(ts_time_parse(text, TS_TIME_FORMAT_LEN, TS_TIME_ALLOW_NAIVE, &back) == 0 && back == unix_us);
    CHECK(ts_time_parse(text, TS_TIME_FORMAT_LEN, TS_TIME_RFC3339, &back) == TS_JSON_EBADTS);
    text[TS_TIME_FORMAT_LEN] = 'Z';
    CHECK(ts_time_parse(text, TS_TIME_FORMAT_LEN + 1, TS_TIME_RFC3339, &back) == 0 && back == unix_us);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t strict, naive;
    int strict_rc = ts_time_parse((const char *)data, size, TS_TIME_RFC3339, &strict);
    int naive_rc = ts_time_parse((const char *)data, size, TS_TIME_ALLOW_NAIVE, &naive);
    CHECK(strict_rc == 0 || strict_rc == TS_JSON_EBADTS);
    CHECK(naive_rc == 0 || naive_rc == TS_JSON_EBADTS);
    /* The naive flag only adds inputs; it changes no value. */
    if (strict_rc == 0) CHECK(naive_rc == 0 && naive == strict);
    if (naive_rc == 0) check_round_trip(naive);

    if (size >= sizeof(int64_t)) {
        int64_t instant;
        memcpy(&instant, data, sizeof(instant));
        check_round_trip(instant);
    }
    return 0;
}
