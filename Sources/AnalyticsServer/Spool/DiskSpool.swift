import Glibc
import Logging
import Reactor

/// One loop's disk spool (SPOOL_DIR/loop-N), seen from the loop: which
/// segments exist, how far replay has read each one, and how many of its
/// records are still on their way to PostgreSQL. The files are touched only
/// by the SpoolDirectory on the spool's own thread.
///
/// A segment is deleted once it is no longer appended to, replay has read
/// all of it, and every record read from it was committed (or rejected as
/// bad data). A record whose replay fails is read again: `rewind` moves the
/// segment's cursor back, and the batch marker makes a second commit of it
/// insert nothing.
final class DiskSpool {
    private struct Segment {
        let sequence: UInt64
        var size: Int
        let createdAtUnixMs: UInt64
        /// Where replay reads next.
        var readOffset = 0
        /// Records (or parts of split records) read and not yet finished.
        var inFlight = 0
        /// No more appends go to it.
        var sealed: Bool
    }

    let maxBytes: Int
    private let segmentBytes: Int
    private let counters: SpoolCounters
    private let logger: Logger
    private let files: SpoolFileThread
    private let directory: SpoolDirectory
    private var segments: [Segment] = []
    /// Bytes of appends sent to the file thread and not yet answered.
    private var pendingAppendBytes = 0
    private var pendingAppends = 0
    /// What the segment being appended to will hold once the pending
    /// appends are done; nil when the next append starts a new segment.
    private var projectedActiveSize: Int?
    private var deletingBytes = 0
    private var readPending = false
    private var isReady = false
    /// Appends are refused until then after the file system refused one.
    private var refuseAppendsUntilMs: UInt64 = 0
    /// Reported full and not yet back under three quarters of the limit.
    private var isFull = false

    /// `path`: this loop's directory; `maxBytes`: its share of SPOOL_MAX_BYTES.
    init(loop: EventLoop, path: String, maxBytes: Int, counters: SpoolCounters, logger: Logger) {
        self.maxBytes = maxBytes
        // Segments of 1/16 of the spool (1 to 64 MiB): small enough that
        // space comes back soon as replay goes on, large enough that files
        // stay few.
        segmentBytes = min(max(maxBytes / 16, 1 << 20), 64 << 20)
        self.counters = counters
        self.logger = logger
        directory = SpoolDirectory(path: path)
        files = SpoolFileThread(loop: loop, name: "spool")
        files.perform({ [directory] in Result { try directory.scan() } }, answer: { [weak self] result in
            self?.scanned(result)
        })
    }

    deinit { files.stop() }

    /// Bytes of the spool's files.
    var bytes: Int { segments.reduce(0) { $0 + $1.size } + deletingBytes }
    var fileCount: Int { segments.count }

    /// Seconds since the oldest segment still held was started.
    func oldestAgeSeconds(nowUnixMs: UInt64) -> Double {
        guard let oldest = segments.first?.createdAtUnixMs, oldest > 0, nowUnixMs > oldest else { return 0 }
        return Double(nowUnixMs - oldest) / 1000
    }

    private func scanned(_ result: Result<[SpoolDirectory.Segment], Error>) {
        switch result {
        case .success(let found):
            segments = found.map { Segment(sequence: $0.sequence, size: $0.size, createdAtUnixMs: $0.createdAtUnixMs, sealed: true) }
            isReady = true
            if !found.isEmpty {
                logger.notice("the spool holds batches from before this start; replaying them once PostgreSQL is reachable",
                              metadata: ["directory": "\(directory.path)", "segments": "\(found.count)", "bytes": "\(bytes)"])
            }
        case .failure(let error):
            counters.writeErrors += 1
            logger.error("cannot use the spool directory; batches stay in memory (backpressure)", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Appending

    /// Starts writing `batch` to disk; false (and nothing started) when the
    /// spool is full, not ready, or recovering from a write error. `done`
    /// runs on the loop once the record is synced (true) or failed (false).
    func append(_ batch: MessageBatch, done: @escaping (Bool) -> Void) -> Bool {
        guard isReady, EventLoop.monotonicNanoseconds / 1_000_000 >= refuseAppendsUntilMs else { return false }
        let recordBytes = SpoolSegmentFormat.recordHeaderSize + SpoolRecord.encodedSize(of: batch)
        let newSegment = projectedActiveSize.map { $0 >= segmentBytes } ?? true
        let needed = recordBytes + (newSegment ? SpoolSegmentFormat.headerSize : 0)
        guard bytes + pendingAppendBytes + needed <= maxBytes else {
            reportFull()
            return false
        }
        projectedActiveSize = (newSegment ? SpoolSegmentFormat.headerSize : projectedActiveSize ?? 0) + recordBytes
        pendingAppendBytes += needed
        pendingAppends += 1
        let now = DiskSpool.unixMilliseconds()
        files.perform({ [directory] in
            Result { try directory.append(SpoolSegmentFormat.frame(SpoolRecord.encode(batch)), newSegment: newSegment, nowUnixMs: now) }
        }, answer: { [weak self] result in
            self?.appended(result, bytes: needed, rows: batch.count)
            done((try? result.get()) != nil)
        })
        return true
    }

    private func appended(_ result: Result<SpoolDirectory.Appended, Error>, bytes needed: Int, rows: Int) {
        pendingAppendBytes -= needed
        pendingAppends -= 1
        switch result {
        case .success(let appended):
            counters.recordsSpooled += 1
            counters.rowsSpooled += rows
            if let created = appended.createdAtUnixMs {
                if segments.isEmpty {
                    logger.notice("writing batches PostgreSQL cannot take now to the spool", metadata: ["directory": "\(directory.path)"])
                }
                if let last = segments.indices.last { segments[last].sealed = true }
                segments.append(Segment(sequence: appended.sequence, size: appended.size, createdAtUnixMs: created, sealed: false))
            } else if let last = segments.indices.last, segments[last].sequence == appended.sequence {
                segments[last].size = appended.size
            }
        case .failure(let error):
            counters.writeErrors += 1
            // Start afresh in a new segment, after a pause: the disk may be
            // full or failing, and the batches wait in memory meanwhile.
            projectedActiveSize = nil
            refuseAppendsUntilMs = EventLoop.monotonicNanoseconds / 1_000_000 + 5000
            logger.error("cannot write to the spool; keeping batches in memory for 5 s before trying again",
                         metadata: ["error": "\(error)"])
        }
    }

    private func reportFull() {
        guard !isFull else { return }
        isFull = true
        counters.fullEvents += 1
        logger.warning("the spool is full (SPOOL_MAX_BYTES); batches stay in memory and node sockets are paused above MAX_BUFFERED_BYTES",
                       metadata: ["bytes": "\(bytes)", "limit": "\(maxBytes)"])
    }

    // MARK: Replay

    /// Reads the oldest unread record; `done` gets its batch (marked with
    /// its position), or nil when there was none or it was damaged (then
    /// counted, logged and skipped). False when a read is already pending.
    func readNext(createdAtMs: UInt64, done: @escaping (MessageBatch?) -> Void) -> Bool {
        guard !readPending, let index = segments.firstIndex(where: { $0.readOffset < $0.size }) else { return false }
        let segment = segments[index]
        readPending = true
        files.perform({ [directory] in
            directory.next(inSegment: segment.sequence, at: segment.readOffset, size: segment.size)
        }, answer: { [weak self] next in
            guard let self else { return }
            self.readPending = false
            done(self.read(next, from: SpoolPosition(segment: segment.sequence, offset: segment.readOffset), createdAtMs: createdAtMs))
        })
        return true
    }

    private func read(_ next: SpoolSegmentFormat.Next, from position: SpoolPosition, createdAtMs: UInt64) -> MessageBatch? {
        // A rewind while the read was pending: the cursor moved back, read
        // again from there.
        guard let index = segments.firstIndex(where: { $0.sequence == position.segment }),
              segments[index].readOffset == position.offset else { return nil }
        switch next {
        case .record(let payload, let after):
            segments[index].readOffset = after
            guard var batch = SpoolRecord.decode(payload, createdAtMs: createdAtMs) else {
                damaged(at: position, reason: "record does not hold a batch", resumeAt: after)
                return nil
            }
            batch.spooledAt = position
            segments[index].inFlight += 1
            counters.recordsReplayed += 1
            return batch
        case .damaged(let reason, let resumeAt):
            damaged(at: position, reason: reason, resumeAt: resumeAt)
            segments[index].readOffset = resumeAt ?? segments[index].size
            collect()
            return nil
        case .end:
            segments[index].readOffset = segments[index].size
            collect()
            return nil
        }
    }

    private func damaged(at position: SpoolPosition, reason: String, resumeAt: Int?) {
        counters.corruptRecords += 1
        logger.error("damaged spool record skipped", metadata: [
            "file": "\(directory.filePath(position.segment))", "offset": "\(position.offset)", "reason": "\(reason)",
            "resumes_at": "\(resumeAt.map(String.init) ?? "end of file (the rest of this file is lost)")",
        ])
    }

    /// A record read back was split in two (to isolate a bad row): one
    /// more part to finish before its segment may go.
    func split(_ position: SpoolPosition) {
        guard let index = segments.firstIndex(where: { $0.sequence == position.segment }) else { return }
        segments[index].inFlight += 1
    }

    /// A record (or part) read back was committed or rejected as bad data.
    func finished(_ position: SpoolPosition, rows: Int) {
        counters.rowsReplayed += rows
        guard let index = segments.firstIndex(where: { $0.sequence == position.segment }) else { return }
        segments[index].inFlight -= 1
        collect()
    }

    /// A record (or part) read back could not be written now: read it again
    /// later.
    func rewind(_ position: SpoolPosition) {
        guard let index = segments.firstIndex(where: { $0.sequence == position.segment }) else { return }
        segments[index].inFlight -= 1
        segments[index].readOffset = min(segments[index].readOffset, position.offset)
    }

    // MARK: Deleting

    /// Deletes every segment that is read and finished. The segment being
    /// appended to is closed first when replay has caught up with it.
    private func collect() {
        var index = 0
        while index < segments.count {
            let segment = segments[index]
            guard segment.readOffset >= segment.size, segment.inFlight == 0, segment.sealed || pendingAppends == 0 else {
                index += 1
                continue
            }
            if !segment.sealed { projectedActiveSize = nil }
            segments.remove(at: index)
            deletingBytes += segment.size
            files.perform({ [directory] in Result { try directory.delete(segment.sequence) } }, answer: { [weak self] result in
                self?.deleted(result, bytes: segment.size)
            })
        }
    }

    private func deleted(_ result: Result<Void, Error>, bytes deleted: Int) {
        deletingBytes -= deleted
        if case .failure(let error) = result {
            counters.writeErrors += 1
            logger.error("cannot delete a replayed spool segment", metadata: ["error": "\(error)"])
        }
        if segments.isEmpty && deletingBytes == 0 {
            logger.notice("the spool is empty: every spooled batch was written", metadata: ["directory": "\(directory.path)"])
        }
        if isFull && bytes + pendingAppendBytes <= maxBytes / 4 * 3 {
            isFull = false
            logger.notice("the spool has room again", metadata: ["bytes": "\(bytes)", "limit": "\(maxBytes)"])
        }
    }

    static func unixMilliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }
}
