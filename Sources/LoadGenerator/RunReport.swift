/// What a run did: the summary printed at the end, as text or JSON.
package struct RunReport {
    package let options: LoadOptions
    package let nodesTarget: Int
    package let nodesOpenPeak: Int
    package let messages: UInt64
    package let bytes: UInt64
    package let seconds: Double
    package let throttled: UInt64
    package let unconfirmed: UInt64
    /// Nodes given up on at the close timeout; their messages that may not
    /// have arrived, never taken by the kernel (not in `messages`) and
    /// taken but not acknowledged by the server's TCP (in `messages`).
    package let nodesAborted: Int
    package let abortedNotSent: UInt64
    package let abortedUnacknowledged: UInt64
    package let abortInterrupted: Bool
    /// From the end of sending to the last node closed.
    package let closeSeconds: Double
    package let reconnects: Int
    package let pingsAnswered: Int
    package let errors: [String: Int]
    package let lateMaxMs: UInt64
    package let verification: Verification?
    /// Why the run could not happen at all (bad address, database).
    package let failure: String?

    init(options: LoadOptions, stats: RunStatistics, verification: Verification?, failure: String?) {
        self.options = options
        nodesTarget = stats.nodesTarget
        nodesOpenPeak = stats.nodesOpenPeak
        messages = stats.messagesSent
        bytes = stats.bytesSent
        seconds = stats.seconds
        throttled = stats.messagesThrottled
        unconfirmed = stats.messagesUnconfirmed
        nodesAborted = stats.nodesAborted
        abortedNotSent = stats.abortedNotSent
        abortedUnacknowledged = stats.abortedUnacknowledged
        abortInterrupted = stats.abortInterrupted
        closeSeconds = stats.closeSeconds
        reconnects = stats.reconnects
        pingsAnswered = stats.pingsAnswered
        errors = stats.errors
        lateMaxMs = stats.lateMaxMs
        self.verification = verification
        self.failure = failure
    }

    /// Messages of aborted nodes that may not have arrived.
    package var possiblyLost: UInt64 { abortedNotSent + abortedUnacknowledged }

    package var messagesPerSecond: Double { seconds > 0 ? Double(messages) / seconds : 0 }
    package var bytesPerSecond: Double { seconds > 0 ? Double(bytes) / seconds : 0 }

    /// 0 when the run happened and (if asked) every message was stored
    /// exactly once; 1 otherwise.
    package var exitStatus: Int32 {
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

    package var text: String {
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
        lines.append("chains: " + chains.map { "\($0.name) \($0.genesisHash) (\($0.nodes) nodes)" }.joined(separator: ", ")
            + "; a block every \(options.scenario.blockTimeMs) ms, propagation over \(options.scenario.propagationMs) ms")
        for (role, names) in roles {
            lines.append("\(role): " + names.joined(separator: " "))
        }
        lines.append("reconnects: \(reconnects); pings answered: \(pingsAnswered)")
        if errors.isEmpty {
            lines.append("errors: none")
        } else {
            lines.append("errors: " + errors.sorted { $0.key < $1.key }.map { "\($0.key) × \($0.value)" }.joined(separator: ", "))
        }
        if nodesAborted > 0 {
            let why = abortInterrupted ? "at a second Ctrl-C"
                : "after \(Format.seconds(options.closeTimeoutSeconds)) in which the server read nothing (--close-timeout)"
            lines.append("close: gave up on \(nodesAborted) nodes \(why): \(Format.grouped(possiblyLost)) of their messages may not have arrived: "
                + "\(Format.grouped(abortedNotSent)) never handed to the kernel (not counted as sent), "
                + "\(Format.grouped(abortedUnacknowledged)) handed to it (counted as sent) but not acknowledged by the server's TCP; "
                + "messages it had acknowledged but the server had not read yet are not counted (this side cannot see them)")
        } else if closeSeconds >= 1 {
            lines.append("close: \(Format.seconds(closeSeconds)) for the server to read what was in flight when sending ended")
        }
        if unconfirmed > 0 {
            lines.append("unconfirmed: \(Format.grouped(unconfirmed)) messages may not have arrived: their connection dropped "
                + "or was given up on before the kernel took them or the server's TCP acknowledged them")
        }
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

    /// The run's chains (a pure function of the options).
    var chains: [SyntheticChain] {
        (0..<options.scenario.chains).map {
            SyntheticChain(seed: options.seed, index: $0, chains: options.scenario.chains, fleet: options.nodes)
        }
    }

    /// The nodes given each role, by name, in the order roles are given.
    var roles: [(String, [String])] {
        var byRole: [String: [String]] = [:]
        for index in 0..<options.nodes {
            if let role = options.scenario.role(of: index, nodes: options.nodes).name {
                byRole[role, default: []].append(options.namePrefix + String(index))
            }
        }
        return ["lagging", "stalled", "fork", "silent", "skew"].compactMap { role in byRole[role].map { (role, $0) } }
    }

    private var scenarioJSON: String {
        let chainList = chains.map {
            "{\"name\":\(MessageText.quoted($0.name)),\"genesis_hash\":\(MessageText.quoted($0.genesisHash)),\"nodes\":\($0.nodes)}"
        }
        let roleList = roles.map { "\(MessageText.quoted($0.0)):[" + $0.1.map(MessageText.quoted).joined(separator: ",") + "]" }
        return "{\"chains\":[\(chainList.joined(separator: ","))],\"block_time_ms\":\(options.scenario.blockTimeMs),"
            + "\"propagation_ms\":\(options.scenario.propagationMs),\"verbosity\":\(options.verbosity),"
            + "\"roles\":{\(roleList.joined(separator: ","))}}"
    }

    /// One JSON object, keys in a fixed order.
    package var json: String {
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
            ("close", "{\"timeout_seconds\":\(Format.fixed(options.closeTimeoutSeconds, 3)),\"seconds\":\(Format.fixed(closeSeconds, 3)),"
                + "\"aborted_nodes\":\(nodesAborted),\"possibly_lost\":\(possiblyLost),\"not_sent\":\(abortedNotSent),"
                + "\"sent_unacknowledged\":\(abortedUnacknowledged),\"interrupted\":\(abortInterrupted)}"),
            ("reconnects", String(reconnects)),
            ("pings_answered", String(pingsAnswered)),
            ("errors", "{" + errors.sorted { $0.key < $1.key }
                .map { "\(MessageText.quoted($0.key)):\($0.value)" }.joined(separator: ",") + "}"),
            ("wire", MessageText.quoted(options.wire.rawValue)),
            ("seed", String(options.seed)),
        ]
        if options.shape != .max { members.append(("late_max_ms", String(lateMaxMs))) }
        members.append(("scenario", scenarioJSON))
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
