import Foundation
@testable import TestSupport
import XCTest

/// Schemathesis (PyPI) against the live /openapi.json: generated requests,
/// valid and not, to every operation; no 5xx, every response as
/// documented, valid requests accepted and invalid ones refused.
final class SchemathesisTests: APITestCase {
    func testEveryOperationHoldsItsDocumentUnderGeneratedRequests() throws {
        // Nodes on a chain, so that the network routes are reached with ids
        // that exist (through the document's links) as well as ones that do not.
        let nodes = try (0..<2).map { try SyntheticNode(port: server.port, peerID: "12D3KooWSchema\($0)") }
        for node in nodes { try node.interval(best: 10, finalized: 8) }
        try nodes[0].importBlock(11)
        eventually(10, "the nodes listed") { try self.nodes(SyntheticNode.genesisA).count == 2 }
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        // The CLI's entry point, called through python3 so that PATH only
        // needs the interpreter scripts/test installed it for.
        let arguments = [
            "python3", "-c", "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'schemathesis'; sys.exit(schemathesis())",
            "run", "http://127.0.0.1:\(server.port)/openapi.json", "--checks", "all", "--max-examples", "40", "--seed", "1",
            // A method http-parser does not know (QUERY, BREW…) is refused as
            // a malformed request (400) before any route is looked at; known
            // methods a route does not take get 405 with Allow.
            "--exclude-checks", "unsupported_method", "--no-color",
        ]
        // Run in this folder: schemathesis reads schemathesis.toml there.
        let run = try ChildProcess.run("/usr/bin/env", arguments, directory: directory)
        let report = run.output
        XCTAssertEqual(run.status, 0, report + "\nThe server's last output:\n" + String(server.log.suffix(4000)))
        XCTAssertTrue(report.contains("Tested: 23"), "every operation was exercised:\n\(report)")
        XCTAssertFalse(report.contains("Server error"), report)
        withExtendedLifetime(nodes) {}
    }
}
