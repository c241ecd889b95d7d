import Glibc

/// The files of one spool directory: `segment-<sequence>.spool`, appended
/// to one at a time. Used only on the spool's file thread (SpoolFileThread);
/// the loop learns of every change from the values these methods return.
///
/// Durability: an append returns only after fdatasync, and a new segment's
/// directory entry is synced before its first record counts, so a record
/// reported written survives a crash of the process or of the machine.
final class SpoolDirectory {
    /// A segment found on disk.
    struct Segment: Equatable {
        let sequence: UInt64
        let size: Int
        let createdAtUnixMs: UInt64
    }

    /// Where an append went.
    struct Appended {
        let sequence: UInt64
        /// The segment's size after the record.
        let size: Int
        /// Set when the record opened a new segment: its creation time.
        let createdAtUnixMs: UInt64?
    }

    struct IOError: Error, CustomStringConvertible {
        let operation: String
        let path: String
        let code: Int32
        var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
    }

    let path: String
    private var appendFD: Int32 = -1
    private var appendSequence: UInt64 = 0
    private var appendSize = 0
    private var nextSequence: UInt64 = 1
    private var reader: (sequence: UInt64, file: SegmentFile)?
    private var lockFD: Int32 = -1

    init(path: String) {
        self.path = path
    }

    deinit {
        if appendFD >= 0 { close(appendFD) }
        if lockFD >= 0 { close(lockFD) }
    }

    /// Creates the directory if needed and lists its segments, oldest
    /// first. Segments found are never appended to again (a torn tail stays
    /// where it is; replay skips it). A file too short for a header, or
    /// with a wrong one, is listed with creation time 0 and replay reports it.
    func scan() throws -> [Segment] {
        // SPOOL_DIR, then this loop's directory in it.
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            let parent = String(path[..<slash])
            if mkdir(parent, 0o700) != 0 && errno != EEXIST { throw IOError(operation: "mkdir", path: parent, code: errno) }
        }
        if mkdir(path, 0o700) != 0 && errno != EEXIST { throw IOError(operation: "mkdir", path: path, code: errno) }
        try lockDirectory()
        guard let directory = opendir(path) else { throw IOError(operation: "opendir", path: path, code: errno) }
        defer { closedir(directory) }
        var segments: [Segment] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let sequence = SpoolDirectory.sequence(ofFileNamed: name),
                  let file = SegmentFile(path: filePath(sequence)) else { continue }
            let created = file.read(0, SpoolSegmentFormat.headerSize).flatMap(SpoolSegmentFormat.createdAtUnixMs(header:))
            segments.append(Segment(sequence: sequence, size: file.size, createdAtUnixMs: created ?? 0))
        }
        segments.sort { $0.sequence < $1.sequence }
        nextSequence = (segments.last?.sequence ?? 0) + 1
        return segments
    }

    /// Appends one framed record and syncs it; with `newSegment` (or when no
    /// segment is open) it starts a new segment first. On failure the
    /// segment is cut back to its size before, so no partial record stays.
    func append(_ record: [UInt8], newSegment: Bool, nowUnixMs: UInt64) throws -> Appended {
        var created: UInt64?
        if newSegment || appendFD < 0 {
            try openNewSegment(nowUnixMs: nowUnixMs)
            created = nowUnixMs
        }
        let before = appendSize
        do {
            try writeAll(record)
            if fdatasync(appendFD) != 0 { throw IOError(operation: "fdatasync", path: filePath(appendSequence), code: errno) }
        } catch {
            _ = ftruncate(appendFD, off_t(before))
            throw error
        }
        appendSize = before + record.count
        return Appended(sequence: appendSequence, size: appendSize, createdAtUnixMs: created)
    }

    /// Closes the segment being appended to; the next append starts another.
    func seal() {
        if appendFD >= 0 { close(appendFD) }
        appendFD = -1
    }

    /// What lies at `offset` in segment `sequence`, looking no further than
    /// `size` bytes (what the loop knows to be written).
    func next(inSegment sequence: UInt64, at offset: Int, size: Int) -> SpoolSegmentFormat.Next {
        if reader?.sequence != sequence {
            guard let file = SegmentFile(path: filePath(sequence)) else {
                return .damaged(reason: "cannot open \(filePath(sequence)): \(String(cString: strerror(errno)))", resumeAt: nil)
            }
            reader = (sequence, file)
        }
        guard let file = reader?.file else { return .end }
        file.limit = size
        if offset == 0 {
            guard file.read(0, SpoolSegmentFormat.headerSize).flatMap(SpoolSegmentFormat.createdAtUnixMs(header:)) != nil else {
                // Records after a damaged header are still worth finding.
                if case .damaged(_, let resumeAt) = SpoolSegmentFormat.next(in: file, at: 0) {
                    return .damaged(reason: "no segment header", resumeAt: resumeAt)
                }
                return .damaged(reason: "no segment header", resumeAt: nil)
            }
            return next(inSegment: sequence, at: SpoolSegmentFormat.headerSize, size: size)
        }
        return SpoolSegmentFormat.next(in: file, at: offset)
    }

    func delete(_ sequence: UInt64) throws {
        if reader?.sequence == sequence { reader = nil }
        if sequence == appendSequence { seal() }
        if unlink(filePath(sequence)) != 0 && errno != ENOENT {
            throw IOError(operation: "unlink", path: filePath(sequence), code: errno)
        }
    }

    /// Two processes appending to one spool would corrupt it: the second
    /// is refused (the lock goes with the process, even on SIGKILL).
    private func lockDirectory() throws {
        let file = path + "/lock"
        let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw IOError(operation: "open", path: file, code: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            throw IOError(operation: "lock (is another server using this spool?)", path: file, code: code)
        }
        lockFD = fd
    }

    private func openNewSegment(nowUnixMs: UInt64) throws {
        seal()
        let sequence = nextSequence
        let file = filePath(sequence)
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw IOError(operation: "create", path: file, code: errno) }
        appendFD = fd
        appendSequence = sequence
        appendSize = 0
        nextSequence += 1
        do {
            try writeAll(SpoolSegmentFormat.header(createdAtUnixMs: nowUnixMs))
            try syncDirectory()
        } catch {
            seal()
            unlink(file)
            throw error
        }
        appendSize = SpoolSegmentFormat.headerSize
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(appendFD, $0.baseAddress! + written, $0.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                throw IOError(operation: "write", path: filePath(appendSequence), code: errno)
            }
            written += result
        }
    }

    private func syncDirectory() throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw IOError(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw IOError(operation: "fsync", path: path, code: errno) }
    }

    func filePath(_ sequence: UInt64) -> String {
        path + "/" + SpoolDirectory.fileName(sequence)
    }

    static func fileName(_ sequence: UInt64) -> String {
        let digits = String(sequence)
        return "segment-" + String(repeating: "0", count: max(0, 16 - digits.count)) + digits + ".spool"
    }

    static func sequence(ofFileNamed name: String) -> UInt64? {
        guard name.hasPrefix("segment-"), name.hasSuffix(".spool") else { return nil }
        return UInt64(name.dropFirst("segment-".count).dropLast(".spool".count))
    }
}

/// A segment opened for reading with pread.
final class SegmentFile: SpoolSegmentSource {
    private let fd: Int32
    /// Bytes that may be read (the segment's known size).
    var limit: Int

    init?(path: String) {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var status = stat()
        limit = fstat(fd, &status) == 0 ? Int(status.st_size) : 0
    }

    deinit { close(fd) }

    var size: Int { limit }

    func read(_ offset: Int, _ count: Int) -> [UInt8]? {
        guard offset >= 0, count >= 0, offset <= limit - count else { return nil }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let result = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { return nil }
            done += result
        }
        return bytes
    }
}
