import CJansson
import Glibc

/// The message kinds nodes are made to send, read from a catalogue file
/// (the project's telemetry_messages.json by default): a JSON array of
/// sample messages, one per kind, each an object with `msg` and `ts`.
///
/// Each member other than `msg` and `ts` is kept as compact JSON text in
/// file order, so templates are assembled from text and nothing is
/// re-serialized after start-up.
package struct MessageCatalogue {
    package struct Sample {
        package let kind: String
        /// Members other than msg and ts: name and compact JSON value.
        package let members: [(name: String, json: String)]

        package func member(_ name: String) -> String? {
            members.first { $0.name == name }?.json
        }
    }

    package let samples: [Sample]

    package enum LoadError: Error, CustomStringConvertible {
        case unreadable(String, String)
        case notAnArray(String)
        case badSample(String, Int)

        package var description: String {
            switch self {
            case let .unreadable(path, reason): return "cannot read message catalogue \(path): \(reason)"
            case let .notAnArray(path): return "message catalogue \(path) is not a JSON array"
            case let .badSample(path, index): return "message catalogue \(path): element \(index) is not an object with a string \"msg\""
            }
        }
    }

    package init(samples: [Sample]) {
        self.samples = samples
    }

    package init(path: String) throws {
        var error = json_error_t()
        guard let root = json_load_file(path, 0, &error) else {
            throw LoadError.unreadable(path, MessageCatalogue.text(of: &error))
        }
        defer { json_decref(root) }
        guard root.pointee.type == JSON_ARRAY else { throw LoadError.notAnArray(path) }
        var samples: [Sample] = []
        for index in 0..<json_array_size(root) {
            guard let object = json_array_get(root, index), object.pointee.type == JSON_OBJECT,
                  let kindValue = json_object_get(object, "msg"), let kind = json_string_value(kindValue) else {
                throw LoadError.badSample(path, index)
            }
            let members = MessageCatalogue.members(of: object).filter { $0.name != "msg" && $0.name != "ts" }
            samples.append(Sample(kind: String(cString: kind), members: members))
        }
        self.samples = samples
    }

    package func sample(_ kind: String) -> Sample? {
        samples.first { $0.kind == kind }
    }

    /// Members of a JSON object as (name, compact JSON text), in file order.
    static func members(of object: UnsafeMutablePointer<json_t>) -> [(name: String, json: String)] {
        var result: [(name: String, json: String)] = []
        var iterator = json_object_iter(object)
        while let current = iterator {
            let name = String(cString: json_object_iter_key(current))
            if let value = json_object_iter_value(current) {
                result.append((name, compactText(value)))
            }
            iterator = json_object_iter_next(object, current)
        }
        return result
    }

    /// Compact JSON text of any value; reals keep 15 significant digits so
    /// 7.25 stays 7.25 (JSON_REAL_PRECISION(15), a macro Swift cannot call).
    static func compactText(_ value: UnsafeMutablePointer<json_t>) -> String {
        let flags = JSON_ENCODE_ANY | JSON_COMPACT | JSON_PRESERVE_ORDER | ((15 & 0x1F) << 11)
        guard let text = json_dumps(value, Int(flags)) else { return "null" }
        defer { free(text) }
        return String(cString: text)
    }

    private static func text(of error: inout json_error_t) -> String {
        withUnsafeBytes(of: &error.text) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
