/*
 * ts_time.c — RFC 3339 timestamps to and from UTC microseconds.
 *
 * Plain calendar arithmetic (days from civil date and back), so the
 * result never depends on the process's time zone or locale and nothing
 * is allocated.
 */
#include "ts_json.h"

#include <stdbool.h>

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Reads exactly n digits at *p; false if any is not a digit. */
static bool digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;
    if (end - *p < n) return false;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c) return false;
    (*p)++;
    return true;
}

int ts_time_parse(const char *s, size_t len, int flags, int64_t *unix_us)
{
    const char *p = s, *end = s + len;
    int year, month, day, hour, minute, second;
    if (s == NULL) return TS_JSON_EBADTS;
    if (!digits(&p, end, 4, &year) || !expect(&p, end, '-') || !digits(&p, end, 2, &month) ||
        !expect(&p, end, '-') || !digits(&p, end, 2, &day))
        return TS_JSON_EBADTS;
    if (p >= end || (*p != 'T' && *p != 't' && *p != ' ')) return TS_JSON_EBADTS;
    p++;
    if (!digits(&p, end, 2, &hour) || !expect(&p, end, ':') || !digits(&p, end, 2, &minute) ||
        !expect(&p, end, ':') || !digits(&p, end, 2, &second))
        return TS_JSON_EBADTS;
    if (month < 1 || month > 12 || day < 1 || (unsigned)day > days_in_month(year, (unsigned)month) ||
        hour > 23 || minute > 59 || second > 60)
        return TS_JSON_EBADTS;
    if (second == 60) second = 59; /* a leap second is taken as :59 */

    int64_t micros = 0;
    if (p < end && *p == '.') {
        int count = 0;
        p++;
        while (p < end && *p >= '0' && *p <= '9') {
            if (count < 6) micros = micros * 10 + (*p - '0');
            count++;
            p++;
        }
        if (count == 0) return TS_JSON_EBADTS;
        for (; count < 6; count++) micros *= 10;
    }

    int64_t offset_seconds = 0;
    if (p == end) {
        if (!(flags & TS_TIME_ALLOW_NAIVE)) return TS_JSON_EBADTS;
    } else if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (!digits(&p, end, 2, &oh) || !expect(&p, end, ':') || !digits(&p, end, 2, &om) || oh > 23 || om > 59)
            return TS_JSON_EBADTS;
        offset_seconds = sign * (oh * 3600 + om * 60);
    } else {
        return TS_JSON_EBADTS;
    }
    if (p != end) return TS_JSON_EBADTS;

    int64_t seconds = days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 + hour * 3600 + minute * 60 + second;
    *unix_us = (seconds - offset_seconds) * 1000000 + micros;
    return 0;
}

int ts_time_format(int64_t unix_us, char out[TS_TIME_FORMAT_LEN + 1])
{
    /* Floor division, so times before 1970 format correctly too. */
    int64_t seconds = unix_us / 1000000, micros = unix_us % 1000000;
    if (micros < 0) {
        micros += 1000000;
        seconds -= 1;
    }
    int64_t days = seconds / 86400, rem = seconds % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    int64_t year;
    unsigned month, day;
    civil_from_days(days, &year, &month, &day);
    if (year < 0 || year > 9999) return TS_JSON_EBADTS;

    int64_t fields[6] = {year, month, day, rem / 3600, rem / 60 % 60, rem % 60};
    static const int widths[6] = {4, 2, 2, 2, 2, 2};
    static const char separators[6] = {'-', '-', 'T', ':', ':', '.'};
    char *o = out;
    for (int f = 0; f < 6; f++) {
        for (int i = widths[f] - 1; i >= 0; i--) {
            o[i] = (char)('0' + fields[f] % 10);
            fields[f] /= 10;
        }
        o += widths[f];
        *o++ = separators[f];
    }
    for (int i = 5; i >= 0; i--) {
        o[i] = (char)('0' + micros % 10);
        micros /= 10;
    }
    o[6] = '\0';
    return 0;
}
