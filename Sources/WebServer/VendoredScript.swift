import Foundation

/// A browser library installed by a Debian package (e.g. libjs-chart.js
/// under /usr/share/javascript/), served under a fixed local route so that
/// no page loads anything from another host. The path is fixed in the
/// code, never taken from a request, and the file is read once at
/// start-up (no file I/O on a request path).
package struct VendoredScript {
    /// The Debian package that provides the file, named in the error.
    package let package: String
    package let path: String
    private let bytes: [UInt8]?

    package init(package: String, path: String) {
        self.package = package
        self.path = path
        bytes = FileManager.default.contents(atPath: path).map { [UInt8]($0) }
    }

    package var isInstalled: Bool { bytes != nil }

    /// The script, cacheable for a day (the package changes only with an
    /// upgrade, and a restart reads it again), or a 404 naming the package.
    package func response() -> HTTPResponse {
        guard let bytes else {
            return .error(404, "\(path) is missing: install the Debian package \(package)")
        }
        return HTTPResponse(status: 200, headers: [("Content-Type", "text/javascript; charset=utf-8"),
                                                   ("Cache-Control", "max-age=86400")], body: bytes)
    }
}
