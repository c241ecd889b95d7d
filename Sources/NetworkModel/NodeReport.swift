/// The message kinds that carry node or chain state.
package enum ReportKind: Sendable, Equatable {
    /// `system.connected`: the node's identity; starts a node.
    case connected
    /// `system.interval`: best and finalized (form A), peers and bandwidth
    /// (form B); older nodes send both forms in one message.
    case interval
    /// `block.import`: a new best block.
    case blockImport
    /// `notify.finalized` or `afg.finalized_blocks_up_to`.
    case finalized
    /// `sysinfo.hwbench`: hardware benchmark scores.
    case hardwareBenchmark
}

/// How a node came by a block it imported (`block.import`'s `origin`).
package enum BlockOrigin: String, Sendable, Equatable {
    case genesis = "Genesis"
    case networkInitialSync = "NetworkInitialSync"
    case networkBroadcast = "NetworkBroadcast"
    case consensusBroadcast = "ConsensusBroadcast"
    case own = "Own"
    case file = "File"

    /// Imported while catching up or from a file: such an import says
    /// nothing about how fast the block travelled.
    package var isCatchingUp: Bool {
        self == .networkInitialSync || self == .file || self == .genesis
    }
}

/// A block as a node names it.
package struct BlockRef: Sendable, Equatable, Hashable {
    package var height: Int64
    /// nil when the message gave no usable hash.
    package var hash: String?

    package init(height: Int64, hash: String?) {
        self.height = height
        self.hash = hash
    }
}

/// What one message tells about its node's state. Every field is
/// optional: a message carries some of them, and unknown or malformed
/// fields are simply absent.
package struct NodeReport: Sendable, Equatable {
    package var kind: ReportKind
    package var best: BlockRef?
    package var origin: BlockOrigin?
    package var finalized: BlockRef?
    package var transactions: Int64?
    package var peers: Int64?
    package var bandwidthDownload: Int64?
    package var bandwidthUpload: Int64?
    package var stateCacheSize: Int64?
    package var hardware: HardwareScores?
    /// Only for `.connected`. Boxed: a report is made and dropped for every
    /// state-bearing message, and an identity inline would make each of
    /// them copy and destroy a dozen empty strings.
    package var identity: NodeIdentity? {
        get { identityBox?.value }
        set { identityBox = newValue.map(IdentityBox.init) }
    }
    private var identityBox: IdentityBox?

    package init(kind: ReportKind, best: BlockRef? = nil, origin: BlockOrigin? = nil, finalized: BlockRef? = nil,
                 transactions: Int64? = nil, peers: Int64? = nil, bandwidthDownload: Int64? = nil,
                 bandwidthUpload: Int64? = nil, stateCacheSize: Int64? = nil, hardware: HardwareScores? = nil,
                 identity: NodeIdentity? = nil) {
        self.kind = kind
        self.best = best
        self.origin = origin
        self.finalized = finalized
        self.transactions = transactions
        self.peers = peers
        self.bandwidthDownload = bandwidthDownload
        self.bandwidthUpload = bandwidthUpload
        self.stateCacheSize = stateCacheSize
        self.hardware = hardware
        identityBox = identity.map(IdentityBox.init)
    }
}

extension NodeReport {
    package static func == (lhs: NodeReport, rhs: NodeReport) -> Bool {
        lhs.kind == rhs.kind && lhs.best == rhs.best && lhs.origin == rhs.origin && lhs.finalized == rhs.finalized
            && lhs.transactions == rhs.transactions && lhs.peers == rhs.peers
            && lhs.bandwidthDownload == rhs.bandwidthDownload && lhs.bandwidthUpload == rhs.bandwidthUpload
            && lhs.stateCacheSize == rhs.stateCacheSize && lhs.hardware == rhs.hardware && lhs.identity == rhs.identity
    }
}

private final class IdentityBox: Sendable {
    let value: NodeIdentity

    init(_ value: NodeIdentity) {
        self.value = value
    }
}
