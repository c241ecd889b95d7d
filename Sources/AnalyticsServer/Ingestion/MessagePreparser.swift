import CSupport

/// Runs the C pre-parse (ts_json_preparse) for one event loop's telemetry
/// connections, with the output buffer that wrapped messages are flattened
/// into; it grows to the largest message seen and is reused.
final class MessagePreparser {
    private var scratch: [CChar] = Array(repeating: 0, count: 64 * 1024)

    /// A TS_JSON_* status; on TS_JSON_OK, `message` points into `payload`
    /// or the scratch buffer until the next call.
    func preparse(_ payload: UnsafeRawBufferPointer, into message: inout ts_json_message) -> Int32 {
        let data = payload.baseAddress?.assumingMemoryBound(to: CChar.self)
        var needed = 0
        var status = ts_json_preparse(data, payload.count, &scratch, scratch.count, &needed, &message)
        if status == TS_JSON_ENOSPC.rawValue {
            scratch = Array(repeating: 0, count: needed)
            status = ts_json_preparse(data, payload.count, &scratch, scratch.count, &needed, &message)
        }
        return status
    }
}
