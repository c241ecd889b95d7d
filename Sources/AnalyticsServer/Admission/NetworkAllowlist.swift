import Glibc

/// A list of IPv4 and IPv6 networks in CIDR notation
/// (`10.0.0.0/8,2001:db8::/32`) and the test whether an address is in one.
/// IPv4 addresses seen as IPv4-mapped IPv6 (`::ffff:10.1.2.3`, what a
/// dual-stack listener reports) match the IPv4 networks.
package struct NetworkAllowlist: Equatable, Sendable {
    struct Network: Equatable, Sendable {
        /// 16 bytes; IPv4 networks are stored IPv4-mapped, their prefix
        /// length counted from the start of those 16 bytes.
        var address: [UInt8]
        var prefixLength: Int
    }

    var networks: [Network]
    /// The list as it was written (empty for everyone).
    package private(set) var text = ""

    /// An empty list: every address is allowed.
    package static let everyone = NetworkAllowlist(networks: [])

    package var allowsEveryone: Bool { networks.isEmpty }

    /// Parses a comma-separated list; nil when any entry is not a network.
    /// A bare address is a network of one.
    package init?(parsing text: String) {
        var networks: [Network] = []
        let entries = text.trimmingASCIIWhitespace().isEmpty ? [] : text.split(separator: ",", omittingEmptySubsequences: false)
        for entry in entries {
            let trimmed = String(entry.trimmingASCIIWhitespace())
            guard !trimmed.isEmpty, let network = Self.network(trimmed) else { return nil }
            networks.append(network)
        }
        self.networks = networks
        self.text = text
    }

    init(networks: [Network]) {
        self.networks = networks
    }

    /// Whether `host` (an address without port) is allowed.
    package func allows(_ host: String) -> Bool {
        guard !networks.isEmpty else { return true }
        guard let address = Self.bytes(of: host) else { return false }
        return networks.contains { Self.matches(address, $0) }
    }

    private static func matches(_ address: [UInt8], _ network: Network) -> Bool {
        var remaining = network.prefixLength
        for index in 0..<16 where remaining > 0 {
            let bits = min(remaining, 8)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if address[index] & mask != network.address[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    private static func network(_ text: String) -> Network? {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = bytes(of: String(parts[0])) else { return nil }
        let isIPv4 = parts[0].contains(".") && !parts[0].contains(":")
        let maximum = isIPv4 ? 32 : 128
        var length = maximum
        if parts.count == 2 {
            guard let given = Int(parts[1]), (0...maximum).contains(given), parts[1].allSatisfy(\.isASCIIDigit) else { return nil }
            length = given
        }
        return Network(address: address, prefixLength: isIPv4 ? length + 96 : length)
    }

    /// The 16 bytes of an IPv6 address, or of an IPv4 address mapped into
    /// IPv6; nil when the text is neither.
    static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            let raw = withUnsafeBytes(of: &v4) { Array($0) }
            return [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF] + raw
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
