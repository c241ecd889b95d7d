import CMalloc
import Foundation
import Glibc
import Logging
import Reactor
import PostgresClient
import EmbeddedPostgres

package final class AnalyticsService {
    private let settings: Settings
    private let logger: Logger
    private let loop = EventLoop()
    private var embedded: EmbeddedPostgres?
    private var conninfo = ""
    private var group: ShardGroup?
    private var threads: [EventLoopThread] = []
    /// Engines that have not finished yet; the service stops loop 0 at zero.
    private var enginesRunning = 0
    /// Engines report their end here, from their own threads.
    private var control: Mailbox?
    private var migrationConnection: PGConnection?
    private var shuttingDown = false
    private var signals: [SignalWatcher] = []
    private var migrationBackoffMs: UInt64 = 0
    private var exitStatus: Int32 = 0
    /// Set for the `migrate` command: exit once migrations are applied.
    private var migrateOnly = false
    package private(set) var boundPort = 0

    package init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// Serves until SIGINT/SIGTERM; returns the exit status.
    package func serve() -> Int32 {
        for (name, value) in settings.effectiveSettingsDescription() {
            logger.info("setting", metadata: ["name": "\(name)", "value": "\(value)"])
        }
        raiseOpenFileLimit()
        boundHeapGrowth()
        // Before the embedded PostgreSQL starts: a signal during its start is
        // then handled once the loop runs, and the cluster is stopped cleanly.
        installSignalHandlers()
        do {
            conninfo = try databaseConninfo()
            try startEngines()
            logger.info("listening", metadata: ["address": "\(settings.host):\(boundPort)", "event_loops": "\(settings.numThreads)"])
            if settings.apiToken == nil && !["127.0.0.1", "::1"].contains(settings.host) {
                logger.warning("API_TOKEN is unset: anyone who reaches this address can write host systems and benchmarks")
            }
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            // Loops whose thread started run until told to finish.
            for shard in (group?.shards ?? []).dropFirst().prefix(threads.count) {
                shard.mailbox.post { shard.finish(drained: true) }
            }
            joinThreads()
            embedded?.stop()
            return 1
        }
        migrate()
        loop.run()
        joinThreads()
        embedded?.stop()
        return exitStatus
    }

    /// Loop 0 binds first (PORT=0 then gets a free port), the others bind
    /// the port it got; all are built here, then loops 1... start their
    /// threads and loop 0 runs on this one.
    private func startEngines() throws {
        let group = ShardGroup(settings: settings, logger: logger, conninfo: conninfo)
        self.group = group
        // Open until every shard has reported: loop 0 must not run dry
        // (and return from run()) while other loops still drain.
        let control = Mailbox(loop: loop, keepsLoopAlive: true)
        self.control = control
        for index in 0..<settings.numThreads {
            let engineLoop = index == 0 ? loop : EventLoop()
            let shard = try Shard(index: index, loop: engineLoop, group: group, port: index == 0 ? settings.port : boundPort)
            if index == 0 { boundPort = shard.boundPort }
            shard.onFinished = { [unowned self] shard, drained in
                control.post { self.engineFinished(shard, drained: drained) }
            }
            group.add(shard)
            enginesRunning += 1
        }
        for shard in group.shards.dropFirst() {
            threads.append(try EventLoopThread { shard.loop.run() })
        }
    }

    private func joinThreads() {
        for thread in threads { thread.join() }
        threads = []
    }

    /// Every node is a socket: take the hard limit of open files, not the
    /// (often 1024) soft one, and say what it is.
    private func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        logger.info("open file limit", metadata: ["limit": "\(limit.rlim_cur)"])
    }

    /// Batches and large answers are blocks of 128 KiB and more, freed
    /// seconds later. glibc's default raises its mmap threshold after each
    /// such free, so later blocks come from the heap, which keeps its
    /// high-water mark: the soak saw RSS step up 22 % over 15 minutes with
    /// nothing live growing. A fixed threshold maps and unmaps those blocks
    /// and trims the heap top, and RSS stayed flat (+3 %). An operator's
    /// MALLOC_MMAP_THRESHOLD_ in the environment wins.
    private func boundHeapGrowth() {
        guard ProcessInfo.processInfo.environment["MALLOC_MMAP_THRESHOLD_"] == nil else { return }
        _ = mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    }

    /// Applies migrations and exits (the `migrate` command).
    package func migrateAndExit() -> Int32 {
        migrateOnly = true
        installSignalHandlers()
        do {
            conninfo = try databaseConninfo()
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            return 1
        }
        migrate()
        loop.run()
        embedded?.stop()
        return exitStatus
    }

    private func databaseConninfo() throws -> String {
        if let url = settings.databaseURL { return url }
        let embedded = EmbeddedPostgres(dataDirectory: settings.embeddedPGDir, logger: logger)
        self.embedded = embedded
        return try embedded.start()
    }

    // MARK: Start-up

    /// Connects and migrates, retrying with backoff while the database is
    /// unreachable; the HTTP side (and /metrics) is already serving.
    private func migrate() {
        guard !shuttingDown else { return }
        let migrator: Migrator
        do {
            migrator = try Migrator(directory: settings.migrationsPath, logger: logger)
        } catch {
            logger.critical("cannot read migrations", metadata: ["error": "\(error)"])
            exitStatus = 1
            stop()
            return
        }
        let connection = PGConnection(loop: loop, conninfo: conninfo, name: "migrations", logger: logger)
        migrationConnection = connection
        connection.connect { [weak self] error in
            guard let self else { return }
            if let error { return self.retryMigration(after: error) }
            migrator.run(on: connection, adoptingOriginalSchema: self.migrateOnly) { result in
                connection.close()
                self.migrationConnection = nil
                switch result {
                case .failure(let error) where error.kind == .query:
                    self.logger.critical("migration failed", metadata: ["error": "\(error)"])
                    self.exitStatus = 1
                    self.stop()
                case .failure(let error):
                    self.retryMigration(after: error)
                case .success(let applied):
                    self.logger.info("database schema is up to date", metadata: ["applied_now": "\(applied.count)"])
                    if self.migrateOnly { self.stop() } else { self.startStorage() }
                }
            }
        }
    }

    private func retryMigration(after error: PGError) {
        migrationBackoffMs = min(max(migrationBackoffMs * 2, 250), 10_000)
        logger.warning("database unreachable; retrying", metadata: ["error": "\(error.message)", "retry_in_ms": "\(migrationBackoffMs)"])
        LoopTimer.once(on: loop, after: migrationBackoffMs) { [weak self] in self?.migrate() }
    }

    /// Every loop opens its pools once the schema is up to date.
    private func startStorage() {
        guard !shuttingDown, let group else { return }
        group.markMigrated()
        for shard in group.shards {
            shard.mailbox.post { shard.startStorage() }
        }
    }

    package static let version = "0.2.0"

    // MARK: Shutdown

    private func installSignalHandlers() {
        // A write to a socket the peer has reset must fail with EPIPE (which
        // libuv reports and the connection handles), not kill the process:
        // libuv leaves SIGPIPE to the application.
        signal(SIGPIPE, SIG_IGN)
        for number in [SIGINT, SIGTERM] {
            if let watcher = try? SignalWatcher(loop: loop, signal: number, { [weak self] signal in
                self?.shutdown(signal: signal)
            }) {
                signals.append(watcher)
            }
        }
    }

    private func shutdown(signal: Int32) {
        guard !shuttingDown else {
            logger.warning("second signal: exiting now")
            exit(exitStatus)
        }
        shuttingDown = true
        group?.markShuttingDown()
        logger.info("shutting down", metadata: ["signal": "\(signal)"])
        let timeoutMs = UInt64(settings.shutdownTimeoutS) * 1000
        for shard in group?.shards ?? [] {
            shard.mailbox.post { shard.beginShutdown(timeoutMs: timeoutMs) }
        }
        if enginesRunning == 0 { stop() }
    }

    /// Without draining (start-up or migrations failed): every shard
    /// finishes at once, and the service stops when all have.
    private func stop() {
        guard enginesRunning > 0 else { return finalStop() }
        for shard in group?.shards ?? [] {
            shard.mailbox.post { shard.finish(drained: true) }
        }
    }

    /// On loop 0, once per shard.
    private func engineFinished(_ shard: Shard, drained: Bool) {
        if !drained { exitStatus = 1 }
        enginesRunning -= 1
        if enginesRunning == 0 { finalStop() }
    }

    private func finalStop() {
        migrationConnection?.close()
        control?.close()
        signals = []
        loop.stop()
    }
}
