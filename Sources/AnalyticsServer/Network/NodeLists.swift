import NetworkModel
import Reactor

/// The bodies of `/chains/{g}/nodes`, built on a worker thread so that a
/// 20,000-node list (25 MB, its chain's summary and its order) never holds
/// the event loop, which only hands over what each refresh changed.
///
/// After every refresh of the view, the worker's mirror takes the changes
/// and the lists asked for within `keepMs` are built again, at that
/// refresh's time; requests get the last body built. So a list is at most
/// one refresh old (about a second), and a request waits only for a list
/// nobody asked for lately, or when refreshes stopped for longer than
/// `maxAgeMs` (then it is built at the request's time).
final class NodeLists {
    /// One list: a chain, the `online` filter and the order.
    struct Variant: Hashable, Sendable {
        var genesis: String
        var online: Bool?
        var order: NodeOrder
    }

    /// A list built, with the time it was built for; nil: no such chain.
    private struct Built {
        var body: SharedBytes?
        var nowMs: Int64
    }

    /// The worker's mirror: touched only by jobs on the worker's thread,
    /// which run one at a time.
    private final class MirrorBox: @unchecked Sendable {
        var mirror: NodeListMirror
        init(_ mirror: NodeListMirror) { self.mirror = mirror }
    }

    /// Lists not asked for this long are no longer built.
    static let keepMs: Int64 = 10_000
    /// At most this many lists are kept and rebuilt (25 MB each at 20,000
    /// nodes); the one asked for least recently goes first.
    static let maxKept = 8

    private let view: NetworkView
    private let maxAgeMs: Int64
    private let worker: WorkerThread
    private let mirror: MirrorBox
    /// Built bodies come back through it, to this loop.
    private let replies: Mailbox
    private var built: [Variant: Built] = [:]
    private var lastAskedMs: [Variant: Int64] = [:]
    private var waiting: [Variant: [(SharedBytes?) -> Void]] = [:]
    private var building: Set<Variant> = []
    /// Lists whose build started before the latest refresh: built again
    /// when it ends.
    private var outdated: Set<Variant> = []

    /// Call on the view's loop thread, or before that loop runs.
    init(view: NetworkView, loop: EventLoop) throws {
        self.view = view
        maxAgeMs = 3 * Int64(view.options.refreshIntervalMs)
        worker = try WorkerThread()
        mirror = MirrorBox(NodeListMirror(rules: view.options.rules))
        replies = Mailbox(loop: loop)
        view.onRefreshed.append { [unowned self] changes in self.viewRefreshed(changes) }
    }

    /// Ends the worker once the jobs already posted have run (shutdown: a
    /// build in progress is waited for), answers the requests they were for
    /// and drops any other.
    func stop() {
        worker.stop()
        replies.close()
        waiting = [:]
    }

    /// Answers with the list's body (nil: the chain has no node), now if a
    /// recent one is built, otherwise once the worker has built it. The
    /// body is shared: every request writes the same bytes, uncopied.
    func body(of variant: Variant, _ answer: @escaping (SharedBytes?) -> Void) {
        let now = NetworkTime.nowMs()
        lastAskedMs[variant] = now
        if let built = built[variant], now - built.nowMs <= maxAgeMs { return answer(built.body) }
        waiting[variant, default: []].append(answer)
        build(variant, nowMs: now)
        forgetLeastAsked()
    }

    private func viewRefreshed(_ changes: NetworkView.Changes) {
        let update = NodeListUpdate(changed: changes.nodes.compactMap { view.nodes[$0] }, removed: Array(changes.removed),
                                    blocks: view.blocks)
        let mirror = mirror
        worker.post { mirror.mirror.apply(update) }
        let now = NetworkTime.nowMs()
        for (variant, asked) in lastAskedMs where now - asked > NodeLists.keepMs { forget(variant) }
        for variant in lastAskedMs.keys { build(variant, nowMs: now) }
    }

    private func build(_ variant: Variant, nowMs: Int64) {
        guard !building.contains(variant) else {
            outdated.insert(variant)
            return
        }
        building.insert(variant)
        let (mirror, replies) = (mirror, replies)
        // The reply holds the list owner weakly: a reply that arrives after
        // shutdown finds nobody and is dropped.
        let owner = WeakNodeLists(self)
        let posted = worker.post {
            let body = mirror.mirror.body(of: variant.genesis, online: variant.online, order: variant.order, nowMs: nowMs)
                .map(SharedBytes.init)
            replies.post { owner.lists?.finished(variant, body: body, nowMs: nowMs) }
        }
        // Stopped (shutting down): the requests waiting go with their
        // connections, which are being closed.
        if !posted {
            building.remove(variant)
            waiting[variant] = nil
        }
    }

    private func finished(_ variant: Variant, body: SharedBytes?, nowMs: Int64) {
        building.remove(variant)
        if lastAskedMs[variant] != nil {
            // The body replaced is freed on the worker: returning 25 MB to
            // the system takes milliseconds (unless a write still holds it).
            let replaced = built.updateValue(Built(body: body, nowMs: nowMs), forKey: variant)?.body
            worker.post { withExtendedLifetime(replaced) {} }
        }
        for answer in waiting.removeValue(forKey: variant) ?? [] { answer(body) }
        if outdated.remove(variant) != nil, lastAskedMs[variant] != nil { build(variant, nowMs: NetworkTime.nowMs()) }
    }

    private func forgetLeastAsked() {
        while lastAskedMs.count > NodeLists.maxKept, let oldest = lastAskedMs.min(by: { $0.value < $1.value })?.key {
            forget(oldest)
        }
    }

    /// No longer kept nor rebuilt; its body is freed on the worker.
    private func forget(_ variant: Variant) {
        lastAskedMs[variant] = nil
        let dropped = built.removeValue(forKey: variant)?.body
        worker.post { withExtendedLifetime(dropped) {} }
    }
}

/// A weak reference that may cross to the worker and back: it is only
/// dereferenced on the loop that owns the lists.
private final class WeakNodeLists: @unchecked Sendable {
    weak var lists: NodeLists?
    init(_ lists: NodeLists) { self.lists = lists }
}
