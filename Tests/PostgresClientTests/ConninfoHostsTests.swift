@testable import PostgresClient
import XCTest

/// The hosts of a conninfo, reordered and resolved as the connection does
/// before libpq sees them.
final class ConninfoHostsTests: XCTestCase {
    private func keywords(_ hosts: ConninfoHosts?) -> [String: String] {
        Dictionary(uniqueKeysWithValues: (hosts?.keywords ?? []).map { ($0.keyword, $0.value) })
    }

    func testHostsRotateWithTheirPorts() throws {
        let hosts = try XCTUnwrap(ConninfoHosts(conninfo: "postgres://u@a:1,b:2,c:3/db?target_session_attrs=read-write"))
        XCTAssertEqual(hosts.rotated(by: 3), hosts, "a full turn: the order given")
        XCTAssertEqual(keywords(hosts.rotated(by: 4)), ["host": "b,c,a", "hostaddr": ",,", "port": "2,3,1"])
        let shared = ConninfoHosts(conninfo: "host=a,b port=5432")?.rotated(by: 1)
        XCTAssertEqual(keywords(shared), ["host": "b,a", "hostaddr": ",", "port": "5432"],
                       "one port for every host stays one port")
    }

    func testOnlyNamesWithoutAnAddressAreLookedUpEachOnce() {
        let hosts = ConninfoHosts(conninfo: "host=db1,127.0.0.1,/run/postgresql,db2,db1,::1,db3 hostaddr=,,,,,,10.0.0.3")
        XCTAssertEqual(hosts?.namesToResolve, ["db1", "db2"])
        XCTAssertNil(ConninfoHosts(conninfo: "dbname=x"), "no host: libpq's defaults")
        XCTAssertNil(ConninfoHosts(conninfo: "host=a,b hostaddr=1.2.3.4"), "mismatched lists are libpq's to refuse")
    }

    func testResolvedNamesBecomeOneEntryPerAddressInOrder() throws {
        let hosts = try XCTUnwrap(ConninfoHosts(conninfo: "postgres://u@primary:5433,10.0.0.9:5434,gone:5435/db"))
        let resolved = hosts.resolved(["primary": ["10.0.0.1", "10.0.0.2"]])
        XCTAssertEqual(keywords(resolved), [
            "host": "primary,primary,10.0.0.9",
            "hostaddr": "10.0.0.1,10.0.0.2,",
            "port": "5433,5433,5434",
        ], "a name that did not resolve is dropped")
        let single = try XCTUnwrap(ConninfoHosts(conninfo: "postgres://u@localhost:6000/db"))
        XCTAssertEqual(keywords(single.resolved(["localhost": ["127.0.0.1", "::1"]])),
                       ["host": "localhost,localhost", "hostaddr": "127.0.0.1,::1", "port": "6000,6000"])
        let noPort = try XCTUnwrap(ConninfoHosts(conninfo: "host=localhost dbname=x"))
        XCTAssertEqual(keywords(noPort.resolved(["localhost": ["127.0.0.1", "::1"]])),
                       ["host": "localhost,localhost", "hostaddr": "127.0.0.1,::1"])
    }
}
