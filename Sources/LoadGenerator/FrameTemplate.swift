import CSupport

/// One message as a complete, masked client frame, built once. A send
/// copies the bytes and overwrites `ts` and `loadgen_seq` with bytes that
/// are already masked, so no JSON is serialized and no payload is masked
/// per message.
///
/// A run uses one mask key for all its frames: the key only has to keep
/// proxies from recognising the payload (RFC 6455 §10.3), and a fixed key
/// is what lets the patched bytes be masked ahead of time.
package final class FrameTemplate {
    package let kind: String
    /// Header and masked payload.
    let storage: UnsafeMutableRawBufferPointer
    let timestampOffset: Int
    let sequenceOffset: Int
    /// Mask phase (payload offset mod 4) of the first patched byte.
    let timestampPhase: Int
    let sequencePhase: Int
    /// Frame offset, mask phase and offset from the best block of each
    /// block number.
    let heights: [(at: Int, phase: Int, offset: Int64)]

    package var count: Int { storage.count }

    package init(kind: String, text: MessageText, mask: MaskKey) {
        self.kind = kind
        let payloadCount = text.bytes.count
        let headerCount = ts_ws_header_size(UInt64(payloadCount), 1)
        storage = .allocate(byteCount: headerCount + payloadCount, alignment: 16)
        let base = storage.baseAddress!.assumingMemoryBound(to: UInt8.self)
        mask.withBytes { key in
            _ = ts_ws_encode_header(base, headerCount, text.binary ? TS_WS_OP_BINARY : TS_WS_OP_TEXT, 1, UInt64(payloadCount), key)
            text.bytes.withUnsafeBufferPointer { base.advanced(by: headerCount).update(from: $0.baseAddress!, count: payloadCount) }
            ts_ws_apply_mask(base.advanced(by: headerCount), payloadCount, key, 0)
        }
        timestampOffset = headerCount + text.timestampOffset
        sequenceOffset = headerCount + text.sequenceOffset
        timestampPhase = text.timestampOffset & 3
        sequencePhase = text.sequenceOffset & 3
        heights = text.heightOffsets.map { (headerCount + $0.at, $0.at & 3, $0.offset) }
    }

    deinit { storage.deallocate() }

    /// Writes the frame with this stamp's `ts` and `sequence` at `out`
    /// (room for `count` bytes); returns `count`.
    @inline(__always)
    package func write(to out: UnsafeMutablePointer<UInt8>, stamp: MaskedStamp, sequence: UInt64) -> Int {
        let total = storage.count
        out.update(from: storage.baseAddress!.assumingMemoryBound(to: UInt8.self), count: total)
        out.advanced(by: timestampOffset).update(from: stamp.timestamp(phase: timestampPhase), count: WallClock.textLength)
        let digits = out.advanced(by: sequenceOffset)
        let key = stamp.keyBytes
        var value = sequence
        var position = MessageText.sequenceWidth - 1
        repeat {
            digits[position] = UInt8(48 + value % 10) ^ key[(sequencePhase + position) & 3]
            value /= 10
            position -= 1
        } while value > 0 && position >= 0
        while position >= 0 {
            digits[position] = 0x20 ^ key[(sequencePhase + position) & 3]
            position -= 1
        }
        for height in heights {
            var number = UInt64(truncatingIfNeeded: Int64(stamp.bestBlock) + height.offset)
            let place = out.advanced(by: height.at)
            for i in stride(from: ChainHeight.digits - 1, through: 0, by: -1) {
                place[i] = UInt8(48 + number % 10) ^ key[(height.phase + i) & 3]
                number /= 10
            }
        }
        return total
    }
}

/// A WebSocket mask key.
package struct MaskKey: Equatable {
    package let bytes: (UInt8, UInt8, UInt8, UInt8)

    package init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) {
        bytes = (b0, b1, b2, b3)
    }

    package init(seed: UInt64) {
        var random = SeededRandom(seed: seed, stream: 2, index: 0)
        let value = random.next()
        self.init(UInt8(truncatingIfNeeded: value), UInt8(truncatingIfNeeded: value >> 8),
                  UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 24))
    }

    func withBytes<R>(_ body: (UnsafePointer<UInt8>) -> R) -> R {
        withUnsafeBytes(of: bytes) { body($0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
    }

    package static func == (a: MaskKey, b: MaskKey) -> Bool {
        a.bytes == b.bytes
    }
}

/// The current `ts` text masked for each of the four mask phases, made once
/// per batch of sends and shared by every frame of the run, and the best
/// block number of the moment.
package final class MaskedStamp {
    /// 4 phases × `WallClock.textLength` bytes, then the 4 key bytes.
    private let buffer: UnsafeMutablePointer<UInt8>
    private static let phaseStride = 40
    package let mask: MaskKey
    package private(set) var nanoseconds: Int64 = 0
    /// The best block of the chain the run pretends (`ChainHeight`).
    package var bestBlock: UInt64 = ChainHeight.base

    package init(mask: MaskKey) {
        self.mask = mask
        buffer = .allocate(capacity: 4 * MaskedStamp.phaseStride + 4)
        buffer.initialize(repeating: 0, count: 4 * MaskedStamp.phaseStride + 4)
        mask.withBytes { buffer.advanced(by: 4 * MaskedStamp.phaseStride).update(from: $0, count: 4) }
        update(to: 0)
    }

    deinit { buffer.deallocate() }

    var keyBytes: UnsafePointer<UInt8> { UnsafePointer(buffer.advanced(by: 4 * MaskedStamp.phaseStride)) }

    @inline(__always)
    func timestamp(phase: Int) -> UnsafePointer<UInt8> {
        UnsafePointer(buffer.advanced(by: phase * MaskedStamp.phaseStride))
    }

    /// Sets the stamp to `nanoseconds` since the epoch.
    package func update(to nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
        WallClock.format(nanoseconds, into: buffer)
        let key = keyBytes
        for phase in (1..<4).reversed() {
            for i in 0..<WallClock.textLength {
                buffer[phase * MaskedStamp.phaseStride + i] = buffer[i] ^ key[(phase + i) & 3]
            }
        }
        for i in 0..<WallClock.textLength {
            buffer[i] ^= key[i & 3]
        }
    }

    package func updateToNow() {
        update(to: WallClock.nowNanoseconds)
    }
}
