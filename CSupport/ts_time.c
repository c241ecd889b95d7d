/*
 * ts_time.c — RFC 3339 timestamps to and from UTC microseconds.
 *
 * Plain calendar arithmetic on day numbers, so results never depend on the
 * process's time zone or locale, and nothing is allocated. Only years
 * 0000-9999 exist here (four digits in both directions), which keeps every
 * intermediate value small and non-negative.
 */
#include "ts_json.h"

#include <stdbool.h>

#define US_PER_SECOND INT64_C(1000000)
#define SECONDS_PER_DAY INT64_C(86400)
#define DAYS_PER_400_YEARS 146097

/*
 * Day numbers count from 1 March of year -400. Starting a year in March
 * puts the leap day at its end, so a month's first day is a fixed offset
 * from 1 March; starting 400 years (one whole leap cycle) before year 0
 * keeps every year used here positive.
 */
#define YEAR_SHIFT 400
/* The day number of 1970-01-01. */
#define UNIX_EPOCH_DAY 865565
/* Unix microseconds of 0000-01-01T00:00:00 and of the last microsecond of
 * 9999-12-31, the range ts_time_format() can write. */
#define FIRST_US (INT64_C(-719528) * SECONDS_PER_DAY * US_PER_SECOND)
#define LAST_US (INT64_C(2932897) * SECONDS_PER_DAY * US_PER_SECOND - 1)

/* Days from 1 March of shifted year 0 to 1 March of shifted year y. */
static uint32_t days_before_year(uint32_t y)
{
    return y * 365 + y / 4 - y / 100 + y / 400;
}

/* Days from 1 March to the first day of month mp (0 = March ... 11 = February). */
static uint32_t days_before_month(uint32_t mp)
{
    return (153 * mp + 2) / 5;
}

static int64_t days_from_civil(int year, int month, int day)
{
    uint32_t y = (uint32_t)(year + YEAR_SHIFT) - (month <= 2);
    uint32_t mp = (uint32_t)(month > 2 ? month - 3 : month + 9);
    return (int64_t)(days_before_year(y) + days_before_month(mp) + (uint32_t)day - 1) - UNIX_EPOCH_DAY;
}

/* Inverse of days_from_civil() for day numbers of years 0000-9999. */
static void civil_from_days(int64_t unix_day, int *year, int *month, int *day)
{
    uint32_t n = (uint32_t)(unix_day + UNIX_EPOCH_DAY);
    /* 400 years hold a whole number of days, so this guess is off by at
     * most one year either way; the loops settle it. */
    uint32_t y = (uint32_t)((uint64_t)n * 400 / DAYS_PER_400_YEARS);
    while (days_before_year(y + 1) <= n) y++;
    while (days_before_year(y) > n) y--;
    uint32_t day_of_year = n - days_before_year(y);
    uint32_t mp = (5 * day_of_year + 2) / 153;
    *day = (int)(day_of_year - days_before_month(mp)) + 1;
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)y - YEAR_SHIFT + (*month <= 2);
}

static bool is_leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

/* Reads exactly n digits at *p into *out. */
static bool read_digits(const char **p, const char *end, int n, int *out)
{
    const char *s = *p;
    int v = 0;
    if (end - s < n) return false;
    for (int i = 0; i < n; i++) {
        unsigned digit = (unsigned)(unsigned char)s[i] - '0';
        if (digit > 9) return false;
        v = v * 10 + (int)digit;
    }
    *p = s + n;
    *out = v;
    return true;
}

static bool read_char(const char **p, const char *end, char c)
{
    if (*p == end || **p != c) return false;
    (*p)++;
    return true;
}

/* Reads '.' and at least one digit; keeps the first six as microseconds. */
static bool read_fraction(const char **p, const char *end, int64_t *micros)
{
    static const int64_t scale[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
    const char *s = *p + 1, *digits_start = s;
    int64_t v = 0;
    while (s != end && (unsigned)(unsigned char)*s - '0' <= 9) {
        if (s - digits_start < 6) v = v * 10 + (*s - '0');
        s++;
    }
    ptrdiff_t count = s - digits_start;
    if (count == 0) return false;
    *micros = v * scale[count < 6 ? count : 6];
    *p = s;
    return true;
}

/* Reads Z, z or ±hh:mm into seconds east of UTC. */
static bool read_zone(const char **p, const char *end, int *offset_seconds)
{
    const char *s = *p;
    int hours, minutes;
    if (*s == 'Z' || *s == 'z') {
        *offset_seconds = 0;
        *p = s + 1;
        return true;
    }
    if (*s != '+' && *s != '-') return false;
    *p = s + 1;
    if (!read_digits(p, end, 2, &hours) || !read_char(p, end, ':') || !read_digits(p, end, 2, &minutes) ||
        hours > 23 || minutes > 59)
        return false;
    *offset_seconds = (*s == '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
    return true;
}

int ts_time_parse(const char *s, size_t len, int flags, int64_t *unix_us)
{
    if (s == NULL) return TS_JSON_EBADTS;
    const char *p = s, *end = s + len;
    int year, month, day, hour, minute, second, offset_seconds = 0;
    int64_t micros = 0;

    if (!read_digits(&p, end, 4, &year) || !read_char(&p, end, '-') || !read_digits(&p, end, 2, &month) ||
        !read_char(&p, end, '-') || !read_digits(&p, end, 2, &day))
        return TS_JSON_EBADTS;
    if (p == end || (*p != 'T' && *p != 't' && *p != ' ')) return TS_JSON_EBADTS;
    p++;
    if (!read_digits(&p, end, 2, &hour) || !read_char(&p, end, ':') || !read_digits(&p, end, 2, &minute) ||
        !read_char(&p, end, ':') || !read_digits(&p, end, 2, &second))
        return TS_JSON_EBADTS;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
        second > 60)
        return TS_JSON_EBADTS;
    if (second == 60) second = 59; /* a leap second: Unix time has no :60 */

    if (p != end && *p == '.' && !read_fraction(&p, end, &micros)) return TS_JSON_EBADTS;
    if (p == end) {
        if (!(flags & TS_TIME_ALLOW_NAIVE)) return TS_JSON_EBADTS;
    } else if (!read_zone(&p, end, &offset_seconds) || p != end) {
        return TS_JSON_EBADTS;
    }

    int64_t seconds = days_from_civil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second -
                      offset_seconds;
    /* The fraction counts forward from a whole second, so dropping digits
     * beyond the sixth rounds toward negative infinity, before 1970 too. */
    *unix_us = seconds * US_PER_SECOND + micros;
    return 0;
}

/* Writes v as exactly n decimal digits ending at out[n - 1]. */
static void put_digits(char *out, int n, int64_t v)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

int ts_time_format(int64_t unix_us, char out[TS_TIME_FORMAT_LEN + 1])
{
    if (unix_us < FIRST_US || unix_us > LAST_US) return TS_JSON_EBADTS;
    /* Floor division: before 1970 the quotient must round down, not toward 0. */
    int64_t shifted = unix_us - FIRST_US;
    int64_t unix_day = shifted / (SECONDS_PER_DAY * US_PER_SECOND) + FIRST_US / (SECONDS_PER_DAY * US_PER_SECOND);
    int64_t us_of_day = shifted % (SECONDS_PER_DAY * US_PER_SECOND);
    int64_t second_of_day = us_of_day / US_PER_SECOND;
    int year, month, day;
    civil_from_days(unix_day, &year, &month, &day);

    put_digits(out, 4, year);
    out[4] = '-';
    put_digits(out + 5, 2, month);
    out[7] = '-';
    put_digits(out + 8, 2, day);
    out[10] = 'T';
    put_digits(out + 11, 2, second_of_day / 3600);
    out[13] = ':';
    put_digits(out + 14, 2, second_of_day / 60 % 60);
    out[16] = ':';
    put_digits(out + 17, 2, second_of_day % 60);
    out[19] = '.';
    put_digits(out + 20, 6, us_of_day % US_PER_SECOND);
    out[TS_TIME_FORMAT_LEN] = '\0';
    return 0;
}
