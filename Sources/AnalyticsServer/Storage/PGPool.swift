import Logging

/// A fixed number of connections to one database, each reconnected with
/// exponential backoff (100 ms doubling to 10 s) when it breaks or cannot
/// connect. Callers send through `trySend`, which never queues: work that
/// finds no room stays with the caller (StatementQueue) until `onCapacity`.
public final class PGPool {
    private let loop: EventLoop
    private let conninfo: String
    private let size: Int
    private let pipelined: Bool
    private let name: String
    private let logger: Logger
    private var connections: [PGConnection] = []
    private var backoffMs: [UInt64]
    private var closed = false
    public private(set) var reconnectCount = 0
    public var onReady: (() -> Void)?
    public var onCapacity: (() -> Void)?

    public init(loop: EventLoop, conninfo: String, size: Int, pipelined: Bool, name: String, logger: Logger) {
        self.loop = loop
        self.conninfo = conninfo
        self.size = size
        self.pipelined = pipelined
        self.name = name
        self.logger = logger
        backoffMs = Array(repeating: 0, count: size)
    }

    public func start() {
        for index in 0..<size {
            let connection = PGConnection(loop: loop, conninfo: conninfo, name: "\(name)-\(index)", logger: logger)
            connection.pipelined = pipelined
            connection.onDisconnect = { [weak self] _ in self?.scheduleConnect(index, failed: true) }
            connections.append(connection)
            connect(index, isRetry: false)
        }
    }

    public func close() {
        closed = true
        connections.forEach { $0.close() }
    }

    public var readyCount: Int { connections.filter { $0.state == .ready }.count }
    public var busyCount: Int { connections.filter { $0.inFlight > 0 }.count }
    public var openCount: Int { readyCount }

    /// Sends on the ready connection with the fewest statements in flight,
    /// if it has fewer than `maxInFlight`; returns false otherwise.
    public func trySend(_ sql: String, _ parameters: [PGParameter], maxInFlight: Int,
                        _ completion: @escaping (Result<PGRows, PGError>) -> Void) -> Bool {
        guard let connection = connections.filter({ $0.state == .ready })
            .min(by: { $0.inFlight < $1.inFlight }), connection.inFlight < maxInFlight
        else { return false }
        connection.query(sql, parameters) { [weak self] result in
            completion(result)
            self?.onCapacity?()
        }
        return true
    }

    private func connect(_ index: Int, isRetry: Bool) {
        guard !closed else { return }
        connections[index].connect { [weak self] error in
            guard let self else { return }
            if let error {
                self.logger.warning("cannot connect to PostgreSQL; retrying",
                                    metadata: ["connection": "\(self.name)-\(index)", "error": "\(error.message)",
                                               "retry_in_ms": "\(self.nextBackoff(index))"])
                self.scheduleConnect(index, failed: false)
                return
            }
            if isRetry {
                self.reconnectCount += 1
                self.logger.info("reconnected to PostgreSQL", metadata: ["connection": "\(self.name)-\(index)"])
            }
            self.backoffMs[index] = 0
            self.onReady?()
        }
    }

    private func nextBackoff(_ index: Int) -> UInt64 {
        min(max(backoffMs[index] * 2, 100), 10_000)
    }

    private func scheduleConnect(_ index: Int, failed: Bool) {
        guard !closed else { return }
        backoffMs[index] = nextBackoff(index)
        LoopTimer.once(on: loop, after: backoffMs[index]) { [weak self] in
            self?.connect(index, isRetry: true)
        }
    }
}
