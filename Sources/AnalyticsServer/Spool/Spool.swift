// Spool: batches that cannot be written to PostgreSQL now, kept on disk
// (SPOOL_DIR) instead of in memory, and written later, oldest first.
//
// BatchWriter (Storage/) decides what goes to the spool: its held batches
// once the database has been unreachable for a second, or once the loop's
// buffered bytes pass half of MAX_BUFFERED_BYTES. DiskSpool is the loop's
// view of its spool directory (segments, sizes, the replay cursor, metrics);
// SpoolDirectory does the file I/O on a SpoolFileThread of its own, so the
// loop never waits for the disk. SpoolSegmentFormat frames and checks
// records; SpoolRecord turns a batch into a record's bytes and back.

/// Where a record lies in the spool: its segment and byte offset.
struct SpoolPosition: Equatable {
    let segment: UInt64
    let offset: Int
}
