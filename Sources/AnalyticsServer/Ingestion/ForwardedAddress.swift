import Foundation
import WebServer

/// The client address a trusted reverse proxy reports: the first entry of
/// `Forwarded: for=…` (RFC 7239) or else of `X-Forwarded-For`.
enum ForwardedAddress {
    static func first(in request: HTTPRequest) -> String? {
        if let forwarded = request.header("forwarded"), let address = fromForwarded(forwarded) {
            return address
        }
        if let list = request.header("x-forwarded-for"),
           let first = list.split(separator: ",").first?.trimmingCharacters(in: .whitespaces), !first.isEmpty {
            return first
        }
        return nil
    }

    private static func fromForwarded(_ header: String) -> String? {
        guard let element = header.split(separator: ",").first else { return nil }
        for pair in element.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces).lowercased() == "for" else { continue }
            let value = parts[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            return value.isEmpty ? nil : value
        }
        return nil
    }
}
