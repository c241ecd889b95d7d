import Foundation
@testable import TestSupport
import XCTest

/// Three instances on one database behind nginx (Debian's package, set up
/// here as a WebSocket-aware reverse proxy on loopback): synthetic nodes go
/// through nginx, one instance is stopped mid-run, its nodes reconnect to
/// the others, and every message is stored exactly once, with the nodes'
/// own address as the trusted proxy forwarded it.
final class ScaleOutTests: ServerTestCase {
    private var instances: [ServerProcess] = []
    private var nginx: Process?
    private var nginxDirectory: URL?

    override func tearDown() {
        if let nginx, nginx.isRunning { nginx.terminate(); nginx.waitUntilExit() }
        for instance in instances where instance.process.isRunning { _ = instance.terminate(signal: SIGKILL) }
        if let nginxDirectory { try? FileManager.default.removeItem(at: nginxDirectory) }
        super.tearDown()
    }

    private func startNginx(upstreams: [Int]) throws -> Int {
        let executable = "/usr/sbin/nginx"
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw TestFailure("nginx is not installed (scripts/test installs Debian's nginx)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        nginxDirectory = directory
        let port = ServerProcess.freePort()
        let path = directory.path
        let config = """
            daemon off;
            master_process off;
            worker_processes 1;
            pid \(path)/nginx.pid;
            error_log \(path)/error.log warn;
            events { worker_connections 4096; }
            http {
                access_log off;
                client_body_temp_path \(path)/body;
                proxy_temp_path \(path)/proxy;
                fastcgi_temp_path \(path)/fastcgi;
                uwsgi_temp_path \(path)/uwsgi;
                scgi_temp_path \(path)/scgi;
                upstream analytics {
            \(upstreams.map { "        server 127.0.0.1:\($0) max_fails=1 fail_timeout=60s;" }.joined(separator: "\n"))
                }
                server {
                    listen 127.0.0.1:\(port);
                    location / {
                        proxy_pass http://analytics;
                        proxy_http_version 1.1;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection "upgrade";
                        proxy_set_header X-Forwarded-For $remote_addr;
                        proxy_read_timeout 300s;
                        proxy_next_upstream error timeout http_502 http_503;
                    }
                }
            }
            """
        try config.write(to: directory.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-p", path, "-c", directory.appendingPathComponent("nginx.conf").path]
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        nginx = process
        eventually(30, "nginx listening") { (try? RawClient(port: port)) != nil }
        return port
    }

    func testNodesThroughNginxSurviveAnInstanceStoppingAndEveryMessageIsStoredOnce() throws {
        _ = server.terminate() // this test runs its own three
        let environment = ["TRUST_PROXY_HEADERS": "true", "DB_SAVE_LATENCY_MS": "20"]
        for _ in 0..<3 { instances.append(try startServer(environment)) }
        let proxy = try startNginx(upstreams: instances.map(\.port))

        // No --duration: the run ends once the stopped instance's nodes are
        // seen back (a reconnect's backoff may reach seconds).
        let run = try LoadgenProcess([
            "--url", "ws://127.0.0.1:\(proxy)", "--nodes", "30", "--rate", "20",
            "--verify", database.url, "--json",
        ])
        eventually(60, "thirty nodes connected") { self.count("SELECT count(*) FROM peer_connections") >= 30 }
        eventually(60, "every node streaming") {
            self.count("SELECT count(DISTINCT peer_connection_id) FROM tetcore_logs WHERE logs->>'msg' <> 'system.connected'") == 30
        }
        let stoppedNodes = Int(try Scrape.of(instances[1])["current_tetcore_connections"] ?? -1)
        XCTAssertGreaterThan(stoppedNodes, 0, "nginx gave the instance to be stopped some nodes")
        XCTAssertEqual(instances[1].terminate(), 0, "the stopped instance flushed and exited cleanly")
        // Each node back has a second connection row.
        eventually(60, "the stopped instance's nodes reconnected") {
            self.count("SELECT count(*) FROM peer_connections") >= 30 + stoppedNodes
        }
        run.interrupt()

        XCTAssertEqual(try run.wait(), 0, run.stderr)
        let summary = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let verify = try XCTUnwrap(summary["verify"] as? [String: Any], run.stdout)
        XCTAssertEqual(verify["missing"] as? Int, 0, run.stdout)
        XCTAssertEqual(verify["duplicated"] as? Int, 0, run.stdout)
        XCTAssertGreaterThanOrEqual(summary["reconnects"] as? Int ?? 0, stoppedNodes, "the stopped instance's nodes reconnected")
        XCTAssertEqual(count("SELECT count(DISTINCT peer_id) FROM peer_connections"), 30)
        XCTAssertEqual(count("SELECT count(*) FROM peer_connections WHERE ip_addr <> '127.0.0.1'"), 0,
                       "the node's address as nginx forwarded it, not nginx's own ip:port")
        XCTAssertEqual(try instances[0].get("/readyz").status, 200)
        XCTAssertEqual(try instances[2].get("/readyz").status, 200)
        // Any instance's API sees the nodes every instance took in.
        for instance in [instances[0], instances[2]] {
            let nodes = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(instance.get("/nodes").body.utf8)) as? [[String: Any]])
            XCTAssertEqual(Set(nodes.compactMap { $0["peer_id"] as? String }).count, 30)
        }
    }
}
