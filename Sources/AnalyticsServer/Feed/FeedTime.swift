import CSupport
import Glibc

/// Timestamps of the feed: UTC microseconds since the Unix epoch, written
/// as "2020-03-25T13:17:09.008533" like the rest of the API.
enum FeedTime {
    static func format(_ us: Int64) -> String {
        var text = [CChar](repeating: 0, count: Int(TS_TIME_FORMAT_LEN) + 1)
        guard ts_time_format(us, &text) == 0 else { return "" }
        return String(cString: text)
    }

    /// A naive (taken as UTC) or RFC 3339 timestamp.
    static func parse(_ text: String) -> Int64? {
        var us: Int64 = 0
        let status = text.utf8CString.withUnsafeBufferPointer {
            ts_time_parse($0.baseAddress, text.utf8.count, TS_TIME_ALLOW_NAIVE, &us)
        }
        return status == 0 ? us : nil
    }

    /// The server's wall clock.
    static var nowUs: Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    }
}
