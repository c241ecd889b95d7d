import Logging

/// Logs rejected messages at debug level, at most one line a second with a
/// count of the others, so that a misbehaving node cannot flood the log.
final class RejectionLog {
    private let logger: Logger
    private var lastLineMs: UInt64 = 0
    private var sinceLastLine = 0

    init(logger: Logger) {
        self.logger = logger
    }

    func record(_ reason: RejectReason, ipAddress: String, size: Int, nowMs: UInt64) {
        sinceLastLine += 1
        guard nowMs &- lastLineMs >= 1000 else { return }
        logger.debug("telemetry message rejected", metadata: [
            "reason": "\(reason.rawValue)", "peer": "\(ipAddress)", "bytes": "\(size)",
            "rejected_since_last_line": "\(sinceLastLine)",
        ])
        lastLineMs = nowMs
        sinceLastLine = 0
    }
}
