import Reactor

/// The writer with a disk spool (SPOOL_DIR).
///
/// Batches wait in `held` and are sent while PostgreSQL is reachable (some
/// write connection ready), at most `submitLimit` at a time, which is what
/// the pipelines take anyway. Held batches go to the spool, oldest first,
/// once no write connection has been ready for a second; and newest first
/// whenever the loop holds more than half of MAX_BUFFERED_BYTES, so that
/// node sockets are paused (today's backpressure) only when the spool is
/// full or the disk cannot keep up. A batch leaves memory once its record
/// is synced. Replay reads the spool back, oldest first, when nothing is
/// held and under a quarter of the budget is in use: live batches first.
extension BatchWriter {
    final class Spooling {
        let spool: DiskSpool
        var held = HeldBatches()
        let submitLimit: Int
        /// Above this many buffered bytes, held batches are spooled.
        let spillThreshold: Int
        /// No send before then (the backoff after a database error).
        var sendNotBeforeMs: UInt64 = 0
        var unreachableSinceMs: UInt64?
        /// Bytes of batches whose records are being written.
        var bytesSpooling = 0
        let timer: LoopTimer

        init(spool: DiskSpool, submitLimit: Int, spillThreshold: Int, timer: LoopTimer) {
            self.spool = spool
            self.submitLimit = submitLimit
            self.spillThreshold = spillThreshold
            self.timer = timer
        }
    }

    /// How long PostgreSQL must be unreachable before held batches go to
    /// disk: a write connection broken and reconnected at once (100 ms)
    /// should not cost a round trip through the spool.
    static let unreachableGraceMs: UInt64 = 1000

    /// Turns the spool on. `submitLimit`: batches the write pipelines take.
    func enableSpool(_ spool: DiskSpool, submitLimit: Int) {
        let timer = LoopTimer(loop: loop)
        spooling = Spooling(spool: spool, submitLimit: max(1, submitLimit), spillThreshold: budget.limit / 2, timer: timer)
        // The pump also runs on a tick: nothing else tells the writer that
        // PostgreSQL came back or that a backoff ended.
        timer.start(after: 200, repeat: 200) { [weak self] in self?.pump() }
        timer.unref()
    }

    /// Bytes of spool files and their count, for /metrics (0 without one).
    var spoolBytes: Int { spooling?.spool.bytes ?? 0 }
    var spoolFiles: Int { spooling?.spool.fileCount ?? 0 }
    func spoolOldestAgeSeconds() -> Double {
        spooling?.spool.oldestAgeSeconds(nowUnixMs: DiskSpool.unixMilliseconds()) ?? 0
    }

    func hold(_ batch: MessageBatch) {
        spooling?.held.pushBack(batch)
        pump()
    }

    /// A batch that could not be written now. One read back from the spool
    /// is still there: this copy goes, and the record is read again later.
    func retryLater(_ batch: MessageBatch, afterMs delay: UInt64) {
        guard let spooling else { return }
        spooling.sendNotBeforeMs = max(spooling.sendNotBeforeMs, loop.nowMilliseconds + delay)
        if let position = batch.spooledAt {
            finishedWithoutCommit(batch)
            spooling.spool.rewind(position)
        } else {
            spooling.held.pushFront(batch)
        }
    }

    /// Sends, spools and replays as the database, the budget and the
    /// spool allow.
    func pump() {
        guard let spooling else { return }
        let now = loop.nowMilliseconds
        let reachable = queue.pool.readyCount > 0
        if reachable {
            spooling.unreachableSinceMs = nil
        } else if spooling.unreachableSinceMs == nil {
            spooling.unreachableSinceMs = now
        }
        let maySend = reachable && now >= spooling.sendNotBeforeMs
        while maySend, submitted < spooling.submitLimit, let batch = spooling.held.popFront() {
            send(batch)
        }
        spill(spooling, now: now)
        if maySend { replay(spooling, now: now) }
    }

    private func spill(_ spooling: Spooling, now: UInt64) {
        let unreachable = spooling.unreachableSinceMs.map { now &- $0 >= BatchWriter.unreachableGraceMs } ?? false
        while !spooling.held.isEmpty {
            let overThreshold = budget.bytes - spooling.bytesSpooling > spooling.spillThreshold
            guard unreachable || overThreshold else { return }
            guard let batch = unreachable ? spooling.held.popFront() : spooling.held.popBack() else { return }
            let started = spooling.spool.append(batch) { [weak self] synced in self?.spooled(batch, synced: synced) }
            guard started else {
                // Full or failing: the batch stays in memory, and above
                // MAX_BUFFERED_BYTES the budget pauses the node sockets.
                if unreachable { spooling.held.pushFront(batch) } else { spooling.held.pushBack(batch) }
                return
            }
            spooling.bytesSpooling += batch.byteCount
        }
    }

    private func spooled(_ batch: MessageBatch, synced: Bool) {
        guard let spooling else { return }
        spooling.bytesSpooling -= batch.byteCount
        if synced {
            finished(batch)
        } else {
            spooling.held.pushFront(batch)
        }
        pump()
    }

    private func replay(_ spooling: Spooling, now: UInt64) {
        guard spooling.held.isEmpty, submitted < spooling.submitLimit, budget.bytes <= budget.limit / 4 else { return }
        _ = spooling.spool.readNext(createdAtMs: now) { [weak self] batch in
            guard let self else { return }
            if let batch {
                self.budget.add(batch.byteCount)
                self.send(batch)
            }
            self.pump()
        }
    }
}

/// A FIFO of batches that can also give back its newest and take one back
/// at the front, without shifting the array on every pop.
struct HeldBatches {
    private var items: [MessageBatch?] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }

    mutating func pushBack(_ batch: MessageBatch) {
        items.append(batch)
    }

    mutating func pushFront(_ batch: MessageBatch) {
        if head > 0 {
            head -= 1
            items[head] = batch
        } else {
            items.insert(batch, at: 0)
        }
    }

    mutating func popFront() -> MessageBatch? {
        guard head < items.count else { return nil }
        defer {
            items[head] = nil
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            }
        }
        return items[head]
    }

    mutating func popBack() -> MessageBatch? {
        guard head < items.count else { return nil }
        let batch = items.removeLast()
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
        return batch
    }
}
