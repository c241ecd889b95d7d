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
            Each node opens its own WebSocket and sends what a current node sends: system.connected \
            (a network_id derived from the seed and its index, its chain's genesis_hash, version, target \
            and sysinfo), then telemetry with a fresh ts. Every message carries loadgen_seq, its number on \
            its node, so --verify can find each one in the database.

            Profile realistic, per node: sysinfo.hwbench on connecting; both system.interval messages \
            (blocks; peers and bandwidth) every 5 s at the node's own phase; on a block clock shared by \
            the nodes of a chain (a block every --block-time), each node late by its own share of \
            --propagation: block.import when its best rises at +1/60 of the block time, notify.finalized \
            (two blocks behind) at +1/2. --verbosity 1 adds the catalogue's consensus, pool, authorship \
            and network-state messages. See docs/loadgen.md for the scenario options.

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

    @Option(help: "wrapped ({\"id\",\"ts\",\"payload\":{…}} in binary frames, as current nodes) or flat ({\"msg\",\"ts\",…} in text frames, as older nodes).")
    var wire: String = "wrapped"

    @Option(help: "Telemetry verbosity of the realistic profile: 0 (the basic set, a node's default) or 1 (adds consensus and other messages).")
    var verbosity: Int = 0

    @Option(help: "Spread the nodes over this many chains (distinct genesis hashes and names); node i is on chain i mod N.")
    var chains: Int = 1

    @Option(help: ArgumentHelp("Each chain makes a block this often.", valueName: "duration"))
    var blockTime: String = "6s"

    @Option(help: ArgumentHelp("The nodes of a chain import each block spread evenly over this long after its first node.", valueName: "duration"))
    var propagation: String = "500ms"

    @Option(help: ArgumentHelp("K nodes stay BLOCKS behind their chain's best (default 3), importing as a syncing node does.", valueName: "K[:BLOCKS]"))
    var lagging: String?

    @Option(help: ArgumentHelp("K nodes stop importing after AFTER (default 30s) but keep sending intervals.", valueName: "K[:AFTER]"))
    var stalled: String?

    @Option(help: ArgumentHelp("K nodes (default 1) import another block than their chain's at block BLOCK of the run (height 10000100 + BLOCK).", valueName: "BLOCK[:K]"))
    var fork: String?

    @Option(help: ArgumentHelp("K nodes send nothing after AFTER (default 30s) but keep their connection.", valueName: "K[:AFTER]"))
    var silent: String?

    @Option(help: ArgumentHelp("K nodes put a ts SECONDS off the real time (may be negative).", valueName: "K:SECONDS"))
    var skew: String?

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
        guard (0...1).contains(verbosity) else { throw ValidationError("--verbosity must be 0 or 1") }
        let scenario = try makeScenario()
        if let problem = scenario.problem(nodes: nodes) { throw ValidationError(problem) }
        let schedule = RealisticSchedule(blockTimeMs: scenario.blockTimeMs, verbosity: verbosity)
        if shape == .realistic {
            let missing = schedule.catalogueKinds.subtracting(known).sorted()
            guard missing.isEmpty else {
                throw ValidationError("the realistic profile needs these kinds, missing from the catalogue: \(missing.joined(separator: ", "))")
            }
        } else if known.subtracting(["system.connected"]).intersection(kindSet ?? known).isEmpty {
            throw ValidationError("--rate has no kinds to draw from")
        }
        var options = LoadOptions(
            target: target, nodes: nodes, durationSeconds: durationSeconds, messagesPerNode: messagesPerNode,
            rampUpSeconds: try TetcoreLoadgen.seconds(rampUp, "--ramp-up"), seed: seed, namePrefix: namePrefix, shape: shape,
            wire: wireForm, catalogue: catalogue, mixKinds: kindSet, maxQueuedBytes: maxQueuedBytes,
            verifyDatabaseURL: verify, verifyTimeoutSeconds: try TetcoreLoadgen.seconds(verifyTimeout, "--verify-timeout"),
            closeTimeoutSeconds: try TetcoreLoadgen.seconds(closeTimeout, "--close-timeout"),
            progress: !noProgress && isatty(2) == 1)
        options.scenario = scenario
        options.verbosity = verbosity
        return options
    }

    private func makeScenario() throws -> NetworkScenario {
        do {
            var scenario = NetworkScenario()
            scenario.chains = chains
            scenario.blockTimeMs = try ScenarioArguments.milliseconds(blockTime, "--block-time")
            scenario.propagationMs = try ScenarioArguments.milliseconds(propagation, "--propagation")
            scenario.lagging = try lagging.map(ScenarioArguments.lagging)
            scenario.stalled = try stalled.map { try ScenarioArguments.delayed($0, "--stalled") }
            scenario.fork = try fork.map(ScenarioArguments.fork)
            scenario.silent = try silent.map { try ScenarioArguments.delayed($0, "--silent") }
            scenario.skew = try skew.map(ScenarioArguments.skew)
            return scenario
        } catch let invalid as ScenarioArguments.Invalid {
            throw ValidationError(invalid.description)
        }
    }

    /// "60s", "1.5m", "500ms", "2h" or a bare number of seconds.
    static func seconds(_ text: String, _ option: String) throws -> Double {
        do { return try ScenarioArguments.seconds(text, option) } catch { throw ValidationError("\(error)") }
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
