// The tetcore-loadgen executable: synthetic Tetcore nodes for load tests
// (the engine is the LoadGenerator module), or with --sink a discard sink
// to measure the generator itself. One command, so --help lists every option.
import ArgumentParser
import Foundation
import LoadGenerator
import Logging

struct TetcoreLoadgen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tetcore-loadgen",
        abstract: "Synthetic Tetcore nodes that stream telemetry to an analytics server.",
        discussion: """
            Each node opens its own WebSocket, sends system.connected (a network_id derived from the \
            seed and its index), then telemetry with a fresh ts. Every message carries loadgen_seq, its \
            number on its node, so --verify can find each one in the database.

            Profile realistic, per node: system.interval every 5 s and system.network_state every 60 s \
            (each at the node's own phase); on a 6 s slot clock shared by all nodes, delayed 0-500 ms \
            per node: block.import, babe.checked_and_importing and txpool.import at +0.1 s, \
            afg.received_prevote and afg.received_precommit at +2 s, afg.received_commit, \
            afg.finalized_blocks_up_to, afg.finalized and notify.finalized at +3 s; validators (one node \
            in four) also send afg.commit_issued and afg.announcing_blocks_to_voted_peers at +3 s and, in \
            one slot of eight, slots.starting_authorship, prepared_block_for_proposing and \
            slots.pre_sealed_block at +0 s. Block numbers in messages follow the same clock (one block a slot, \
            finality two behind).

            With --sink PORT the program is the other end instead: a WebSocket server that accepts any \
            node and discards every message, counting them, to measure the generator itself.

            Exit status: 0 when messages were sent and (with --verify) every one was stored exactly once; \
            1 otherwise; 64 for a bad option.
            """)

    @Option(help: "Server to connect to: ws://HOST[:PORT][/PATH]. Required unless --sink.")
    var url: String?

    @Option(help: "Number of synthetic nodes, each on its own connection.")
    var nodes: Int = 100

    @Option(help: ArgumentHelp("How long to send, e.g. 60s, 5m, 500ms.", valueName: "duration"))
    var duration: String?

    @Option(help: "Telemetry messages each node sends (system.connected not counted), then it closes.")
    var messagesPerNode: Int?

    @Option(help: ArgumentHelp("Start the nodes evenly over this long, e.g. 10s.", valueName: "duration"))
    var rampUp: String = "0s"

    @Option(help: "Seed of identities, schedule phases and mask keys: the same seed gives the same nodes.")
    var seed: UInt64 = 1

    @Option(help: "Node names are this prefix and the node's index.")
    var namePrefix: String = "loadgen-"

    @Option(help: "realistic (what a node sends, see below) or rate (with --rate).")
    var profile: String = "realistic"

    @Option(help: ArgumentHelp("Messages per second per node drawn in turn from the mix, or max: as fast as the server takes them. Implies --profile rate.", valueName: "R|max"))
    var rate: String?

    @Option(help: ArgumentHelp("Message catalogue: a JSON array of sample messages, one per kind (default: the project's telemetry_messages.json).", valueName: "file"))
    var mix: String?

    @Option(help: ArgumentHelp("Comma-separated kinds of the catalogue that --rate draws from (default: all but system.connected).", valueName: "kinds"))
    var kinds: String?

    @Option(help: "flat ({\"msg\",\"ts\",…}) or wrapped ({\"id\",\"ts\",\"payload\":{…}}).")
    var wire: String = "flat"

    @Flag(help: "Send to /audit (telemetry kept forever) instead of the URL's path.")
    var audit = false

    @Option(help: "A node writes nothing while its socket has more than this many bytes queued; what was not sent is counted as throttled.")
    var maxQueuedBytes: Int = 65_536

    @Option(help: ArgumentHelp("After sending, check in this PostgreSQL (the server's DATABASE_URL) that every message was stored exactly once; report stored, missing, duplicated and send-to-visible delay.", valueName: "database-url"))
    var verify: String?

    @Option(help: ArgumentHelp("Longest --verify waits for rows to appear.", valueName: "duration"))
    var verifyTimeout: String = "60s"

    @Option(help: ArgumentHelp("Once sending has ended, nodes close only after the server has read what they sent; a node is given up on after this long in which the server read nothing from any closing node, and the summary counts its messages that may not have arrived. A second Ctrl-C gives up at once.", valueName: "duration"))
    var closeTimeout: String = "30s"

    @Flag(help: "Print the summary as one JSON object on stdout.")
    var json = false

    @Flag(help: "No live progress line (it is shown only when stderr is a terminal anyway).")
    var noProgress = false

    @Option(help: ArgumentHelp("Run a discard sink on this port instead of nodes (0 picks a free port); it stops on Ctrl-C or after --duration and prints what it received.", valueName: "port"))
    var sink: Int?

    @Option(help: "Address the sink listens on.")
    var sinkHost: String = "127.0.0.1"

    func run() throws {
        if let sink {
            try runSink(port: sink)
            return
        }
        let options = try makeOptions()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let limit = OpenFileLimit.raiseToHard()
        if limit > 0 && UInt64(options.nodes) + 64 > limit {
            FileHandle.standardError.write(Data("tetcore-loadgen: warning: \(options.nodes) nodes but only \(limit) open files allowed (ulimit -n)\n".utf8))
        }
        let report = LoadRun(options: options, logger: Logger(label: "tetcore-loadgen")).run()
        print(json ? report.json : report.text)
        throw ExitCode(report.exitStatus)
    }

    /// The sink: per-second lines on stderr when it is a terminal, the total
    /// on stdout.
    private func runSink(port: Int) throws {
        OpenFileLimit.raiseToHard()
        let seconds = try duration.map { try TetcoreLoadgen.seconds($0, "--duration") }
        let sink = try DiscardSink(host: sinkHost, port: port)
        FileHandle.standardError.write(Data("sink: listening on \(sinkHost):\(sink.port)\n".utf8))
        print(sink.run(seconds: seconds, everySecond: !noProgress && isatty(2) == 1))
    }

    private func makeOptions() throws -> LoadOptions {
        guard nodes > 0 else { throw ValidationError("--nodes must be at least 1") }
        guard let url else { throw ValidationError("--url is required (or --sink PORT)") }
        var target: TelemetryTarget
        do { target = try TelemetryTarget(url: url) } catch { throw ValidationError("--url: \(error)") }
        if audit { target = target.audit }
        guard let wireForm = WireForm(rawValue: wire) else { throw ValidationError("--wire must be flat or wrapped") }
        let shape: LoadShape
        switch (profile, rate) {
        case ("realistic", nil): shape = .realistic
        case ("realistic", _), ("rate", _):
            guard let rate else { throw ValidationError("--profile rate needs --rate R or --rate max") }
            if rate == "max" {
                shape = .max
            } else if let value = Double(rate), value > 0, value.isFinite {
                shape = .rate(value)
            } else {
                throw ValidationError("--rate must be a positive number or max")
            }
        default: throw ValidationError("--profile must be realistic or rate")
        }
        let durationSeconds = try duration.map { try TetcoreLoadgen.seconds($0, "--duration") }
        if let messagesPerNode, messagesPerNode < 0 { throw ValidationError("--messages-per-node must not be negative") }
        guard maxQueuedBytes > 0 else { throw ValidationError("--max-queued-bytes must be positive") }
        let catalogue: MessageCatalogue
        do { catalogue = try MessageCatalogue(path: mix ?? TetcoreLoadgen.defaultCatalogue()) } catch { throw ValidationError("\(error)") }
        let kindSet = kinds.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) }
        let known = Set(catalogue.samples.map(\.kind))
        if let unknown = kindSet?.subtracting(known).sorted(), !unknown.isEmpty {
            throw ValidationError("--kinds: not in the catalogue: \(unknown.joined(separator: ", "))")
        }
        if shape == .realistic {
            let missing = RealisticSchedule.kinds.subtracting(known).sorted()
            guard missing.isEmpty else {
                throw ValidationError("the realistic profile needs these kinds, missing from the catalogue: \(missing.joined(separator: ", "))")
            }
        } else if known.subtracting(["system.connected"]).intersection(kindSet ?? known).isEmpty {
            throw ValidationError("--rate has no kinds to draw from")
        }
        return LoadOptions(
            target: target, nodes: nodes, durationSeconds: durationSeconds, messagesPerNode: messagesPerNode,
            rampUpSeconds: try TetcoreLoadgen.seconds(rampUp, "--ramp-up"), seed: seed, namePrefix: namePrefix, shape: shape,
            wire: wireForm, catalogue: catalogue, mixKinds: kindSet, maxQueuedBytes: maxQueuedBytes,
            verifyDatabaseURL: verify, verifyTimeoutSeconds: try TetcoreLoadgen.seconds(verifyTimeout, "--verify-timeout"),
            closeTimeoutSeconds: try TetcoreLoadgen.seconds(closeTimeout, "--close-timeout"),
            progress: !noProgress && isatty(2) == 1)
    }

    /// "60s", "1.5m", "500ms", "2h" or a bare number of seconds.
    static func seconds(_ text: String, _ option: String) throws -> Double {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let value = Double(text.dropLast(suffix.count)), value >= 0 { return value * scale }
        }
        if let value = Double(text), value >= 0 { return value }
        throw ValidationError("\(option): not a duration such as 60s, 5m or 500ms: \(text)")
    }

    /// ./telemetry_messages.json, else the one in the checkout the binary
    /// was built in (the executable's directory or one of its parents).
    static func defaultCatalogue() -> String {
        let name = "telemetry_messages.json"
        if FileManager.default.fileExists(atPath: name) { return name }
        var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = directory.appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return name
    }
}

TetcoreLoadgen.main()
