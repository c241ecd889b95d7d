import CSupport
import Logging
import NetworkModel
import Reactor
import WebServer

/// One node's telemetry socket on `/` or `/audit`: turns each message into
/// a row of the right peer_connections row.
///
/// The wrapped form may carry several nodes on one socket, told apart by
/// `id`; each gets its own peer_connections row. The first id seen uses the
/// row created at the upgrade; a further id pauses the socket until its row
/// exists, so its messages keep their order and nothing is dropped.
final class TelemetryConnection: WebSocketDelegate {
    private struct Node {
        var peerConnectionID: Int32
        var knowsPeerID = false
        var lastMessageMs: UInt64 = 0
    }

    /// Strong, like every collaborator below: none of them references a
    /// connection, so there is no cycle, and a `let` read through `self`
    /// costs nothing, where an unowned(unsafe) one is retained and released
    /// around each use (the tracker, which its own database callbacks
    /// reference weakly, even on the slow side-table path).
    private let context: TelemetryConnectionContext
    let ipAddress: String
    /// The client address without port, as admission counts it.
    let host: String
    let audit: Bool
    private var rate: DataRateMeter
    /// Bytes not counted against the rate limit: what the node may have
    /// sent at the limit while the server kept its socket paused
    /// (backpressure). They waited in the kernel and arrive all at once
    /// when reading resumes: the server's delay, not the node's burst.
    private var excusedBytes = 0
    /// The live or the audit batcher, and the context's other members that
    /// every message uses, held directly (`context.counters` is a load and a
    /// retain each time).
    private let batcher: MessageBatcher
    private let loop: EventLoop
    private let counters: IngestionCounters
    private let preparser: MessagePreparser
    private let network: NetworkTracker?
    private var upgradePeerConnectionID: Int32?
    private var nodes: [Int64: Node] = [:]
    /// Messages of a node id whose row is being created (socket paused).
    private var parked: [(nodeID: Int64, createdAt: Int64, document: [UInt8], info: NodeInfo?, report: NodeReport?, atMs: Int64)] = []
    /// Strong (see WebSocketConnection.delegate); let go when it closes.
    var socket: WebSocketConnection?

    init(context: TelemetryConnectionContext, peerConnectionID: Int32, ipAddress: String, host: String, audit: Bool) {
        self.context = context
        self.upgradePeerConnectionID = peerConnectionID
        self.ipAddress = ipAddress
        self.host = host
        rate = DataRateMeter(windowSeconds: context.rules.rateWindowSeconds)
        batcher = audit ? context.auditBatcher : context.liveBatcher
        loop = context.loop
        counters = context.counters
        preparser = context.preparser
        network = context.network
        self.audit = audit
    }

    /// The server paused this socket for `pausedMs` (backpressure).
    func excuseBacklog(ofPausedMs pausedMs: UInt64) {
        excusedBytes += Int(min(pausedMs, 3_600_000)) * context.rules.maxBytesPerSecond / 1000
    }

    /// Row ids of this connection's nodes (purge must keep them).
    var peerConnectionIDs: [Int32] {
        nodes.values.map(\.peerConnectionID) + (upgradePeerConnectionID.map { [$0] } ?? [])
    }

    func webSocket(_ socket: WebSocketConnection, didReceive payload: UnsafeRawBufferPointer, isText: Bool) {
        receive(payload)
    }

    /// One whole message from the node: counted, rate-checked, pre-parsed,
    /// and batched as a row of its node's peer_connections row.
    func receive(_ payload: UnsafeRawBufferPointer) {
        counters.messagesReceived += 1
        counters.bytesReceived += payload.count
        let now = loop.nowMilliseconds
        let excused = min(excusedBytes, payload.count)
        excusedBytes -= excused
        let bytesPerSecond = rate.add(payload.count - excused, nowMs: now)
        // The message that crosses the limit is still stored; then the
        // connection is closed and nothing after it is read.
        defer {
            if bytesPerSecond > context.rules.maxBytesPerSecond {
                context.onRateExceeded(self, bytesPerSecond)
            }
        }
        var message = ts_json_message()
        let status = preparser.preparse(payload, into: &message)
        guard status == TS_JSON_OK.rawValue else {
            reject(status, payload: payload)
            return
        }
        defer { ts_json_message_release(&message) }
        let document = UnsafeRawBufferPointer(start: message.row, count: message.row_len)

        let node: Node
        if let index = nodes.index(forKey: message.node_id) {
            nodes.values[index].lastMessageMs = now
            node = nodes.values[index]
        } else if let peerConnectionID = upgradePeerConnectionID {
            // The first node id of the socket takes the row made at the upgrade.
            upgradePeerConnectionID = nil
            node = Node(peerConnectionID: peerConnectionID, lastMessageMs: now)
            nodes[message.node_id] = node
        } else {
            forgetIdleNodes(now: now)
            guard nodes.count < context.rules.maxNodeIDs else {
                counters.reject(.tooManyNodeIDs)
                return
            }
            park(message.node_id, createdAt: message.created_at_us, document: document, info: NodeInfo(reading: &message),
                 report: network != nil ? NodeReport(reading: &message) : nil)
            return
        }
        if !node.knowsPeerID { learn(NodeInfo(reading: &message), nodeID: message.node_id, node: node) }
        counters.rowsBatched += 1
        batcher.append(peerConnectionID: node.peerConnectionID, createdAtUnixMicros: message.created_at_us, document: document)
        if let network, message.state.kind != TS_JSON_STATE_NONE {
            network.receive(&message, peerConnectionID: node.peerConnectionID)
        }
    }

    func webSocketDidClose(_ socket: WebSocketConnection, code: UInt16) {
        self.socket = nil
        context.onClosed(self)
    }

    /// Records what a node tells about itself, until its peer id is known
    /// (callers read the info, which builds a tree, only while it is needed).
    private func learn(_ info: NodeInfo?, nodeID: Int64, node: Node) {
        guard !node.knowsPeerID, let info else { return }
        nodes[nodeID]?.knowsPeerID = true
        context.peers.record(info, forRow: node.peerConnectionID)
    }

    /// Ids that sent nothing for NODE_ID_IDLE_S give their slot back, so a
    /// node inventing ids cannot keep the connection's state growing. A
    /// forgotten id that speaks again gets a new peer_connections row.
    private func forgetIdleNodes(now: UInt64) {
        let idleMs = context.rules.nodeIDIdleMs
        let forgotten = nodes.values.filter { now &- $0.lastMessageMs >= idleMs }.map(\.peerConnectionID)
        guard !forgotten.isEmpty else { return }
        nodes = nodes.filter { now &- $0.value.lastMessageMs < idleMs }
        network?.closed(forgotten)
    }

    private func park(_ nodeID: Int64, createdAt: Int64, document: UnsafeRawBufferPointer, info: NodeInfo?, report: NodeReport?) {
        let first = !parked.contains { $0.nodeID == nodeID }
        parked.append((nodeID, createdAt, Array(document), info, report, report != nil ? NetworkTime.nowMs() : 0))
        guard first else { return }
        socket?.pauseReading(.awaitingPeerConnection)
        context.peers.createRetrying(ipAddress: ipAddress, audit: audit) { [weak self] peerConnectionID in
            self?.rowCreated(peerConnectionID, forNode: nodeID)
        }
    }

    private func rowCreated(_ peerConnectionID: Int32, forNode nodeID: Int64) {
        nodes[nodeID] = Node(peerConnectionID: peerConnectionID, lastMessageMs: loop.nowMilliseconds)
        let ready = parked.filter { $0.nodeID == nodeID }
        parked.removeAll { $0.nodeID == nodeID }
        for message in ready {
            if let node = nodes[nodeID] { learn(message.info, nodeID: nodeID, node: node) }
            counters.rowsBatched += 1
            message.document.withUnsafeBytes {
                batcher.append(peerConnectionID: peerConnectionID, createdAtUnixMicros: message.createdAt, document: $0)
            }
            if let report = message.report { network?.observe(report, peerConnectionID: peerConnectionID, atMs: message.atMs) }
        }
        if parked.isEmpty { socket?.resumeReading(.awaitingPeerConnection) }
    }

    private func reject(_ status: Int32, payload: UnsafeRawBufferPointer) {
        let reason: RejectReason
        switch status {
        case TS_JSON_ENOTOBJECT.rawValue: reason = .notObject
        case TS_JSON_EBADTS.rawValue: reason = .badTimestamp
        case TS_JSON_EBADID.rawValue: reason = .badID
        default: reason = .invalidJSON
        }
        counters.reject(reason)
        context.rejections.record(reason, ipAddress: ipAddress, size: payload.count, nowMs: loop.nowMilliseconds)
    }
}

extension NodeInfo {
    /// What a pre-parsed message tells about its node, or nil when it names
    /// no peer id. Reads the message's node info first (a Jansson tree, kept
    /// in the message until it is released).
    init?(reading message: inout ts_json_message) {
        guard message.names_node != 0, ts_json_read_node_info(&message) == TS_JSON_OK.rawValue else { return nil }
        let node = message.node
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

extension WebSocketConnection.PauseReason {
    /// A node id's peer_connections row is being created: its messages wait.
    static let awaitingPeerConnection = Self("awaiting peer connection")
    /// The loop's rows are over MAX_BUFFERED_BYTES (BufferBudget).
    static let backpressure = Self("backpressure")
}
