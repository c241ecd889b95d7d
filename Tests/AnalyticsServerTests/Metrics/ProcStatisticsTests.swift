@testable import AnalyticsServer
@testable import TestSupport
import XCTest

/// /proc parsing on fixed text: exact values out of known files.
final class ProcStatisticsTests: XCTestCase {
    func testProcessStatFieldsCountedFromTheLastParenthesis() throws {
        // A command name with a space and a ')' of its own; utime 250,
        // stime 150, starttime 5000, vsize 123456789, rss 2048 pages.
        let stat = "4242 (odd) name) S 1 4242 4242 0 -1 4194560 1200 0 3 0 250 150 0 0 20 0 3 0 5000 123456789 2048 "
            + "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
        let parsed = try XCTUnwrap(ProcessStatistics.parse(stat: stat, clockTicksPerSecond: 100, pageSize: 4096,
                                                           bootTimeSeconds: 1_700_000_000))
        XCTAssertEqual(parsed, ProcessStatistics(cpuSeconds: 4.0, residentBytes: 2048 * 4096, virtualBytes: 123_456_789,
                                                 startTimeSeconds: 1_700_000_050, openFileDescriptors: 0, maxFileDescriptors: 0))
    }

    func testTruncatedStatIsRefused() {
        XCTAssertNil(ProcessStatistics.parse(stat: "1 (x) S 1 2 3", clockTicksPerSecond: 100, pageSize: 4096, bootTimeSeconds: 0))
        XCTAssertNil(ProcessStatistics.parse(stat: "no parenthesis", clockTicksPerSecond: 100, pageSize: 4096, bootTimeSeconds: 0))
    }

    func testBootTimeFromProcStat() {
        let procStat = "cpu  1 2 3 4\ncpu0 1 2 3 4\nintr 5\nctxt 9\nbtime 1764400000\nprocesses 77\n"
        XCTAssertEqual(ProcessStatistics.bootTimeSeconds(procStat: procStat), 1_764_400_000)
        XCTAssertNil(ProcessStatistics.bootTimeSeconds(procStat: "cpu 1 2\n"))
    }

    func testThisProcessReadsPlausibly() throws {
        let statistics = try XCTUnwrap(ProcessStatistics.read())
        XCTAssertGreaterThan(statistics.residentBytes, 1 << 20)
        XCTAssertGreaterThanOrEqual(statistics.openFileDescriptors, 3, "stdin, stdout, stderr at least")
        XCTAssertLessThanOrEqual(statistics.startTimeSeconds, Date().timeIntervalSince1970 + 1)
        XCTAssertGreaterThan(statistics.startTimeSeconds, Date().timeIntervalSince1970 - 24 * 3600)
    }

    /// Thousands of entries of every name length, "." and ".." left out:
    /// readdir's records are as long as their names, and the server once
    /// crashed reading a whole `dirent` past the last one of its buffer.
    func testEntriesOfALargeDirectoryAreCountedWithoutDots() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("proc-file-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        for index in 0..<4000 {
            let name = String(index) + String(repeating: "x", count: index % 40)
            XCTAssertTrue(FileManager.default.createFile(atPath: directory.appendingPathComponent(name).path, contents: nil))
        }
        XCTAssertEqual(ProcFile.countEntries(directory.path), 4000)
        XCTAssertEqual(ProcFile.countEntries(directory.path + "/missing"), nil)
    }

    func testLoadAverage() {
        let load = MachineStatistics.parse(loadavg: "0.52 1.25 3.00 2/345 12345\n")
        XCTAssertEqual(load?.one, 0.52)
        XCTAssertEqual(load?.five, 1.25)
        XCTAssertEqual(load?.fifteen, 3.0)
        XCTAssertNil(MachineStatistics.parse(loadavg: "garbage"))
    }

    func testMemoryInKiBUsedIsTotalLessAvailable() {
        var statistics = MachineStatistics()
        statistics.apply(meminfo: """
            MemTotal:       16000000 kB
            MemFree:         2000000 kB
            MemAvailable:    9000000 kB
            Buffers:          100000 kB
            SwapTotal:       4000000 kB
            SwapFree:        3500000 kB

            """)
        XCTAssertEqual(statistics.memoryTotalKiB, 16_000_000)
        XCTAssertEqual(statistics.memoryUsedKiB, 7_000_000)
        XCTAssertEqual(statistics.swapTotalKiB, 4_000_000)
        XCTAssertEqual(statistics.swapUsedKiB, 500_000)
    }

    func testNetworkTotalsSumEveryInterface() {
        let netDev = """
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
              eth0:12345678   9000    0    0    0     0          0         0   654321    4000    0    0    0     0       0          0

            """
        let totals = MachineStatistics.parse(netDev: netDev)
        XCTAssertEqual(totals.received, 12_346_678)
        XCTAssertEqual(totals.sent, 655_321)
    }
}
