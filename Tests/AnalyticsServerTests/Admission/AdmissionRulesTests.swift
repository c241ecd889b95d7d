@testable import AnalyticsServer
@testable import TestSupport
import XCTest

/// The pieces admission decides with: networks, rates, blocks, addresses.
final class AdmissionRulesTests: XCTestCase {
    func testNetworksMatchIPv4IPv6AndIPv4MappedAddresses() throws {
        let list = try XCTUnwrap(NetworkAllowlist(parsing: "10.0.0.0/8, 192.168.1.7 ,2001:db8::/32"))
        XCTAssertTrue(list.allows("10.200.3.4"))
        XCTAssertTrue(list.allows("::ffff:10.1.2.3"), "what a dual-stack listener reports for IPv4")
        XCTAssertTrue(list.allows("192.168.1.7"))
        XCTAssertFalse(list.allows("192.168.1.8"), "a bare address is a network of one")
        XCTAssertTrue(list.allows("2001:db8:ffff::1"))
        XCTAssertFalse(list.allows("2001:db9::1"))
        XCTAssertFalse(list.allows("11.0.0.1"))
        XCTAssertFalse(list.allows("not an address"))
    }

    func testPrefixLengthsCutInsideAByte() throws {
        let list = try XCTUnwrap(NetworkAllowlist(parsing: "172.16.0.0/12"))
        XCTAssertTrue(list.allows("172.31.255.255"))
        XCTAssertFalse(list.allows("172.32.0.0"))
        XCTAssertTrue(try XCTUnwrap(NetworkAllowlist(parsing: "0.0.0.0/0")).allows("8.8.8.8"))
    }

    func testEmptyListAllowsEveryoneAndBadEntriesAreRefused() {
        XCTAssertEqual(NetworkAllowlist(parsing: "")?.allowsEveryone, true)
        XCTAssertTrue(NetworkAllowlist.everyone.allows("203.0.113.9"))
        for bad in ["10.0.0.0/33", "10.0.0/8", "2001:db8::/129", "10.0.0.0/-1", "10.0.0.0/8,,", "example.com", "10.0.0.0/ 8"] {
            XCTAssertNil(NetworkAllowlist(parsing: bad), bad)
        }
    }

    func testRateIsAveragedOverTheWindowAndForgetsOldSeconds() {
        var meter = DataRateMeter(windowSeconds: 4)
        XCTAssertEqual(meter.add(4000, nowMs: 10_000), 1000)
        XCTAssertEqual(meter.add(4000, nowMs: 11_500), 2000)
        XCTAssertEqual(meter.add(0, nowMs: 14_000), 1000, "second 10 left the window")
        XCTAssertEqual(meter.add(0, nowMs: 60_000), 0, "a long silence clears every second")
    }

    func testBlocksExpireAndRepeatOffendersWaitTwiceAsLong() {
        var list = AddressBlocklist(blockSeconds: 10)
        XCTAssertEqual(list.block("10.0.0.1", nowMs: 0), 10_000)
        XCTAssertTrue(list.isBlocked("10.0.0.1", nowMs: 9_999))
        XCTAssertFalse(list.isBlocked("10.0.0.1", nowMs: 10_000))
        XCTAssertFalse(list.isBlocked("10.0.0.2", nowMs: 5_000))
        XCTAssertEqual(list.block("10.0.0.1", nowMs: 12_000), 20_000, "again soon after the block ended")
        XCTAssertEqual(list.block("10.0.0.1", nowMs: 100_000), 10_000, "long after: back to the base time")
    }

    func testConnectionLimitsCountPerAddressUntilReleased() {
        var policy = AdmissionPolicy()
        policy.maxConnections = 3
        policy.maxConnectionsPerIP = 2
        let admission = Admission(policy: policy)
        XCTAssertNil(admission.admit("10.0.0.1", nowMs: 0))
        XCTAssertNil(admission.admit("10.0.0.1", nowMs: 0))
        XCTAssertEqual(admission.admit("10.0.0.1", nowMs: 0), .tooManyFromAddress)
        XCTAssertNil(admission.admit("10.0.0.2", nowMs: 0))
        XCTAssertEqual(admission.admit("10.0.0.3", nowMs: 0), .tooManyConnections)
        admission.release("10.0.0.1")
        XCTAssertNil(admission.admit("10.0.0.3", nowMs: 0))
        XCTAssertEqual(admission.openConnections, 3)
    }

    func testHostOfEveryAddressForm() {
        XCTAssertEqual(Admission.host(of: "10.1.2.3:4567"), "10.1.2.3")
        XCTAssertEqual(Admission.host(of: "[2001:db8::1]:4711"), "2001:db8::1")
        XCTAssertEqual(Admission.host(of: "2001:db8::1"), "2001:db8::1")
        XCTAssertEqual(Admission.host(of: "10.1.2.3"), "10.1.2.3")
    }
}
