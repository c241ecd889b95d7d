/// How nodes send: what a real node sends when, or a fixed rate.
package enum LoadShape: Equatable {
    /// `RealisticSchedule`: intervals, block time, GRANDPA, network state.
    case realistic
    /// Each node sends this many messages per second, drawn in turn from
    /// the mix.
    case rate(Double)
    /// Each node writes the mix as fast as its socket takes it.
    case max
}

/// Everything a run needs to know, already parsed and checked.
package struct LoadOptions {
    package var target: TelemetryTarget
    package var nodes: Int
    /// Stop after this many seconds (nil: when every node has sent
    /// `messagesPerNode`, or on SIGINT).
    package var durationSeconds: Double?
    /// Telemetry messages per node after `system.connected` (nil: no limit).
    package var messagesPerNode: Int?
    /// Nodes start evenly spread over this many seconds.
    package var rampUpSeconds: Double
    package var seed: UInt64
    package var namePrefix: String
    package var shape: LoadShape
    package var wire: WireForm
    package var catalogue: MessageCatalogue
    /// Kinds `--rate` draws from (nil: every kind but system.connected).
    package var mixKinds: Set<String>?
    /// A node writes nothing while its socket has more than this queued.
    package var maxQueuedBytes: Int
    /// PostgreSQL the server stores into; verify this run's rows there.
    package var verifyDatabaseURL: String?
    package var verifyTimeoutSeconds: Double
    /// Once sending has ended, a closing node is given up on after this
    /// long in which the server read nothing from any closing node.
    package var closeTimeoutSeconds: Double
    /// Print a live progress line on stderr.
    package var progress: Bool
    /// Chains, block time, propagation and misbehaving nodes.
    package var scenario = NetworkScenario()
    /// Telemetry verbosity of the realistic profile (0: the basic set).
    package var verbosity = 0

    package init(target: TelemetryTarget, nodes: Int, durationSeconds: Double?, messagesPerNode: Int?,
                rampUpSeconds: Double, seed: UInt64, namePrefix: String, shape: LoadShape, wire: WireForm,
                catalogue: MessageCatalogue, mixKinds: Set<String>?, maxQueuedBytes: Int,
                verifyDatabaseURL: String?, verifyTimeoutSeconds: Double, closeTimeoutSeconds: Double = 30,
                progress: Bool) {
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
        self.closeTimeoutSeconds = closeTimeoutSeconds
        self.progress = progress
    }
}
