import Foundation

/// A client's text message on /feed, validated.
enum FeedRequest: Equatable {
    struct Aggregate: Equatable {
        let type: FeedAggregateType
        let intervalSeconds: Int
    }

    /// `startUs`: only messages created after it (nil: all the cache holds).
    case subscribe(FeedKey, startUs: Int64?, aggregate: Aggregate?)
    case unsubscribe(FeedKey)

    /// Parses one message; the error text names what is wrong and is sent
    /// to the client as {"error": text}.
    static func parse(_ payload: UnsafeRawBufferPointer) -> Result<FeedRequest, FeedRequestError> {
        let data = Data(payload)
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            return .failure(.init("a subscription must be a JSON object"))
        }
        guard let peerValue = object["peer_id"] else { return .failure(.init("missing peer_id")) }
        guard let peerID = peerValue as? String, !peerID.isEmpty else { return .failure(.init("peer_id must be a non-empty string")) }
        guard let msgValue = object["msg"] else { return .failure(.init("missing msg")) }
        guard let msg = msgValue as? String, !msg.isEmpty else { return .failure(.init("msg must be a non-empty string")) }
        let key = FeedKey(peerID: peerID, msg: msg)
        switch object["interest"] as? String {
        case "subscribe":
            break
        case "unsubscribe":
            return .success(.unsubscribe(key))
        default:
            return .failure(.init("interest must be \"subscribe\" or \"unsubscribe\""))
        }
        var startUs: Int64?
        if let startValue = object["start_time"], !(startValue is NSNull) {
            guard let text = startValue as? String, let us = FeedTime.parse(text) else {
                return .failure(.init("start_time is not a timestamp like 2020-03-25T13:17:09: \(startValue)"))
            }
            startUs = us
        }
        return parseAggregate(object).map { .subscribe(key, startUs: startUs, aggregate: $0) }
    }

    private static func parseAggregate(_ object: [String: Any]) -> Result<Aggregate?, FeedRequestError> {
        let typeValue = object["aggregate_type"], intervalValue = object["aggregate_interval"]
        if typeValue == nil, intervalValue == nil { return .success(nil) }
        guard let typeValue else { return .failure(.init("aggregate_interval given without aggregate_type")) }
        let allowed = FeedAggregateType.allCases.map(\.rawValue).joined(separator: ", ")
        guard let name = typeValue as? String, let type = FeedAggregateType(rawValue: name.lowercased()) else {
            return .failure(.init("unknown aggregate_type \(typeValue): use one of \(allowed)"))
        }
        guard let intervalValue else { return .failure(.init("missing aggregate_interval (whole seconds, at least 1)")) }
        // JSON numbers arrive as NSNumber; booleans are NSNumbers too.
        guard let number = intervalValue as? NSNumber, !isBoolean(number),
              let seconds = Int(exactly: number.doubleValue), seconds >= 1, seconds <= 86_400 * 366 else {
            return .failure(.init("aggregate_interval must be whole seconds from 1 to 31622400: \(describe(intervalValue))"))
        }
        return .success(Aggregate(type: type, intervalSeconds: seconds))
    }

    /// A JSON value as the client wrote it, for error messages (Foundation
    /// keeps booleans as numbers, which would print as 1 and 0).
    private static func describe(_ value: Any) -> String {
        if let number = value as? NSNumber, isBoolean(number) { return number.boolValue ? "true" : "false" }
        return "\(value)"
    }

    /// Whether JSONSerialization made `number` from true or false: those
    /// have the C type char ("c"); `is Bool` also holds for 0 and 1.
    private static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }
}

struct FeedRequestError: Error, Equatable {
    let message: String
    init(_ message: String) { self.message = message }
}
