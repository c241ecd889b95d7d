/// What a run did: the summary printed at the end, as text or JSON.
public struct RunReport {
    public let options: LoadOptions
    public let nodesTarget: Int
    public let nodesOpenPeak: Int
    public let messages: UInt64
    public let bytes: UInt64
    public let seconds: Double
    public let throttled: UInt64
    public let unconfirmed: UInt64
    public let reconnects: Int
    public let pingsAnswered: Int
    public let errors: [String: Int]
    public let lateMaxMs: UInt64
    public let verification: Verification?
    /// Why the run could not happen at all (bad address, database).
    public let failure: String?

    init(options: LoadOptions, stats: RunStatistics, verification: Verification?, failure: String?) {
        self.options = options
        nodesTarget = stats.nodesTarget
        nodesOpenPeak = stats.nodesOpenPeak
        messages = stats.messagesSent
        bytes = stats.bytesSent
        seconds = stats.seconds
        throttled = stats.messagesThrottled
        unconfirmed = stats.messagesUnconfirmed
        reconnects = stats.reconnects
        pingsAnswered = stats.pingsAnswered
        errors = stats.errors
        lateMaxMs = stats.lateMaxMs
        self.verification = verification
        self.failure = failure
    }

    public var messagesPerSecond: Double { seconds > 0 ? Double(messages) / seconds : 0 }
    public var bytesPerSecond: Double { seconds > 0 ? Double(bytes) / seconds : 0 }

    /// 0 when the run happened and (if asked) every message was stored
    /// exactly once; 1 otherwise.
    public var exitStatus: Int32 {
        if failure != nil || messages == 0 { return 1 }
        if let verification, !verification.isClean { return 1 }
        return 0
    }

    var requestedPerNode: String {
        switch options.shape {
        case .realistic: return "realistic"
        case let .rate(rate): return Format.fixed(rate, 2) + "/s"
        case .max: return "max"
        }
    }

    public var text: String {
        var lines: [String] = []
        if let failure { lines.append("failed: \(failure)") }
        lines.append("nodes: \(nodesOpenPeak) of \(nodesTarget) connected at the peak (\(options.wire.rawValue) form, \(options.target.path))")
        lines.append("sent: \(Format.grouped(messages)) messages, \(Format.grouped(bytes)) bytes in \(Format.seconds(seconds))")
        lines.append("rate: \(Format.grouped(UInt64(messagesPerSecond))) messages/s, "
            + "\(Format.fixed(bytesPerSecond / 1e6, 1)) MB/s (asked: \(requestedPerNode) per node)")
        if throttled > 0 {
            lines.append("throttled: \(Format.grouped(throttled)) messages not sent while a socket had over "
                + "\(options.maxQueuedBytes) bytes queued (the server did not keep up)")
        }
        lines.append("reconnects: \(reconnects); pings answered: \(pingsAnswered)")
        if errors.isEmpty {
            lines.append("errors: none")
        } else {
            lines.append("errors: " + errors.sorted { $0.key < $1.key }.map { "\($0.key) × \($0.value)" }.joined(separator: ", "))
        }
        if unconfirmed > 0 { lines.append("unconfirmed: \(unconfirmed) messages in writes cut off by a dropped connection") }
        if let verification {
            if let failure = verification.failure {
                lines.append("verify: failed: \(failure)")
            } else {
                var line = "verify: \(Format.grouped(verification.stored)) stored, \(verification.missing) missing, "
                    + "\(verification.duplicated) duplicated"
                if verification.unconfirmed > 0 {
                    line += "; \(verification.unconfirmedStored) of \(verification.unconfirmed) unconfirmed stored"
                }
                if let p50 = verification.delayP50Ms, let p99 = verification.delayP99Ms {
                    line += "; send to visible p50 \(p50) ms, p99 \(p99) ms"
                }
                if verification.timedOut { line += " (gave up waiting after \(Format.seconds(options.verifyTimeoutSeconds)))" }
                lines.append(line)
                if !verification.problemNodes.isEmpty {
                    lines.append("verify: nodes with problems: " + verification.problemNodes.joined(separator: " "))
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// One JSON object, keys in a fixed order.
    public var json: String {
        var members: [(String, String)] = [
            ("nodes", "{\"target\":\(nodesTarget),\"connected_peak\":\(nodesOpenPeak)}"),
            ("messages", String(messages)),
            ("bytes", String(bytes)),
            ("seconds", Format.fixed(seconds, 3)),
            ("messages_per_second", Format.fixed(messagesPerSecond, 1)),
            ("bytes_per_second", Format.fixed(bytesPerSecond, 1)),
            ("requested_per_node", MessageText.quoted(requestedPerNode)),
            ("throttled", String(throttled)),
            ("unconfirmed", String(unconfirmed)),
            ("reconnects", String(reconnects)),
            ("pings_answered", String(pingsAnswered)),
            ("errors", "{" + errors.sorted { $0.key < $1.key }
                .map { "\(MessageText.quoted($0.key)):\($0.value)" }.joined(separator: ",") + "}"),
            ("wire", MessageText.quoted(options.wire.rawValue)),
            ("seed", String(options.seed)),
        ]
        if options.shape != .max { members.append(("late_max_ms", String(lateMaxMs))) }
        if let failure { members.append(("failure", MessageText.quoted(failure))) }
        if let verification {
            var fields: [(String, String)] = []
            if let failure = verification.failure {
                fields.append(("failure", MessageText.quoted(failure)))
            } else {
                fields += [
                    ("stored", String(verification.stored)),
                    ("missing", String(verification.missing)),
                    ("duplicated", String(verification.duplicated)),
                    ("unconfirmed", String(verification.unconfirmed)),
                    ("unconfirmed_stored", String(verification.unconfirmedStored)),
                    ("delay_p50_ms", verification.delayP50Ms.map(String.init) ?? "null"),
                    ("delay_p99_ms", verification.delayP99Ms.map(String.init) ?? "null"),
                    ("delay_samples", String(verification.delaySamples)),
                    ("timed_out", verification.timedOut ? "true" : "false"),
                    ("problem_nodes", "[" + verification.problemNodes.map(MessageText.quoted).joined(separator: ",") + "]"),
                ]
            }
            members.append(("verify", "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"))
        }
        return "{" + members.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }
}
