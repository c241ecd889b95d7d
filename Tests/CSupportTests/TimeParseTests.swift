import CSupport
import XCTest

/// ts_time_parse / ts_time_format. Expected instants were computed with an
/// independent implementation (Python's datetime), not with this code.
final class TimeParseTests: XCTestCase {
    private func parse(_ text: String, naive: Bool = false) -> Int64? {
        let bytes = Array(text.utf8)
        var micros: Int64 = 0
        let status = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                ts_time_parse($0.baseAddress, $0.count, naive ? TS_TIME_ALLOW_NAIVE : TS_TIME_RFC3339, &micros)
            }
        }
        if status != 0 {
            XCTAssertEqual(status, TS_JSON_EBADTS.rawValue, "a failed parse reports EBADTS: \(text)")
            return nil
        }
        return micros
    }

    private func format(_ micros: Int64) -> String? {
        var out = [CChar](repeating: 0x7F, count: Int(TS_TIME_FORMAT_LEN) + 1)
        guard ts_time_format(micros, &out) == 0 else { return nil }
        XCTAssertEqual(out[Int(TS_TIME_FORMAT_LEN)], 0, "NUL-terminated")
        return String(decoding: out.prefix(Int(TS_TIME_FORMAT_LEN)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: zones and fractions

    func testUTCDesignatorUpperAndLowerCase() {
        XCTAssertEqual(parse("2020-03-25T13:17:09.008533Z"), 1_585_142_229_008_533)
        XCTAssertEqual(parse("2020-03-25T13:17:09.008533z"), 1_585_142_229_008_533)
    }

    func testPositiveOffsetIsSubtracted() {
        XCTAssertEqual(parse("2021-06-01T10:00:00.123456+01:00"), 1_622_538_000_123_456)
        XCTAssertEqual(parse("2024-02-29T00:30:00+02:45"), 1_709_156_700_000_000)
    }

    func testNegativeOffsetIsAddedAndCanCrossYears() {
        // 22:15 on New Year's Eve at -05:30 is 03:45 UTC on 1 January.
        XCTAssertEqual(parse("2019-12-31T22:15:00.5-05:30"), 1_577_850_300_500_000)
        XCTAssertEqual(format(1_577_850_300_500_000), "2020-01-01T03:45:00.500000")
    }

    func testZeroOffsetsMeanUTC() {
        XCTAssertEqual(parse("2020-08-19T10:07:28.008466007+00:00"), 1_597_831_648_008_466)
        XCTAssertEqual(parse("2020-08-19T10:07:28.008466007-00:00"), 1_597_831_648_008_466)
    }

    func testNineDigitFractionIsTruncatedToMicroseconds() {
        XCTAssertEqual(parse("2020-03-25T13:17:09.123456789Z"), 1_585_142_229_123_456)
        XCTAssertEqual(parse("2020-03-25T13:17:09.999999999Z"), 1_585_142_229_999_999)
    }

    func testAnyNumberOfFractionDigits() {
        XCTAssertEqual(parse("2020-03-25T13:17:09.5Z"), 1_585_142_229_500_000)
        XCTAssertEqual(parse("2020-03-25T13:17:09.05Z"), 1_585_142_229_050_000)
        XCTAssertEqual(parse("2020-03-25T13:17:09.000001Z"), 1_585_142_229_000_001)
        let long = "2020-03-25T13:17:09." + String(repeating: "9", count: 400) + "Z"
        XCTAssertEqual(parse(long), 1_585_142_229_999_999)
    }

    func testNoFraction() {
        XCTAssertEqual(parse("2020-03-25T13:17:09Z"), 1_585_142_229_000_000)
        XCTAssertEqual(parse("1970-01-01T00:00:00Z"), 0)
    }

    func testDateTimeSeparators() {
        XCTAssertEqual(parse("2020-03-25t13:17:09Z"), 1_585_142_229_000_000)
        XCTAssertEqual(parse("2020-03-25 13:17:09Z"), 1_585_142_229_000_000)
        XCTAssertNil(parse("2020-03-25_13:17:09Z"))
        XCTAssertNil(parse("2020-03-2513:17:09Z"))
    }

    // MARK: before 1970

    func testBefore1970() {
        XCTAssertEqual(parse("1969-07-20T20:17:40Z"), -14_182_940_000_000)
        XCTAssertEqual(parse("1900-01-01T00:00:00Z"), -2_208_988_800_000_000)
        XCTAssertEqual(parse("0000-01-01T00:00:00Z"), -62_167_219_200_000_000)
    }

    func testTruncationBefore1970RoundsTowardNegativeInfinity() {
        // 0.1 µs before the epoch is in the microsecond that starts 1 µs before it.
        XCTAssertEqual(parse("1969-12-31T23:59:59.9999999Z"), -1)
        XCTAssertEqual(parse("1969-12-31T23:59:59.123456789Z"), -876_544)
    }

    // MARK: calendar validation

    func testLeapYears() {
        XCTAssertEqual(parse("2000-02-29T12:00:00Z"), 951_825_600_000_000)
        XCTAssertEqual(parse("1600-02-29T00:00:00Z"), -11_670_998_400_000_000)
        XCTAssertNotNil(parse("2024-02-29T00:00:00Z"))
        XCTAssertNotNil(parse("0000-02-29T00:00:00Z"), "year 0 is divisible by 400")
        XCTAssertNil(parse("1900-02-29T00:00:00Z"), "divisible by 100, not by 400")
        XCTAssertNil(parse("2100-02-29T00:00:00Z"))
        XCTAssertNil(parse("2023-02-29T00:00:00Z"))
        XCTAssertNil(parse("2024-02-30T00:00:00Z"))
    }

    func testInvalidDatesAndTimes() {
        for text in [
            "2020-00-10T00:00:00Z", "2020-13-10T00:00:00Z", "2020-01-00T00:00:00Z", "2020-01-32T00:00:00Z",
            "2020-04-31T00:00:00Z", "2020-06-31T00:00:00Z", "2020-09-31T00:00:00Z", "2020-11-31T00:00:00Z",
            "2020-01-01T24:00:00Z", "2020-01-01T23:60:00Z", "2020-01-01T23:59:61Z",
            "2020-01-01T00:00:00+24:00", "2020-01-01T00:00:00+01:60", "2020-01-01T00:00:00-99:00",
        ] {
            XCTAssertNil(parse(text), text)
        }
        XCTAssertNotNil(parse("2020-01-31T23:59:59+23:59"))
        XCTAssertNotNil(parse("2020-12-31T23:59:59-23:59"))
    }

    func testLeapSecondIsTakenAsFiftyNine() {
        XCTAssertEqual(parse("2016-12-31T23:59:60Z"), 1_483_228_799_000_000)
        XCTAssertEqual(parse("2016-12-31T23:59:60.25Z"), 1_483_228_799_250_000)
    }

    func testMalformedText() {
        for text in [
            "", "2020", "2020-03-25", "2020-03-25T", "2020-3-25T13:17:09Z", "2020-03-25T1:17:09Z",
            "2020-03-25T13:17:9Z", "20200-03-25T13:17:09Z", "2020/03/25T13:17:09Z", "2020-03-25T13-17-09Z",
            "2020-03-25T13:17:09.Z", "2020-03-25T13:17:09.", "2020-03-25T13:17:09,5Z", "2020-03-25T13:17:09ZZ",
            "2020-03-25T13:17:09Z ", " 2020-03-25T13:17:09Z", "2020-03-25T13:17:09+01", "2020-03-25T13:17:09+0100",
            "2020-03-25T13:17:09+01:0", "2020-03-25T13:17:09+01:00x", "2020-03-25T13:17:09UTC",
            "-020-03-25T13:17:09Z", "+2020-03-25T13:17:09Z", "2020-03-25T13:17:09.12a4Z", "２０２０-03-25T13:17:09Z",
        ] {
            XCTAssertNil(parse(text), "rejects \(text.debugDescription)")
        }
    }

    func testTextStopsAtTheGivenLength() {
        let text = Array("2020-03-25T13:17:09Zgarbage".utf8)
        var micros: Int64 = 0
        let status = text.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { ts_time_parse($0.baseAddress, 20, TS_TIME_RFC3339, &micros) }
        }
        XCTAssertEqual(status, 0)
        XCTAssertEqual(micros, 1_585_142_229_000_000)
    }

    // MARK: naive form

    func testNaiveFormNeedsTheFlagAndIsUTC() {
        XCTAssertNil(parse("2024-06-11T12:00:00"))
        XCTAssertEqual(parse("2024-06-11T12:00:00", naive: true), 1_718_107_200_000_000)
        XCTAssertEqual(parse("2020-03-25T13:17:09.008533", naive: true), 1_585_142_229_008_533)
        XCTAssertEqual(parse("2020-03-25 13:17:09.008533", naive: true), 1_585_142_229_008_533)
        XCTAssertEqual(parse("2020-03-25T13:17:09.008533+01:00", naive: true), 1_585_138_629_008_533,
                       "a zone is still honoured")
        XCTAssertNil(parse("2020-03-25T13:17:09.", naive: true))
        XCTAssertNil(parse("2020-03-25T13:17", naive: true))
    }

    // MARK: formatting

    func testFormatWritesSixFractionDigitsAndNoZone() {
        XCTAssertEqual(format(1_585_142_229_008_533), "2020-03-25T13:17:09.008533")
        XCTAssertEqual(format(0), "1970-01-01T00:00:00.000000")
        XCTAssertEqual(format(2_147_483_647_999_999), "2038-01-19T03:14:07.999999")
    }

    func testFormatBefore1970() {
        XCTAssertEqual(format(-1), "1969-12-31T23:59:59.999999")
        XCTAssertEqual(format(-876_544), "1969-12-31T23:59:59.123456")
        XCTAssertEqual(format(-2_208_988_800_000_000), "1900-01-01T00:00:00.000000")
        XCTAssertEqual(format(-11_670_998_400_000_000), "1600-02-29T00:00:00.000000")
    }

    func testFormatRangeIsYears0000To9999() {
        XCTAssertEqual(format(-62_167_219_200_000_000), "0000-01-01T00:00:00.000000")
        XCTAssertEqual(format(253_402_300_799_999_999), "9999-12-31T23:59:59.999999")
        XCTAssertNil(format(-62_167_219_200_000_001))
        XCTAssertNil(format(253_402_300_800_000_000))
        XCTAssertNil(format(.min))
        XCTAssertNil(format(.max))
    }

    func testFormatThenParseRoundTrips() {
        let samples: [Int64] = [
            0, 1, -1, 999_999, -999_999, 1_585_142_229_008_533, -14_182_940_000_000, 951_825_600_000_000,
            -62_167_219_200_000_000, 253_402_300_799_999_999, 4_102_444_799_999_999, -30_610_224_000_000_001,
        ]
        for micros in samples {
            guard let text = format(micros) else { return XCTFail("format \(micros)") }
            XCTAssertEqual(parse(text, naive: true), micros, text)
            XCTAssertEqual(parse(text + "Z"), micros, text)
        }
    }

    /// Walks every day of years 0000-9999 with a calendar kept here, so the
    /// C day arithmetic is checked against a second, independent one.
    func testEveryDayOfTheFourDigitYearsFormatsAndParsesBack() {
        let microsPerDay: Int64 = 86_400_000_000
        var (year, month, day) = (0, 1, 1)
        var micros: Int64 = -62_167_219_200_000_000
        var out = [CChar](repeating: 0, count: Int(TS_TIME_FORMAT_LEN) + 1)
        var mismatches = 0
        while year <= 9999 {
            // Vary the time of day too, by a prime number of microseconds.
            let instant = micros + (Int64(day) * 3_600_000_017) % microsPerDay
            if ts_time_format(instant, &out) != 0 || !Self.datePrefix(out, is: year, month, day) {
                mismatches += 1
            }
            var back: Int64 = 0
            if ts_time_parse(out, Int(TS_TIME_FORMAT_LEN), TS_TIME_ALLOW_NAIVE, &back) != 0 || back != instant {
                mismatches += 1
            }
            micros += microsPerDay
            (year, month, day) = Self.nextDay(year, month, day)
        }
        XCTAssertEqual(mismatches, 0)
        XCTAssertEqual(micros, 253_402_300_800_000_000, "the walk ends at 10000-01-01")
    }

    private static func nextDay(_ y: Int, _ m: Int, _ d: Int) -> (Int, Int, Int) {
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        if d < lengths[m - 1] { return (y, m, d + 1) }
        return m == 12 ? (y + 1, 1, 1) : (y, m + 1, 1)
    }

    /// out starts with "YYYY-MM-DDT" for the given date.
    private static func datePrefix(_ out: [CChar], is y: Int, _ m: Int, _ d: Int) -> Bool {
        func digit(_ i: Int) -> Int { Int(out[i]) - 48 }
        let year = digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3)
        return year == y && out[4] == 45 && digit(5) * 10 + digit(6) == m && out[7] == 45
            && digit(8) * 10 + digit(9) == d && out[10] == 84
    }
}
