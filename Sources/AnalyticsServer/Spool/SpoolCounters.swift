/// What the spool did, for /metrics. Owned by the BatchWriter, so the
/// families are present (at zero) when SPOOL_DIR is unset too.
final class SpoolCounters: CounterSet {
    var recordsSpooled = EventCounter(.init(.counter, "tetcore_spool_records_spooled_total",
                                            help: "Batches written to the disk spool (one record each), synced before leaving memory."))
    var rowsSpooled = EventCounter(.init(.counter, "tetcore_spool_rows_spooled_total", help: "Rows of those batches."))
    var recordsReplayed = EventCounter(.init(.counter, "tetcore_spool_records_replayed_total",
                                             help: "Spool records read back and sent to PostgreSQL (again after a lost connection)."))
    var rowsReplayed = EventCounter(.init(.counter, "tetcore_spool_rows_replayed_total",
                                          help: "Rows of spool records committed (or rejected as bad data) on replay."))
    var corruptRecords = EventCounter(.init(.counter, "tetcore_spool_corrupt_records_total",
                                            help: "Damaged spool records or tails skipped on replay; each is logged."))
    var fullEvents = EventCounter(.init(.counter, "tetcore_spool_full_total",
                                        help: "Times the spool reached SPOOL_MAX_BYTES and ingestion fell back to backpressure."))
    var writeErrors = EventCounter(.init(.counter, "tetcore_spool_write_errors_total",
                                         help: "Spool appends or deletions the file system refused; each is logged."))
}
