import Foundation
import Logging
import WebServer

/// GET /openapi.json: the API's OpenAPI 3.1 document, read from the assets
/// directory once at start-up and served as is.
enum OpenAPIDocument {
    static let fileName = "openapi.json"

    static func install(in router: inout Router, assetsPath: String, logger: Logger) {
        let path = URL(fileURLWithPath: assetsPath).appendingPathComponent(fileName).path
        guard let document = FileManager.default.contents(atPath: path) else {
            logger.warning("no OpenAPI document; /openapi.json will answer 404", metadata: ["path": "\(path)"])
            return
        }
        let body = [UInt8](document)
        router.add("GET", "/openapi.json") { _, respond in respond(.json(body: body)) }
    }
}
