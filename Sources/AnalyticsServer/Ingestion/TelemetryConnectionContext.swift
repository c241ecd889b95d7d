import Reactor

/// Everything a TelemetryConnection uses besides its socket, shared by the
/// telemetry connections of one event loop. Connections see this and not
/// the Ingestion that made them, so they can be built and driven without a
/// server (TelemetryConnectionTests).
final class TelemetryConnectionContext {
    /// The per-message limits of a telemetry connection.
    struct Rules {
        /// Node ids one wrapped-form socket may carry at once (MAX_NODE_IDS_PER_CONNECTION).
        var maxNodeIDs: Int
        /// An id silent this long gives its slot back (NODE_ID_IDLE_S).
        var nodeIDIdleMs: UInt64
        /// Above this a connection is closed with 1008 (INGEST_MAX_BYTES_PER_S).
        var maxBytesPerSecond: Int
        /// The window the rate is measured over (INGEST_RATE_WINDOW_S).
        var rateWindowSeconds: Int
    }

    let loop: EventLoop
    let rules: Rules
    let counters: IngestionCounters
    let preparser = MessagePreparser()
    let rejections: RejectionLog
    let peers: PeerConnectionStore
    /// Rows of `/` and of `/audit` go in separate batches: they are stored
    /// in separate partitions (the audit flag is one parameter per batch).
    let liveBatcher: MessageBatcher
    let auditBatcher: MessageBatcher
    /// The state of the loop's nodes (NETWORK_STATE); nil when off.
    let network: NetworkTracker?
    /// The connection's socket closed.
    var onClosed: (TelemetryConnection) -> Void = { _ in }
    /// The connection went over `rules.maxBytesPerSecond` (bytes per second given).
    var onRateExceeded: (TelemetryConnection, Int) -> Void = { _, _ in }

    init(loop: EventLoop, rules: Rules, counters: IngestionCounters, rejections: RejectionLog, peers: PeerConnectionStore,
         liveBatcher: MessageBatcher, auditBatcher: MessageBatcher, network: NetworkTracker? = nil) {
        self.loop = loop
        self.rules = rules
        self.counters = counters
        self.rejections = rejections
        self.peers = peers
        self.liveBatcher = liveBatcher
        self.auditBatcher = auditBatcher
        self.network = network
    }
}
