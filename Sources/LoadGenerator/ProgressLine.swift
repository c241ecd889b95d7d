import Glibc

/// The live progress line on stderr (only when stderr is a terminal):
/// rewritten in place once a second.
final class ProgressLine {
    private let stats: RunStatistics
    private let durationSeconds: Double?
    private var lastSent: UInt64 = 0
    private var lastMs: UInt64 = 0

    init(stats: RunStatistics, durationSeconds: Double?) {
        self.stats = stats
        self.durationSeconds = durationSeconds
    }

    func update(elapsedMs: UInt64) {
        let sent = stats.messagesSent
        let interval = Double(elapsedMs &- lastMs) / 1000
        let now = interval > 0 ? Double(sent &- lastSent) / interval : 0
        let overall = elapsedMs > 0 ? Double(sent) / (Double(elapsedMs) / 1000) : 0
        lastSent = sent
        lastMs = elapsedMs
        let elapsed = Format.seconds(Double(elapsedMs) / 1000)
        let of = durationSeconds.map { " / " + Format.seconds($0) } ?? ""
        let line = "nodes \(stats.nodesOpen)/\(stats.nodesTarget)  sent \(Format.grouped(sent))"
            + "  now \(Format.grouped(UInt64(now)))/s  overall \(Format.grouped(UInt64(overall)))/s"
            + "  errors \(stats.errorCount)  reconnects \(stats.reconnects)  \(elapsed)\(of)"
        // Carriage return and erase-line: the line replaces itself.
        write("\r\u{1B}[2K" + line)
    }

    func finish(elapsedMs: UInt64) {
        update(elapsedMs: elapsedMs)
        write("\n")
    }

    private func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = Glibc.write(2, &bytes, bytes.count)
    }
}

/// Number formatting shared by the progress line and the summary.
enum Format {
    /// 1234567 → "1,234,567".
    static func grouped(_ value: UInt64) -> String {
        let digits = Array(String(value))
        var out = ""
        for (i, digit) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return out
    }

    static func seconds(_ value: Double) -> String {
        fixed(value, 1) + "s"
    }

    /// `value` with `places` decimals, without Foundation.
    static func fixed(_ value: Double, _ places: Int) -> String {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = Int64((abs(value) * scale).rounded())
        let whole = scaled / Int64(scale)
        let fraction = String(scaled % Int64(scale))
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard places > 0 else { return sign + String(whole) }
        return sign + String(whole) + "." + String(repeating: "0", count: places - fraction.count) + fraction
    }
}

/// One line on stderr, whatever stderr is: what the run is waiting for, so
/// that a run that takes longer than asked says why.
enum Notice {
    static func write(_ text: String) {
        var bytes = Array(("tetcore-loadgen: " + text + "\n").utf8)
        _ = Glibc.write(2, &bytes, bytes.count)
    }
}
