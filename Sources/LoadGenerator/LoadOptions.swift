/// How nodes send: what a real node sends when, or a fixed rate.
public enum LoadShape: Equatable {
    /// `RealisticSchedule`: intervals, block time, GRANDPA, network state.
    case realistic
    /// Each node sends this many messages per second, drawn in turn from
    /// the mix.
    case rate(Double)
    /// Each node writes the mix as fast as its socket takes it.
    case max
}

/// Everything a run needs to know, already parsed and checked.
public struct LoadOptions {
    public var target: TelemetryTarget
    public var nodes: Int
    /// Stop after this many seconds (nil: when every node has sent
    /// `messagesPerNode`, or on SIGINT).
    public var durationSeconds: Double?
    /// Telemetry messages per node after `system.connected` (nil: no limit).
    public var messagesPerNode: Int?
    /// Nodes start evenly spread over this many seconds.
    public var rampUpSeconds: Double
    public var seed: UInt64
    public var namePrefix: String
    public var shape: LoadShape
    public var wire: WireForm
    public var catalogue: MessageCatalogue
    /// Kinds `--rate` draws from (nil: every kind but system.connected).
    public var mixKinds: Set<String>?
    /// A node writes nothing while its socket has more than this queued.
    public var maxQueuedBytes: Int
    /// PostgreSQL the server stores into; verify this run's rows there.
    public var verifyDatabaseURL: String?
    public var verifyTimeoutSeconds: Double
    /// Print a live progress line on stderr.
    public var progress: Bool

    public init(target: TelemetryTarget, nodes: Int, durationSeconds: Double?, messagesPerNode: Int?,
                rampUpSeconds: Double, seed: UInt64, namePrefix: String, shape: LoadShape, wire: WireForm,
                catalogue: MessageCatalogue, mixKinds: Set<String>?, maxQueuedBytes: Int,
                verifyDatabaseURL: String?, verifyTimeoutSeconds: Double, progress: Bool) {
        self.target = target
        self.nodes = nodes
        self.durationSeconds = durationSeconds
        self.messagesPerNode = messagesPerNode
        self.rampUpSeconds = rampUpSeconds
        self.seed = seed
        self.namePrefix = namePrefix
        self.shape = shape
        self.wire = wire
        self.catalogue = catalogue
        self.mixKinds = mixKinds
        self.maxQueuedBytes = maxQueuedBytes
        self.verifyDatabaseURL = verifyDatabaseURL
        self.verifyTimeoutSeconds = verifyTimeoutSeconds
        self.progress = progress
    }
}
