/// What a node has written on its current connection, piece by piece in
/// the order of the byte stream, so that it can tell, message by message,
/// which ones the kernel has taken and which ones the server's TCP has
/// acknowledged, and, when the connection ends early, which ones may not
/// have arrived.
///
/// The messages of one connection have consecutive numbers
/// (`loadgen_seq`), so ranges of numbers describe them. Other bytes (the
/// upgrade request, pongs, the close frame) take room in the stream but
/// are not messages.
struct DeliveryLedger {
    /// Sizes in stream order: a message (> 0) or other bytes (< 0).
    private var pieces: [Int32] = []
    /// First piece not known to be acknowledged, and where it starts.
    private var acknowledgedIndex = 0
    private var acknowledgedOffset: UInt64 = 0
    /// First piece not known to be taken by the kernel, and where it starts.
    private var handedIndex = 0
    private var handedOffset: UInt64 = 0
    /// Number of the first message not known to be acknowledged, of the
    /// first not known to be taken, and of the next one to be written.
    private(set) var acknowledgedSequence: UInt64
    private(set) var handedSequence: UInt64
    private(set) var nextSequence: UInt64

    init(firstSequence: UInt64) {
        acknowledgedSequence = firstSequence
        handedSequence = firstSequence
        nextSequence = firstSequence
    }

    /// The next message, numbered `nextSequence`, of `bytes` bytes.
    mutating func message(bytes: Int) {
        pieces.append(Int32(clamping: max(bytes, 1)))
        nextSequence += 1
    }

    /// Bytes that are not a message.
    mutating func other(bytes: Int) {
        guard bytes > 0 else { return }
        pieces.append(-Int32(clamping: bytes))
    }

    /// The kernel has taken the first `offset` bytes of the stream: returns
    /// the messages (and their bytes) it now holds whole that it did not
    /// before.
    mutating func handed(upTo offset: UInt64) -> (messages: UInt64, bytes: UInt64) {
        var messages: UInt64 = 0, bytes: UInt64 = 0
        while handedIndex < pieces.count {
            let piece = pieces[handedIndex]
            let size = UInt64(piece.magnitude)
            guard handedOffset + size <= offset else { break }
            handedOffset += size
            handedIndex += 1
            if piece > 0 {
                messages += 1
                bytes += size
            }
        }
        handedSequence += messages
        return (messages, bytes)
    }

    /// The server's TCP has acknowledged the first `offset` bytes (never
    /// more than the kernel was given): forgets the pieces it has whole.
    mutating func acknowledged(upTo offset: UInt64) {
        while acknowledgedIndex < handedIndex {
            let piece = pieces[acknowledgedIndex]
            let size = UInt64(piece.magnitude)
            guard acknowledgedOffset + size <= offset else { break }
            acknowledgedOffset += size
            acknowledgedIndex += 1
            if piece > 0 { acknowledgedSequence += 1 }
        }
        // Drop the forgotten pieces once they are most of the array.
        if acknowledgedIndex >= 1024 && acknowledgedIndex * 2 >= pieces.count {
            pieces.removeFirst(acknowledgedIndex)
            handedIndex -= acknowledgedIndex
            acknowledgedIndex = 0
        }
    }

    /// Pieces the kernel holds that are not known to be acknowledged.
    var piecesInKernel: Int { handedIndex - acknowledgedIndex }

    /// Messages the kernel has taken whole and the server's TCP has not
    /// acknowledged whole (as far as `acknowledged(upTo:)` was told).
    var unacknowledged: Range<UInt64> { acknowledgedSequence..<handedSequence }

    /// Messages the kernel has not taken whole.
    var notHanded: Range<UInt64> { handedSequence..<nextSequence }
}
