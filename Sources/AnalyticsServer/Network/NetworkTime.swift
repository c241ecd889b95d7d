import CSupport
import Glibc

/// Times of the network state: Unix milliseconds on this server's clock
/// (instances are assumed to be NTP-synchronised), never a node's `ts`.
enum NetworkTime {
    /// The wall clock now. A vDSO call, made once per state-bearing
    /// message, not per message.
    static func nowMs() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// `2020-03-25T13:17:09.008000` (UTC, the API's form); nil out of range.
    static func format(_ ms: Int64?) -> String? {
        guard let ms else { return nil }
        let (us, overflow) = ms.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return nil }
        var out = [CChar](repeating: 0, count: Int(TS_TIME_FORMAT_LEN) + 1)
        guard ts_time_format(us, &out) == 0 else { return nil }
        return String(cString: out)
    }

    /// A timestamp the API accepts (naive UTC or RFC 3339), as Unix ms.
    static func parse(_ text: String) -> Int64? {
        var us: Int64 = 0
        let parsed = text.withCString { ts_time_parse($0, text.utf8.count, TS_TIME_ALLOW_NAIVE, &us) }
        return parsed == 0 ? us / 1000 : nil
    }

    /// SQL turning a bigint of Unix ms into this schema's UTC `timestamp`.
    static func sqlTimestamp(_ ms: String) -> String {
        "(to_timestamp((\(ms))::double precision / 1000) AT TIME ZONE 'utc')"
    }

    /// SQL turning a UTC `timestamp` into a bigint of Unix ms.
    static func sqlMs(_ column: String) -> String {
        "(extract(epoch FROM \(column)) * 1000)::bigint"
    }
}
