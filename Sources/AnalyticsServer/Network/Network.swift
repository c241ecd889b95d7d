import NetworkModel

// Network: the network, understood (issue 15; docs/network.md).
//
// NetworkModel (its own module) holds the rules; this folder runs them on
// the event loops and shares their results through PostgreSQL:
// - NetworkTracker (one per loop, owned by Ingestion): the state of the
//   nodes connected to the loop, from each pre-parsed state-bearing message
//   (NodeReport+Message), written once a second (NetworkStore) with the
//   loop's block imports and, every NETWORK_SERIES_STEP_S, a history row
//   per online node.
// - NetworkView (one per loop, owned by the Shard): every node and recent
//   block of every loop and instance, read back each second; the API's
//   live routes (API/NetworkAPI), the subscriptions (NetworkSubscription)
//   and the chain gauges (NetworkMetrics) read it.
// - NodeLists (one per loop, owned by the Shard): the node lists of
//   /chains/{g}/nodes, built on a worker thread from a mirror of the view
//   (NodeListMirror) fed with what each refresh changed.
// - Storage/NetworkHistoryKeeper (loop 0): compaction of block imports,
//   expiry of the history after NETWORK_HISTORY_EXPIRY_H, partitions.

extension Settings {
    /// When a node is offline (NODE_ID_IDLE_S) and stale (NETWORK_STALE_S).
    var livenessRules: LivenessRules {
        LivenessRules(idleMs: Int64(nodeIDIdleS) * 1000, staleAfterMs: Int64(networkStaleS) * 1000)
    }
}
