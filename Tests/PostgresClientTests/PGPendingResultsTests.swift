@testable import PostgresClient
@testable import TestSupport
import XCTest
@testable import PostgresClient

final class PGPendingResultsTests: XCTestCase {
    private func rows(_ value: String) -> PGRows {
        PGRows(columnNames: ["v"], rows: [[value]])
    }

    private let divisionByZero = PGError(kind: .query, sqlState: "22012", message: "division by zero")

    /// Feeds `events` to one statement and returns what it finished with.
    private func outcome(pipelined: Bool, _ events: [PGPendingResults.Event]) -> [String] {
        var pending = PGPendingResults()
        pending.pipelined = pipelined
        var finished: [String] = []
        pending.append { result in
            switch result {
            case .success(let rows): finished.append(rows.string(0, 0) ?? "NULL")
            case .failure(let error): finished.append(error.sqlState ?? error.message)
            }
        }
        for event in events {
            pending.receive(event).map { $0.completion($0.outcome) }
        }
        return finished
    }

    func testInPipelineModeAStatementFinishesAtItsSyncPoint() {
        XCTAssertEqual(outcome(pipelined: true, [.rows(rows("a")), .end]), [])
        XCTAssertEqual(outcome(pipelined: true, [.rows(rows("a")), .end, .sync]), ["a"])
    }

    func testAnErrorBeforeTheSyncPointFailsAStatementWhoseResultsCameIn() {
        // A commit that fails reports its error after the statement's results.
        XCTAssertEqual(outcome(pipelined: true, [.rows(rows("a")), .end, .error(divisionByZero), .sync]), ["22012"])
    }

    func testWithoutPipelineModeTheLastResultCountsUnlessOneFailed() {
        XCTAssertEqual(outcome(pipelined: false, [.rows(rows("a")), .rows(rows("b")), .end]), ["b"])
        XCTAssertEqual(outcome(pipelined: false, [.rows(rows("a")), .error(divisionByZero), .end]), ["22012"])
        let aborted = PGError(kind: .query, sqlState: nil, message: "aborted")
        XCTAssertEqual(outcome(pipelined: false, [.error(divisionByZero), .error(aborted), .end]), ["22012"])
    }

    func testStatementsFinishInTheOrderTheyWereSent() {
        var pending = PGPendingResults()
        pending.pipelined = true
        var finished: [String] = []
        for _ in 0..<3 {
            pending.append { finished.append((try? $0.get())?.string(0, 0) ?? "failed") }
        }
        for value in ["a", "b", "c"] {
            for event: PGPendingResults.Event in [.rows(rows(value)), .end, .sync] {
                pending.receive(event).map { $0.completion($0.outcome) }
            }
        }
        XCTAssertEqual(finished, ["a", "b", "c"])
        XCTAssertEqual(pending.count, 0)
        XCTAssertNil(pending.receive(.sync), "an event with nothing pending is ignored")
    }

    func testALongRunningPipelineKeepsOnlyWhatIsPending() {
        var pending = PGPendingResults()
        pending.pipelined = true
        var finished = 0
        for round in 0..<5000 {
            pending.append { _ in finished += 1 }
            if round >= 10 {
                pending.receive(.sync).map { $0.completion($0.outcome) }
            }
        }
        XCTAssertEqual(finished, 4990)
        XCTAssertEqual(pending.count, 10)
        XCTAssertEqual(pending.removeAll().count, 10)
        XCTAssertEqual(pending.count, 0)
    }
}
