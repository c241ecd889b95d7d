import CJansson

/// Every frame template of a run, built at start-up (per kind) or when a
/// node first needs it (its own `system.connected` and
/// `system.network_state`).
final class FrameSet {
    let stamp: MaskedStamp
    /// The kinds `--rate` draws from, in catalogue order.
    let mix: [FrameTemplate]
    private let byKind: [String: FrameTemplate]
    private let wire: WireForm
    private let stateMembers: [(name: String, json: String)]
    private let peerJSON: String

    /// How many other synthetic nodes a node lists as connected peers.
    static let peersPerNode = 8

    init(catalogue: MessageCatalogue, wire: WireForm, mask: MaskKey, mixKinds: Set<String>?) {
        stamp = MaskedStamp(mask: mask)
        self.wire = wire
        var byKind: [String: FrameTemplate] = [:]
        var mix: [FrameTemplate] = []
        for sample in catalogue.samples where byKind[sample.kind] == nil {
            let template = FrameTemplate(kind: sample.kind, text: MessageText(kind: sample.kind, members: sample.members, wire: wire), mask: mask)
            byKind[sample.kind] = template
            if sample.kind != "system.connected", mixKinds?.contains(sample.kind) ?? true {
                mix.append(template)
            }
        }
        self.byKind = byKind
        self.mix = mix
        let state = catalogue.sample("system.network_state")?.member("state").flatMap(FrameSet.objectMembers) ?? []
        stateMembers = state
        let peers = state.first { $0.name == "connectedPeers" }.flatMap { FrameSet.objectMembers($0.json) }
        peerJSON = peers?.first?.json ?? "{}"
    }

    func template(_ kind: String) -> FrameTemplate? {
        byKind[kind]
    }

    /// The node's `system.connected`, as a current node sends it.
    func connected(_ identity: NodeIdentity, machine: NodeMachine, chain: SyntheticChain, runStartMs: UInt64) -> FrameTemplate {
        own("system.connected", CurrentNodeMessages.connected(identity, machine: machine, chain: chain, runStartMs: runStartMs))
    }

    /// A message built from a node's own state (its block numbers are its
    /// own, not the run's chain clock).
    func own(_ kind: String, _ members: CurrentNodeMessages.Members) -> FrameTemplate {
        FrameTemplate(kind: kind, text: MessageText(kind: kind, members: members, wire: wire, numbered: false), mask: stamp.mask)
    }

    /// The node's `system.network_state`: the catalogue's sample with the
    /// node's own peer id, and `peers` (other synthetic nodes) as its
    /// connected peers and peerset, with `reputations` (one per peer).
    func networkState(_ identity: NodeIdentity, peers: [String], reputations: [Int]) -> FrameTemplate {
        let connected = "{" + peers.map { "\(MessageText.quoted($0)):\(peerJSON)" }.joined(separator: ",") + "}"
        let peerset = "{\"message_queue\":0,\"nodes\":{"
            + zip(peers, reputations).map { "\(MessageText.quoted($0)):{\"connected\":true,\"reputation\":\($1)}" }
            .joined(separator: ",") + "}}"
        let replaced: [String: String] = [
            "connectedPeers": connected, "peerset": peerset, "peerId": MessageText.quoted(identity.networkID),
        ]
        var state = stateMembers.map { (name: $0.name, json: replaced[$0.name] ?? $0.json) }
        for (name, json) in replaced.sorted(by: { $0.key < $1.key }) where !state.contains(where: { $0.name == name }) {
            state.append((name, json))
        }
        let stateJSON = "{" + state.map { "\(MessageText.quoted($0.name)):\($0.json)" }.joined(separator: ",") + "}"
        return FrameTemplate(kind: "system.network_state",
                             text: MessageText(kind: "system.network_state", members: [("state", stateJSON)], wire: wire),
                             mask: stamp.mask)
    }

    /// Members of a JSON object given as text, or nil if it is not one.
    static func objectMembers(_ json: String) -> [(name: String, json: String)]? {
        var error = json_error_t()
        guard let value = json_loads(json, 0, &error) else { return nil }
        defer { json_decref(value) }
        guard value.pointee.type == JSON_OBJECT else { return nil }
        return MessageCatalogue.members(of: value)
    }
}
