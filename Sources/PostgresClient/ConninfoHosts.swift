import CLibPQ
import Reactor

/// The hosts a conninfo names (`host`, `hostaddr` and `port`, one entry per
/// host, as libpq pairs them), so that the connection can try them in an
/// order of its own and look their names up itself.
///
/// libpq looks a host name up with a blocking `getaddrinfo` inside
/// `PQconnectPoll`, which would stall the event loop; and it keeps to the
/// order given, bounding nothing per host in non-blocking mode. So names are
/// resolved on libuv's thread pool (`namesToResolve`, then `resolved`) and
/// libpq gets addresses in `hostaddr`, with `host` kept for TLS and
/// `.pgpass`.
package struct ConninfoHosts: Equatable, Sendable {
    package struct Entry: Equatable, Sendable {
        package var host: String
        /// Empty: libpq would derive the address from `host`.
        package var hostaddr: String
        /// Empty: the default port.
        package var port: String
    }

    package private(set) var entries: [Entry]
    /// A single `port` given for every host.
    private var sharedPort: String?
    /// A list of one port per host was given.
    private var portPerHost = false

    /// Nil when the conninfo cannot be parsed or names no host (libpq then
    /// uses its defaults: PGHOST or the socket directory).
    package init?(conninfo: String) {
        guard let options = PQconninfoParse(conninfo, nil) else { return nil }
        defer { PQconninfoFree(options) }
        var lists: [String: [String]] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            let name = String(cString: keyword)
            if ["host", "hostaddr", "port"].contains(name), let value = option.pointee.val, value.pointee != 0 {
                lists[name] = String(cString: value).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            }
            option += 1
        }
        let hosts = lists["host"] ?? [], addresses = lists["hostaddr"] ?? [], ports = lists["port"] ?? []
        let count = max(hosts.count, addresses.count)
        // Lists of different lengths: libpq refuses them, and says why.
        guard count > 0, hosts.isEmpty || addresses.isEmpty || hosts.count == addresses.count else { return nil }
        let perHost = ports.count == count && count > 1
        portPerHost = perHost
        sharedPort = ports.count == 1 && count > 1 ? ports[0] : nil
        entries = (0..<count).map { index in
            Entry(host: index < hosts.count ? hosts[index] : "",
                  hostaddr: index < addresses.count ? addresses[index] : "",
                  port: perHost || count == 1 ? (index < ports.count ? ports[index] : "") : "")
        }
    }

    /// The same hosts, starting from the `by`-th (modulo their number).
    package func rotated(by: Int) -> ConninfoHosts {
        guard entries.count > 1, by % entries.count != 0 else { return self }
        var copy = self
        let start = by % entries.count
        copy.entries = Array(entries[start...] + entries[..<start])
        return copy
    }

    /// Host names libpq would look up: not an address, a socket directory
    /// or an abstract socket, and without a `hostaddr`. Each once, in order.
    package var namesToResolve: [String] {
        var names: [String] = []
        for entry in entries where Self.needsLookup(entry) && !names.contains(entry.host) { names.append(entry.host) }
        return names
    }

    /// Each looked-up entry replaced by one entry per address of its name,
    /// in the resolver's order; an entry whose name has no address is
    /// dropped (libpq could not have connected to it either).
    package func resolved(_ addresses: [String: [String]]) -> ConninfoHosts {
        var copy = self
        copy.entries = entries.flatMap { entry -> [Entry] in
            guard Self.needsLookup(entry) else { return [entry] }
            return (addresses[entry.host] ?? []).map { Entry(host: entry.host, hostaddr: $0, port: entry.port) }
        }
        // One port per host, or none: a port list must match the hosts.
        copy.portPerHost = portPerHost || (entries.count == 1 && !(entries.first?.port.isEmpty ?? true))
        return copy
    }

    /// The keywords that make libpq try exactly these entries, in order;
    /// given after the conninfo, they override what it said.
    package var keywords: [(keyword: String, value: String)] {
        var result: [(keyword: String, value: String)] = [
            ("host", entries.map(\.host).joined(separator: ",")),
            ("hostaddr", entries.map(\.hostaddr).joined(separator: ",")),
        ]
        if portPerHost || entries.count == 1 {
            result.append(("port", entries.map(\.port).joined(separator: ",")))
        } else if let sharedPort {
            result.append(("port", sharedPort))
        }
        return result
    }

    private static func needsLookup(_ entry: Entry) -> Bool {
        entry.hostaddr.isEmpty && !entry.host.isEmpty && !entry.host.hasPrefix("/") && !entry.host.hasPrefix("@")
            && !HostResolver.isAddress(entry.host)
    }
}
