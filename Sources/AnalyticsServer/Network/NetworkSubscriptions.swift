import Foundation
import NetworkModel
import Reactor
import WebServer

/// `/subscribe`: the live, documented subscription to a chain
/// (docs/network.md#the-subscription-subscribe). A client subscribes to a
/// chain and gets its summary and node list, then every change the view
/// sees: changed nodes, nodes gone, new blocks, the summary again.
///
/// Bounded rate and size: changes are coalesced per node between sends
/// (a node is sent at most once per view refresh, a second, however often
/// it changed), a message holds at most `nodesPerMessage` nodes, and
/// messages are built only as the socket takes them, so a slow client
/// costs a set of peer ids, not a queue of copies. As on /feed, the first
/// node list does not count against the client; once it is sent, a client
/// that has not taken, by the next refresh, updates worth more than
/// FEED_MAX_CLIENT_BACKLOG_BYTES (each node counted at the size it was last
/// sent) is closed with 1008. A client that takes nothing at all is closed
/// by the HTTP layer after CLIENT_TIMEOUT_S, as any connection.
final class NetworkSubscriptions {
    static let nodesPerMessage = 500

    final class Counters: CounterSet {
        var connected = EventCounter(.init(.counter, "tetcore_subscriptions_connected_total",
                                           help: "/subscribe WebSocket connections accepted."))
        var disconnected = EventCounter(.init(.counter, "tetcore_subscriptions_disconnected_total",
                                              help: "/subscribe WebSocket connections ended."))
        var tooSlow = EventCounter(.init(.counter, "tetcore_subscription_clients_too_slow_total",
                                         help: "/subscribe clients disconnected (1008) for falling behind."))
        var messagesSent = EventCounter(.init(.counter, "tetcore_subscription_messages_total",
                                              help: "Messages sent to /subscribe clients."))
    }

    static let openConnections = MetricFamily(.gauge, "tetcore_subscriptions", help: "/subscribe WebSocket connections open now.")

    let view: NetworkView
    let maxBacklogBytes: Int
    let counters = Counters()
    private var clients: [ObjectIdentifier: NetworkSubscriber] = [:]

    init(view: NetworkView, maxBacklogBytes: Int) {
        self.view = view
        self.maxBacklogBytes = maxBacklogBytes
        view.onRefreshed.append { [unowned self] changes in
            for client in self.clients.values { client.viewRefreshed(changes) }
        }
    }

    func install(in router: inout Router) {
        router.addWebSocket("/subscribe") { [unowned self] _, _, decision in
            decision.accept { socket in
                let client = NetworkSubscriber(subscriptions: self)
                client.socket = socket
                socket.delegate = client
                self.clients[ObjectIdentifier(client)] = client
                self.counters.connected += 1
            }
        }
    }

    func closed(_ client: NetworkSubscriber) {
        clients[ObjectIdentifier(client)] = nil
        counters.disconnected += 1
    }

    func record(into readings: inout MetricReadings) {
        counters.readCounters(into: &readings)
        readings.record(Self.openConnections, clients.count)
    }
}

/// One /subscribe client.
final class NetworkSubscriber: WebSocketDelegate {
    private struct Subscription {
        /// Nodes to send (their latest state is taken when sent).
        var pending: Set<String> = []
        /// Still sending the first node list.
        var inSnapshot = true
        var removed: Set<String> = []
        var blocks: [(key: BlockKey, firstSeenMs: Int64)] = []
        var chainDirty = true
        /// What the client was last told of each node's liveness and how
        /// many bytes that took; the nodes it knows.
        var sent: [String: (online: Bool, stale: Bool, bytes: Int)] = [:]

        /// The bytes the pending nodes will take, roughly.
        var backlogBytes: Int { pending.reduce(0) { $0 + (sent[$1]?.bytes ?? 1024) } }
    }

    private unowned let subscriptions: NetworkSubscriptions
    var socket: WebSocketConnection?
    private var chains: [String: Subscription] = [:]
    private var order: [String] = []

    init(subscriptions: NetworkSubscriptions) {
        self.subscriptions = subscriptions
    }

    private var view: NetworkView { subscriptions.view }

    func webSocket(_ socket: WebSocketConnection, didReceive payload: UnsafeRawBufferPointer, isText: Bool) {
        guard isText else { return sendError("messages are JSON text, not binary") }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any] else {
            return sendError("a message must be a JSON object: {\"subscribe\": genesis_hash} or {\"unsubscribe\": genesis_hash}")
        }
        if let value = object["subscribe"] {
            guard let genesis = value as? String, !genesis.isEmpty, genesis.utf8.count <= 256 else {
                return sendError("subscribe must be a chain's genesis hash")
            }
            guard chains[genesis] == nil else { return }
            guard chains.count < 16 else { return sendError("at most 16 chains per connection") }
            guard !view.isLoaded || view.peersByChain[genesis] != nil else { return sendError("unknown chain \(genesis)") }
            var subscription = Subscription()
            subscription.pending = view.peersByChain[genesis] ?? []
            chains[genesis] = subscription
            order.append(genesis)
            pump()
        } else if let value = object["unsubscribe"] {
            guard let genesis = value as? String else { return sendError("unsubscribe must be a chain's genesis hash") }
            chains[genesis] = nil
            order.removeAll { $0 == genesis }
        } else {
            sendError("expected {\"subscribe\": genesis_hash} or {\"unsubscribe\": genesis_hash}")
        }
    }

    func webSocketDidClose(_ socket: WebSocketConnection, code: UInt16) {
        self.socket = nil
        chains = [:]
        subscriptions.closed(self)
    }

    /// What a view refresh changed, and the nodes time turned offline or
    /// stale, join what is waiting to be sent.
    func viewRefreshed(_ changes: NetworkView.Changes) {
        let now = NetworkTime.nowMs()
        let rules = view.options.rules
        for genesis in order {
            guard var subscription = chains[genesis] else { continue }
            // Asked for before the view had loaded: judged now.
            if subscription.inSnapshot, subscription.sent.isEmpty, view.peersByChain[genesis] == nil {
                chains[genesis] = nil
                order.removeAll { $0 == genesis }
                sendError("unknown chain \(genesis)")
                continue
            }
            // Updates of a refresh ago still unsent: the client does not keep up.
            if !subscription.inSnapshot, subscription.backlogBytes > subscriptions.maxBacklogBytes {
                return tooSlow(subscription.backlogBytes)
            }
            let peers = view.peersByChain[genesis] ?? []
            let summary = view.summary(of: genesis, nowMs: now)
            for peer in changes.nodes where peers.contains(peer) { subscription.pending.insert(peer) }
            for (peer, flags) in subscription.sent {
                guard peers.contains(peer), let node = view.nodes[peer] else {
                    subscription.removed.insert(peer)
                    continue
                }
                let online = node.isOnline(nowMs: now, idleMs: rules.idleMs)
                let stale = summary?.isStale(node, nowMs: now, rules: rules) ?? false
                if online != flags.online || stale != flags.stale { subscription.pending.insert(peer) }
            }
            if subscription.inSnapshot, subscription.sent.isEmpty, subscription.pending.isEmpty { subscription.pending = peers }
            for block in changes.blocks where block.key.genesisHash == genesis { subscription.blocks.append(block) }
            if subscription.blocks.count > 64 { subscription.blocks.removeFirst(subscription.blocks.count - 64) }
            subscription.chainDirty = true
            chains[genesis] = subscription
        }
        pump()
    }

    private func tooSlow(_ bytes: Int) {
        subscriptions.counters.tooSlow += 1
        chains = [:]
        order = []
        socket?.fail(code: 1008, reason: "subscriber too slow: backlog over the limit")
    }

    // MARK: Sending

    /// Builds and sends messages while the socket takes them.
    private func pump() {
        guard let socket else { return }
        let pacingBytes = min(subscriptions.maxBacklogBytes / 2, 1 << 20)
        while socket.state == .open, socket.pendingWriteBytes < pacingBytes, var message = nextMessage() {
            subscriptions.counters.messagesSent += 1
            message.withUnsafeMutableBufferPointer { bytes in
                socket.sendText(UnsafeRawBufferPointer(bytes), written: { [weak self] in self?.pump() })
            }
        }
    }

    /// The next message of any subscription: its summary, nodes gone,
    /// changed nodes (the first node list while `snapshot` is true), new
    /// blocks. nil when nothing waits.
    private func nextMessage() -> [UInt8]? {
        guard view.isLoaded else { return nil }
        let now = NetworkTime.nowMs()
        let rules = view.options.rules
        for genesis in order {
            guard var subscription = chains[genesis] else { continue }
            defer { chains[genesis] = subscription }
            let summary = view.summary(of: genesis, nowMs: now)
            var json = JSONWriter()
            json.beginObject()
            if subscription.chainDirty {
                subscription.chainDirty = false
                json.field("type", "chain")
                json.key("chain")
                json.beginObject()
                if let summary {
                    NetworkJSON.chainFields(summary, nowMs: now, into: &json)
                } else {
                    json.field("genesis_hash", genesis)
                }
                json.endObject()
            } else if !subscription.removed.isEmpty {
                json.field("type", "removed")
                json.field("genesis_hash", genesis)
                json.key("peer_ids")
                json.beginArray()
                for peer in subscription.removed.sorted() {
                    json.value(peer)
                    subscription.sent[peer] = nil
                    subscription.pending.remove(peer)
                }
                json.endArray()
                subscription.removed = []
            } else if !subscription.pending.isEmpty {
                json.field("type", "nodes")
                json.field("genesis_hash", genesis)
                json.key("nodes")
                json.beginArray()
                var taken = 0
                while taken < NetworkSubscriptions.nodesPerMessage, let peer = subscription.pending.popFirst() {
                    guard let node = view.nodes[peer], node.genesisHash == genesis else { continue }
                    let before = json.bytes.count
                    NetworkJSON.node(node, members: view.members(of: node), chain: summary, nowMs: now, rules: rules, into: &json)
                    subscription.sent[peer] = (node.isOnline(nowMs: now, idleMs: rules.idleMs),
                                               summary?.isStale(node, nowMs: now, rules: rules) ?? false,
                                               json.bytes.count - before)
                    taken += 1
                }
                json.endArray()
                json.field("snapshot", subscription.inSnapshot)
                if subscription.pending.isEmpty { subscription.inSnapshot = false }
                json.field("more", subscription.inSnapshot)
            } else if !subscription.blocks.isEmpty {
                json.field("type", "blocks")
                json.field("genesis_hash", genesis)
                json.key("blocks")
                json.beginArray()
                for block in subscription.blocks {
                    json.beginObject()
                    json.field("height", block.key.height)
                    json.field("hash", block.key.hash)
                    json.field("first_seen", NetworkTime.format(block.firstSeenMs))
                    json.endObject()
                }
                json.endArray()
                subscription.blocks = []
            } else {
                continue
            }
            json.endObject()
            return json.bytes
        }
        return nil
    }

    private func sendError(_ message: String) {
        guard let socket, socket.state == .open else { return }
        var json = JSONWriter()
        json.beginObject()
        json.field("error", message)
        json.endObject()
        var bytes = json.bytes
        bytes.withUnsafeMutableBufferPointer { socket.sendText(UnsafeRawBufferPointer($0)) }
    }
}
