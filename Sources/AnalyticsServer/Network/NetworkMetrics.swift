import NetworkModel
import Prometheus
import Synchronization

/// The network on /metrics: per chain, labelled by genesis hash and name
/// only, so the number of series grows with chains, never with nodes;
/// per node (label peer_id as well) only when NETWORK_METRICS_PER_NODE_MAX
/// asks for it, and for at most that many online nodes. Read at scrape
/// time from the answering loop's NetworkView, which every loop holds
/// alike, so it is read once, not summed over loops.
enum NetworkMetrics {
    static let chainLabels = ["genesis", "name"]
    static let nodeLabels = ["genesis", "name", "peer_id"]

    static let bestHeight = chain("tetcore_chain_best_height", "The highest best block any node of the chain reports.")
    static let finalizedHeight = chain("tetcore_chain_finalized_height", "The highest finalized block any node of the chain reports.")
    static let finalityLagBlocks = chain("tetcore_chain_finality_lag_blocks", "Best height minus finalized height.")
    static let finalityLagSeconds = chain("tetcore_chain_finality_lag_seconds",
                                          "From the first sighting of the finalized height to that of the best height.")
    static let nodesOnline = chain("tetcore_chain_nodes_online", "Nodes connected that spoke within NODE_ID_IDLE_S.")
    static let nodesStale = chain("tetcore_chain_nodes_stale",
                                  "Online nodes whose best has not risen for NETWORK_STALE_S while the chain's has.")
    static let nodesTotal = chain("tetcore_chain_nodes_known", "Nodes online, and offline ones that spoke within a day.")
    static let averageBlockTimeSeconds = chain("tetcore_chain_average_block_time_seconds",
                                               "Mean block time over the last 50 blocks, from their first sightings.")
    static let secondsSinceLastBlock = chain("tetcore_chain_seconds_since_last_block",
                                             "Time since the chain's best height was first seen.")

    static let nodeBestHeight = node("tetcore_node_best_height", "The node's best block (NETWORK_METRICS_PER_NODE_MAX).")
    static let nodeBestLag = node("tetcore_node_best_lag_blocks", "Blocks the node's best is behind its chain's.")
    static let nodeFinalizedHeight = node("tetcore_node_finalized_height", "The node's finalized block.")
    static let nodePeers = node("tetcore_node_peers", "The node's peers.")
    static let nodeStale = node("tetcore_node_stale", "1 while the node is stale.")
    static let nodePropagationSeconds = node("tetcore_node_propagation_seconds",
                                             "How long after its first sighting the node imported its best block.")

    private static func chain(_ name: String, _ help: String) -> MetricFamily {
        MetricFamily(.gauge, name, help: help, labels: chainLabels, isIntegral: false, isVolatile: true)
    }

    private static func node(_ name: String, _ help: String) -> MetricFamily {
        MetricFamily(.gauge, name, help: help, labels: nodeLabels, isIntegral: false, isVolatile: true)
    }

    /// The gauges of every chain in `view`, and of up to `perNodeMax` of
    /// its online nodes (by peer id).
    static func record(_ view: NetworkView, perNodeMax: Int, into readings: inout MetricReadings) {
        let now = NetworkTime.nowMs()
        let rules = view.options.rules
        let summaries = view.summaries(nowMs: now)
        for summary in summaries.values {
            let labels = [summary.genesisHash, summary.name ?? ""]
            func gauge(_ family: MetricFamily, _ value: Double?) {
                if let value { readings.record(family, value, labels: labels) }
            }
            gauge(bestHeight, summary.best.map { Double($0.height) })
            gauge(finalizedHeight, summary.finalized.map { Double($0.height) })
            gauge(finalityLagBlocks, summary.finalityLagBlocks.map(Double.init))
            gauge(finalityLagSeconds, summary.finalityLagMs.map { Double($0) / 1000 })
            gauge(nodesOnline, Double(summary.nodesOnline))
            gauge(nodesStale, Double(summary.nodesStale))
            gauge(nodesTotal, Double(summary.nodesTotal))
            gauge(averageBlockTimeSeconds, summary.averageBlockTimeMs.map { Double($0) / 1000 })
            gauge(secondsSinceLastBlock, summary.lastBlockAtMs.map { Double(max(0, now - $0)) / 1000 })
        }
        guard perNodeMax > 0 else { return }
        let online = view.nodes.values.filter { $0.isOnline(nowMs: now, idleMs: rules.idleMs) && $0.genesisHash != nil }
            .sorted { $0.identity.peerID < $1.identity.peerID }.prefix(perNodeMax)
        for node in online {
            guard let genesis = node.genesisHash else { continue }
            let summary = summaries[genesis]
            let labels = [genesis, summary?.name ?? "", node.identity.peerID]
            func gauge(_ family: MetricFamily, _ value: Double?) {
                if let value { readings.record(family, value, labels: labels) }
            }
            gauge(nodeBestHeight, node.best.map { Double($0.height) })
            gauge(nodeBestLag, node.lag(behind: summary?.best?.height).map(Double.init))
            gauge(nodeFinalizedHeight, node.finalized.map { Double($0.height) })
            gauge(nodePeers, node.peers.map(Double.init))
            gauge(nodeStale, summary.map { $0.isStale(node, nowMs: now, rules: rules) ? 1 : 0 })
            gauge(nodePropagationSeconds, node.propagationMs.map { Double($0) / 1000 })
        }
    }
}

/// `tetcore_block_propagation_seconds{genesis,name}`: the delay of every
/// counted block import after the block's first sighting. Observed once a
/// second per event loop (the tracker's flush), never per message; one
/// histogram per chain, shared by the loops.
final class PropagationHistograms: Sendable {
    static let buckets: [Double] = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60]
    static let name = "tetcore_block_propagation_seconds"

    private let registry: PrometheusCollectorRegistry
    private let histograms = Mutex<[[String]: ValueHistogram]>([:])

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func observe(genesis: String, name: String, delaysMs: [Int64]) {
        let labels = [genesis, name]
        let histogram = histograms.withLock { histograms in
            if let existing = histograms[labels] { return existing }
            let made = registry.makeValueHistogram(
                descriptor: .named(Self.name, help: "Delay of each block import after the block's first sighting (server receive clocks)."),
                labels: [("genesis", genesis), ("name", name)], buckets: Self.buckets)
            histograms[labels] = made
            return made
        }
        for delay in delaysMs { histogram.record(Double(delay) / 1000) }
    }
}
