import CSupport
import Logging

/// One node's telemetry socket on `/` or `/audit`: turns each message into
/// a row of the right peer_connections row.
///
/// The wrapped form may carry several nodes on one socket, told apart by
/// `id`; each gets its own peer_connections row. The first id seen uses the
/// row created at the upgrade; a further id pauses the socket until its row
/// exists, so its messages keep their order and nothing is dropped.
final class TelemetryConnection: WebSocketDelegate {
    private struct Node {
        var rowID: Int32
        var knowsPeerID = false
    }

    private unowned let ingestion: Ingestion
    let ipAddress: String
    let audit: Bool
    private var upgradeRowID: Int32?
    private var nodes: [Int64: Node] = [:]
    /// Messages of a node id whose row is being created (socket paused).
    private var parked: [(nodeID: Int64, createdAt: Int64, document: [UInt8], info: NodeInfo?)] = []
    weak var socket: WebSocketConnection?

    init(ingestion: Ingestion, rowID: Int32, ipAddress: String, audit: Bool) {
        self.ingestion = ingestion
        self.upgradeRowID = rowID
        self.ipAddress = ipAddress
        self.audit = audit
    }

    /// Row ids of this connection's nodes (purge must keep them).
    var rowIDs: [Int32] {
        nodes.values.map(\.rowID) + (upgradeRowID.map { [$0] } ?? [])
    }

    func webSocket(_ socket: WebSocketConnection, didReceive payload: UnsafeRawBufferPointer, isText: Bool) {
        let metrics = ingestion.metrics
        metrics.messagesReceived += 1
        metrics.bytesReceived += payload.count
        var message = ts_json_message()
        let status = ingestion.preparse(payload, into: &message)
        guard status == TS_JSON_OK.rawValue else {
            reject(status, payload: payload)
            return
        }
        defer { ts_json_message_release(&message) }
        let document = UnsafeRawBufferPointer(start: message.row, count: message.row_len)

        let node: Node
        if let known = nodes[message.node_id] {
            node = known
        } else if let rowID = upgradeRowID {
            // The first node id of the socket takes the row made at the upgrade.
            upgradeRowID = nil
            node = Node(rowID: rowID)
            nodes[message.node_id] = node
        } else if nodes.count >= ingestion.maxNodeIDsPerConnection {
            metrics.reject(.tooManyNodeIDs)
            return
        } else {
            park(message.node_id, createdAt: message.created_at_us, document: document, info: NodeInfo(message.node))
            return
        }
        learn(NodeInfo(message.node), nodeID: message.node_id, node: node)
        metrics.rowsBatched += 1
        ingestion.batcher.append(connectionID: node.rowID, createdAtUnixMicros: message.created_at_us, document: document)
    }

    func webSocketDidClose(_ socket: WebSocketConnection, code: UInt16) {
        ingestion.connectionClosed(self)
    }

    /// Records what a node tells about itself, until its peer id is known
    /// (the info is only built, strings and all, while it is still needed).
    private func learn(_ info: @autoclosure () -> NodeInfo?, nodeID: Int64, node: Node) {
        guard !node.knowsPeerID, let info = info() else { return }
        nodes[nodeID]?.knowsPeerID = true
        ingestion.peers.record(info, forRow: node.rowID)
    }

    private func park(_ nodeID: Int64, createdAt: Int64, document: UnsafeRawBufferPointer, info: NodeInfo?) {
        let first = !parked.contains { $0.nodeID == nodeID }
        parked.append((nodeID, createdAt, Array(document), info))
        guard first else { return }
        socket?.pauseReading(.awaitingStorage)
        ingestion.peers.createRetrying(ipAddress: ipAddress, audit: audit) { [weak self] rowID in
            self?.rowCreated(rowID, forNode: nodeID)
        }
    }

    private func rowCreated(_ rowID: Int32, forNode nodeID: Int64) {
        nodes[nodeID] = Node(rowID: rowID)
        let ready = parked.filter { $0.nodeID == nodeID }
        parked.removeAll { $0.nodeID == nodeID }
        for message in ready {
            if let node = nodes[nodeID] { learn(message.info, nodeID: nodeID, node: node) }
            ingestion.metrics.rowsBatched += 1
            message.document.withUnsafeBytes {
                ingestion.batcher.append(connectionID: rowID, createdAtUnixMicros: message.createdAt, document: $0)
            }
        }
        if parked.isEmpty { socket?.resumeReading(.awaitingStorage) }
    }

    private func reject(_ status: Int32, payload: UnsafeRawBufferPointer) {
        let reason: RejectReason
        switch status {
        case TS_JSON_ENOTOBJECT.rawValue: reason = .notObject
        case TS_JSON_EBADTS.rawValue: reason = .badTimestamp
        case TS_JSON_EBADID.rawValue: reason = .badID
        default: reason = .invalidJSON
        }
        ingestion.metrics.reject(reason)
        ingestion.logRejection(reason, ipAddress: ipAddress, size: payload.count)
    }
}

extension NodeInfo {
    /// The node info the pre-parse found, or nil when it found no peer id.
    init?(_ node: ts_json_node_info) {
        guard let peerID = node.peer_id.string else { return nil }
        self.init(peerID: peerID,
                  name: node.name.string, chain: node.chain.string, version: node.version.string,
                  authority: node.authority < 0 ? nil : node.authority == 1,
                  startupTime: node.has_startup_time != 0 ? node.startup_time : nil,
                  implementation: node.implementation.string)
    }
}

extension ts_json_str {
    var string: String? {
        guard let ptr else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: ptr, count: len), as: UTF8.self)
    }
}
