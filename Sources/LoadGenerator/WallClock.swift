import Glibc

/// The `ts` every frame carries: now, RFC 3339 in UTC with nanoseconds,
/// always `WallClock.textLength` bytes ("2026-01-01T00:00:00.000000000+00:00"),
/// so it can be patched into a prepared frame at a fixed offset.
package enum WallClock {
    package static let textLength = 35

    /// Nanoseconds since the epoch (CLOCK_REALTIME).
    package static var nowNanoseconds: Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// Writes `textLength` bytes for `nanoseconds` since the epoch
    /// (1970 to 2262, what an Int64 of nanoseconds holds) into `out`.
    package static func format(_ nanoseconds: Int64, into out: UnsafeMutablePointer<UInt8>) {
        let seconds = nanoseconds / 1_000_000_000
        let fraction = nanoseconds % 1_000_000_000
        let days = seconds / 86_400
        let secondOfDay = seconds % 86_400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        var position = 0
        func digits(_ value: Int64, _ count: Int) {
            var rest = value
            for i in stride(from: count - 1, through: 0, by: -1) {
                out[position + i] = UInt8(48 + rest % 10)
                rest /= 10
            }
            position += count
        }
        func literal(_ byte: UInt8) {
            out[position] = byte
            position += 1
        }
        digits(year, 4); literal(0x2D); digits(month, 2); literal(0x2D); digits(day, 2)
        literal(0x54)
        digits(secondOfDay / 3600, 2); literal(0x3A); digits(secondOfDay / 60 % 60, 2); literal(0x3A)
        digits(secondOfDay % 60, 2); literal(0x2E); digits(fraction, 9)
        for byte in "+00:00".utf8 { literal(byte) }
    }

    package static func text(_ nanoseconds: Int64) -> String {
        var bytes = [UInt8](repeating: 0, count: textLength)
        bytes.withUnsafeMutableBufferPointer { format(nanoseconds, into: $0.baseAddress!) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Proleptic Gregorian date of a day count (Howard Hinnant's
    /// days-to-civil algorithm, eras of 400 years).
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
