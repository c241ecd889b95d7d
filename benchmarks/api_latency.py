#!/usr/bin/env python3
"""Latency of the JSON query API over a large database.

Creates a fresh database from ADMIN_DATABASE_URL, applies the migrations
with the release binary (`tetcore-analytics migrate`), fills it with ROWS
telemetry rows from NODES synthetic nodes, then starts the release server
and sends REQUESTS requests to each endpoint one after another on a
keep-alive connection, printing p50/p99/max in milliseconds.

The rows are made by SQL (generate_series) straight into the tables, with
the log table's secondary indexes dropped during the fill and built after
it, because sending 10 million messages through the WebSocket path would
take far longer than the measurement itself; the rows have the shape that
path stores. Each node has two connections (a restart halfway), sends one
message a second, and every 60th is a system.network_state whose peerset
holds PEERSET entries (peer ids of other synthetic nodes and of unknown
ones), so the newest network state of every node is under a minute old.

    swift build -c release --product tetcore-analytics
    ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/api_latency.py --rows 10000000

--compare-binary PATH runs a second server, built at PATH, on the same
database, and sends each request to both, alternately (which goes first
alternates too), so the two builds are measured on the same rows at the
same moments; it prints one table per build. COMPARE_MIGRATIONS_PATH is the
MIGRATIONS_PATH of that build (for an older build that must not see newer
migrations; the database is migrated by SERVER_BINARY first).
"""
import argparse, http.client, json, os, random, socket, subprocess, sys, time
from benchlib import ROOT, psql


def fill(db_url, nodes, rows, peerset, anchor):
    """The newest rows are from `anchor` (Unix seconds)."""
    per_node = rows // nodes
    psql(db_url, f"""
        INSERT INTO peer_connections (id, ip_addr, peer_id, created_at, name, chain, version, authority, startup_time, implementation)
        SELECT c + 1, '10.0.' || (c % {nodes} / 256) || '.' || (c % {nodes} % 256) || ':30333',
               'synthetic' || lpad((c % {nodes})::text, 6, '0'),
               (to_timestamp({anchor}) AT TIME ZONE 'utc') - make_interval(secs => {per_node} - CASE WHEN c < {nodes} THEN 0 ELSE {per_node} / 2 END),
               'node-' || (c % {nodes}), 'Tetcore', '1.2.' || (c % 7), c % 10 = 0, 1700000000000 + c, 'tetcore-node'
        FROM generate_series(0, {2 * nodes - 1}) c;
        SELECT setval('peer_connections_id_seq', {2 * nodes});
        """)
    # 50 network states to draw from: PEERSET entries each, mostly peers
    # that report here, some that do not. Compressed with tetcore_logs.logs'
    # method: the fill copies them as they are, compressed.
    method = psql(db_url, "SELECT CASE attcompression WHEN 'l' THEN 'lz4' ELSE 'pglz' END FROM pg_attribute "
                          "WHERE attrelid = 'tetcore_logs'::regclass AND attname = 'logs'")
    psql(db_url, f"""
        SET default_toast_compression = {method};
        CREATE TABLE bench_states AS
        SELECT t, jsonb_build_object(
                 'msg', 'system.network_state',
                 'state', jsonb_build_object(
                   'averageDownloadPerSec', 21892 + t, 'averageUploadPerSec', 21208 + t,
                   'externalAddresses', jsonb_build_array('/ip4/10.0.0.' || t || '/tcp/30333'),
                   'peerId', 'x',
                   'peerset', jsonb_build_object('message_queue', 0, 'reserved_only', false, 'nodes',
                     (SELECT jsonb_object_agg(
                               CASE WHEN p % 5 = 0 THEN '12D3KooWunknown' || lpad((p * 7919 + t)::text, 10, '0')
                                    ELSE 'synthetic' || lpad(((p * 7919 + t * 31) % {nodes})::text, 6, '0') END,
                               jsonb_build_object('connected', p % 4 = 0, 'reputation', -((p * t) % 5000)))
                      FROM generate_series(1, {peerset}) p)))) AS logs
        FROM generate_series(0, 49) t;
        """)
    # Since Migrations/0012 the writer also stores a network state's peerset
    # hashes; so does the fill, when the column exists.
    hashes = psql(db_url, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'tetcore_logs'::regclass "
                          "AND attname = 'peerset_hashes'") == "1"
    if hashes:
        psql(db_url, "ALTER TABLE bench_states ADD COLUMN hashes integer[]; UPDATE bench_states SET hashes = tetcore_peerset_hashes(logs)")
    kept = psql(db_url, "SELECT string_agg(indexdef, ';') FROM pg_indexes WHERE tablename = 'tetcore_logs' AND indexname <> 'tetcore_logs_pkey'")
    for name in psql(db_url, "SELECT indexname FROM pg_indexes WHERE tablename = 'tetcore_logs' AND indexname <> 'tetcore_logs_pkey'").split():
        psql(db_url, f"DROP INDEX {name}")
    # Daily partitions over the rows' days (the server makes them ahead for
    # live data), so the rows are laid out as ingestion would lay them out.
    psql(db_url, f"SELECT tetcore_create_log_partitions({int(per_node / 86400) + 2}, "
                 f"((to_timestamp({anchor}) AT TIME ZONE 'utc') - make_interval(secs => {per_node}))::date)")
    start = time.monotonic()
    # Row g is message k of node n, in time order as ingestion writes them.
    psql(db_url, f"""
        SET synchronous_commit = off;
        INSERT INTO tetcore_logs (created_at, logs, peer_connection_id{", peerset_hashes" if hashes else ""})
        SELECT (to_timestamp({anchor}) AT TIME ZONE 'utc') - make_interval(secs => {per_node} - k) + make_interval(secs => n / 1000.0),
               CASE WHEN k % 60 = n % 60 THEN (SELECT s.logs FROM bench_states s WHERE s.t = (k + n) % 50)
                    ELSE CASE k % 6
                      WHEN 0 THEN jsonb_build_object('msg', 'system.interval', 'peers', 25 + n % 20, 'height', k,
                                  'best', md5(k::text), 'finalized_height', k - 2, 'txcount', n % 3,
                                  'bandwidth_download', 20000 + k % 977, 'bandwidth_upload', 18000 + k % 911)
                      WHEN 1 THEN jsonb_build_object('msg', 'block.import', 'height', k, 'best', md5(k::text),
                                  'origin', 'NetworkInitialSync')
                      WHEN 2 THEN jsonb_build_object('msg', 'notify.finalized', 'height', (k - 2)::text, 'best', md5((k - 2)::text))
                      WHEN 3 THEN jsonb_build_object('msg', 'tracing.profiling', 'target', 'pallet_babe',
                                  'name', 'on_initialize', 'time', 1000 + k % 5000)
                      WHEN 4 THEN jsonb_build_object('msg', 'tracing.profiling', 'target', 'NetworkInitialSync',
                                  'name', 'import_block', 'time', 3000 + k % 7000)
                      ELSE jsonb_build_object('msg', 'txpool.import', 'ready', k % 50, 'future', 0)
                    END || jsonb_build_object('ts', to_char((to_timestamp({anchor}) AT TIME ZONE 'utc') - make_interval(secs => {per_node} - k),
                                                            'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
               END,
               CASE WHEN k < {per_node} / 2 THEN n + 1 ELSE {nodes} + n + 1 END
               {", CASE WHEN k % 60 = n % 60 THEN (SELECT s.hashes FROM bench_states s WHERE s.t = (k + n) % 50) END" if hashes else ""}
        FROM generate_series(0, {per_node} - 1) k, generate_series(0, {nodes} - 1) n;
        """)
    filled = time.monotonic() - start
    timings = []
    # On a partitioned table pg_indexes says "ON ONLY" (the parent alone);
    # built again after the fill, each index must reach every partition.
    for definition in (d.replace(" ON ONLY ", " ON ") for d in kept.split(";")):
        begin = time.monotonic()
        psql(db_url, "SET maintenance_work_mem = '512MB'; " + definition)
        timings.append((definition.split(" ON ")[0].replace("CREATE INDEX ", ""), time.monotonic() - begin))
    psql(db_url, "DROP TABLE bench_states")
    psql(db_url, "VACUUM ANALYZE")
    return filled, timings


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--peerset", type=int, default=200, help="entries in each network state's peerset")
    parser.add_argument("--requests", type=int, default=200, help="requests per endpoint")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", metavar="DATABASE", help="measure a database filled (and kept) by an earlier run")
    parser.add_argument("--compare-binary", metavar="PATH", help="also measure the server built at PATH, request by request")
    args = parser.parse_args()
    admin = os.environ.get("ADMIN_DATABASE_URL") or sys.exit("set ADMIN_DATABASE_URL (a database to create the benchmark database from)")
    db_name = args.reuse or f"api_bench_{os.getpid()}"
    db_url = admin.rsplit("/", 1)[0] + "/" + db_name
    binary = os.environ.get("SERVER_BINARY", os.path.join(ROOT, ".build/release/tetcore-analytics"))
    if not args.reuse:
        psql(admin, f"CREATE DATABASE {db_name}")
    servers = []
    try:
        env = dict(os.environ, DATABASE_URL=db_url, LOG_LEVEL="warning")
        subprocess.run([binary, "migrate"], cwd=ROOT, env=env, check=True)
        if args.reuse:
            anchor = float(psql(db_url, "SELECT extract(epoch FROM max(created_at)) FROM tetcore_logs"))
            args.nodes = int(psql(db_url, "SELECT count(DISTINCT peer_id) FROM peer_connections"))
            filled, index_timings = 0.0, []
            psql(db_url, "TRUNCATE benchmark_events, benchmarks, host_systems RESTART IDENTITY")
        else:
            anchor = float(psql(db_url, "SELECT extract(epoch FROM now())"))
            filled, index_timings = fill(db_url, args.nodes, args.rows, args.peerset, anchor)
        stored = int(psql(db_url, "SELECT count(*) FROM tetcore_logs"))
        states = int(psql(db_url, "SELECT count(*) FROM tetcore_logs WHERE logs->>'msg' = 'system.network_state'"))
        state_bytes = int(psql(db_url, "SELECT avg(pg_column_size(logs::text))::int FROM tetcore_logs "
                                       "WHERE logs->>'msg' = 'system.network_state' AND id % 100 = 0"))
        how = "reused" if args.reuse else f"filled by SQL in {filled:.0f} s:"
        args.peerset = int(psql(db_url, "SELECT count(*) FROM jsonb_object_keys((SELECT logs->'state'->'peerset'->'nodes' "
                                        "FROM tetcore_logs WHERE logs->>'msg' = 'system.network_state' LIMIT 1))"))
        print(f"{how} {stored:,} rows from {args.nodes} nodes; "
              f"{states:,} system.network_state rows of ~{state_bytes:,} bytes of JSON ({args.peerset} peerset entries)")
        for name, seconds in index_timings:
            print(f"  index {name} built in {seconds:.1f} s")
        print("  database size:", psql(db_url, "SELECT pg_size_pretty(pg_database_size(current_database()))"))

        builds = [("this build", binary, env)]
        if args.compare_binary:
            other_env = dict(env)
            if os.environ.get("COMPARE_MIGRATIONS_PATH"):
                other_env["MIGRATIONS_PATH"] = os.environ["COMPARE_MIGRATIONS_PATH"]
            builds.append((args.compare_binary, args.compare_binary, other_env))
        connections = []
        for _, path, build_env in builds:
            port = socket.socket(); port.bind(("127.0.0.1", 0)); free = port.getsockname()[1]; port.close()
            servers.append(subprocess.Popen([path, "serve"], cwd=ROOT, env=dict(build_env, PORT=str(free), HOST="127.0.0.1")))
            connection = http.client.HTTPConnection("127.0.0.1", free, timeout=60)
            for _ in range(300):
                try:
                    connection.request("GET", "/readyz")
                    response = connection.getresponse(); response.read()
                    if response.status == 200:
                        break
                except OSError:
                    connection.close()
                time.sleep(0.1)
            connections.append(connection)
        connection = connections[0]
        connection.request("POST", "/host_systems", body=json.dumps({"description": "bench", "os": "linux", "cpu_qty": 2,
                           "cpu_clock": 3000, "ram_mb": 8192, "disk_info": "ssd"}), headers={"Content-Type": "application/json"})
        connection.getresponse().read()
        # The data ends at `anchor`, which is minutes ago once the fill is
        # done: windows are placed relative to it.
        window_start = psql(db_url, f"SELECT to_char((to_timestamp({anchor}) AT TIME ZONE 'utc') - interval '10 minutes', "
                                    "'YYYY-MM-DD\"T\"HH24:MI:SS')")
        # Reputation windows reach 60 s back from the newest data, however
        # long ago the fill ended.
        max_age = lambda: int(time.time() - anchor) + 60
        connection.request("POST", "/benchmarks", body=json.dumps({"benchmark_spec": {}, "chain_spec": {}, "description": "b",
                           "host_system_id": 1, "ts_start": window_start, "ts_end": "2999-01-01T00:00:00",
                           "peer_id": "synthetic000001"}), headers={"Content-Type": "application/json"})
        connection.getresponse().read()

        rng = random.Random(4)
        peer = lambda: "synthetic" + str(rng.randrange(args.nodes)).zfill(6)
        # The fill's names for peers that do not report (see fill()).
        rare_peer = lambda: "12D3KooWunknown" + str(5 * rng.randrange(1, args.peerset // 5 + 1) * 7919 + 2 * rng.randrange(25)).zfill(10)
        absent_peer = lambda: "12D3KooWabsent" + str(rng.randrange(10 ** 9)).zfill(10)
        endpoints = [
            ("/nodes", lambda: "/nodes"),
            ("/nodes/log_stats?peer_id=P", lambda: f"/nodes/log_stats?peer_id={peer()}"),
            ("/nodes/logs?peer_id=P&limit=100", lambda: f"/nodes/logs?peer_id={peer()}&limit=100"),
            ("/nodes/logs?peer_id=P&msg=block.import&limit=100", lambda: f"/nodes/logs?peer_id={peer()}&msg=block.import&limit=100"),
            ("/nodes/logs?peer_id=P&target=pallet_babe&start_time=-10min&limit=100",
             lambda: f"/nodes/logs?peer_id={peer()}&target=pallet_babe&start_time={window_start}&limit=100"),
            ("/reputation?max_age_s=60+data age", lambda: f"/reputation?max_age_s={max_age()}"),
            ("/reputation/logged?max_age_s=60+data age", lambda: f"/reputation/logged?max_age_s={max_age()}"),
            ("/reputation/P?start_time=-10min", lambda: f"/reputation/{peer()}?start_time={window_start}"),
            ("/reputation/P (limit 1000, no window)", lambda: f"/reputation/{peer()}"),
            # Peers that the stored network states name less often or never:
            # an unknown peer of one of the fill's peersets (the rows use 25
            # of the 50: the even ones), and a peer id no peerset holds.
            ("/reputation/Q (in 1 network state of 25, no window)", lambda: f"/reputation/{rare_peer()}"),
            ("/reputation/U (in none, no window)", lambda: f"/reputation/{absent_peer()}"),
            ("/reputation/U?start_time=-10min", lambda: f"/reputation/{absent_peer()}?start_time={window_start}"),
            ("/stats/db", lambda: "/stats/db"),
            ("/benchmarks/1/targets", lambda: "/benchmarks/1/targets"),
        ]
        tables = [[] for _ in builds]
        for label, target in endpoints:
            latencies, size = [[] for _ in builds], 0
            # A tenth of the requests for the per-peer reputation, which
            # reads stored network states until enough name the peer (see docs/performance.md).
            count = args.requests if not label.startswith("/reputation/P") else max(20, args.requests // 10)
            for n in range(count):
                path = target()
                order = list(range(len(builds)))
                if n % 2:
                    order.reverse()
                for b in order:
                    # A keep-alive connection idle while the other server
                    # answered may have been closed by its server: the
                    # request is then sent again on a new one, and only
                    # that attempt is timed.
                    for attempt in (1, 2):
                        try:
                            begin = time.perf_counter()
                            connections[b].request("GET", path)
                            response = connections[b].getresponse()
                            body = response.read()
                            break
                        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                            connections[b].close()
                            if attempt == 2:
                                raise
                    latencies[b].append((time.perf_counter() - begin) * 1000)
                    if response.status != 200:
                        raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
                    size = max(size, len(body))
            for b in range(len(builds)):
                tables[b].append(f"{label:<72} {percentile(latencies[b], 0.5):8.2f} {percentile(latencies[b], 0.99):8.2f} "
                                 f"{max(latencies[b]):8.2f} {size / 1000:8.1f}")
        for (name, _, _), rows in zip(builds, tables):
            if len(builds) > 1:
                print(f"-- {name}")
            print(f"{'endpoint':<72} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'body kB':>8}")
            print("\n".join(rows))
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=60)
        if not args.keep and not args.reuse:
            psql(admin, f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")


if __name__ == "__main__":
    main()
