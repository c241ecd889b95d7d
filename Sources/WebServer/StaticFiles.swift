import Foundation

/// The dashboards: every file below ASSETS_PATH, read into memory once at
/// start-up (no file I/O on a request path). Requests are looked up by
/// their relative path in that table, so no request can name a file
/// outside ASSETS_PATH, whatever dots or escapes it holds.
package struct StaticFiles {
    private struct File {
        let bytes: [UInt8]
        let contentType: String
    }

    /// Refuse to preload more than this; dashboards are small.
    static let maxTotalBytes = 64 * 1024 * 1024
    private var files: [String: File] = [:]

    package init(directory: String) throws {
        let root = URL(fileURLWithPath: directory).standardizedFileURL
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return }
        var total = 0
        for case let url as URL in walker {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
            let relative = String(url.standardizedFileURL.path.dropFirst(root.path.count + 1))
            let bytes = [UInt8](try Data(contentsOf: url))
            total += bytes.count
            guard total <= StaticFiles.maxTotalBytes else {
                throw StaticFilesError(description: "\"\(directory)\": more than \(StaticFiles.maxTotalBytes) bytes of files")
            }
            files[relative] = File(bytes: bytes, contentType: StaticFiles.contentType(of: relative))
        }
    }

    var count: Int { files.count }

    /// `rest` is the path below /dashboard/; "" and directories mean index.html,
    /// and "profiling" finds profiling.html.
    package func response(for rest: String) -> HTTPResponse {
        let candidates = rest.isEmpty ? ["index.html"] : [rest, rest + ".html", rest + "/index.html"]
        for name in candidates {
            if let file = files[name] {
                return HTTPResponse(status: 200, headers: [("Content-Type", file.contentType), ("Cache-Control", "no-cache")],
                                    body: file.bytes)
            }
        }
        return .error(404, "no dashboard file \(rest)")
    }

    static func contentType(of name: String) -> String {
        switch (name as NSString).pathExtension.lowercased() {
        case "html", "htm": return "text/html; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "json": return "application/json"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "ico": return "image/x-icon"
        case "txt": return "text/plain; charset=utf-8"
        default: return "application/octet-stream"
        }
    }
}

/// A folder that cannot be served from memory; the caller names the setting.
package struct StaticFilesError: Error, CustomStringConvertible {
    package let description: String
}
