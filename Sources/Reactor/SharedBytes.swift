import Glibc

/// Bytes in memory of their own that never change once made, shared by
/// reference: a large body (a 25 MB node list) is written to every socket
/// that asks for it without a copy per write, and may be made on another
/// thread. `@unchecked Sendable`: nothing writes the memory after init.
package final class SharedBytes: @unchecked Sendable {
    package let count: Int
    private let memory: UnsafeMutableRawPointer

    /// A copy of `bytes`.
    package init(_ bytes: [UInt8]) {
        count = bytes.count
        // malloc(0) may give nil; one byte keeps `memory` a real pointer. Out
        // of memory ends the process, as growing an Array would.
        guard let memory = malloc(max(bytes.count, 1)) else { fatalError("out of memory for \(bytes.count) bytes") }
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { memory.copyMemory(from: base, byteCount: source.count) }
        }
        self.memory = memory
    }

    deinit { free(memory) }

    /// The bytes stay where they are for as long as this object lives (a
    /// write that holds the object may keep the pointer).
    package func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(UnsafeRawBufferPointer(start: memory, count: count))
    }
}
