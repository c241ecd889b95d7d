#!/usr/bin/env python3
"""The network state's figures (issue 15): the node list with 20,000 nodes,
a node's series over 30 days among tens of millions of history rows, the
subscription's update latency and CPU, and what the history costs on disk.

Each command creates a fresh database from ADMIN_DATABASE_URL, applies the
migrations with the release binary (`tetcore-analytics migrate`), fills the
network tables by SQL (sending 20,000 nodes' telemetry through WebSockets
would measure the generator, not the server), starts the release server,
measures, and drops the database.

    swift build -c release --product tetcore-analytics
    export ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
    benchmarks/network.py nodes --nodes 20000 --seconds 30
    benchmarks/network.py series --rows 50000000 --requests 200
    benchmarks/network.py subscribe --nodes 20000 --updates-per-second 4000 --seconds 30
    benchmarks/network.py sizes

nodes: the chain's node rows change like a live network's (UPDATE_RATE rows
a second, by SQL, as another instance would write them), so the server's
view changes every second and the node list is re-encoded once a second;
requests come one after another on fresh connections, like API clients.

series: NODES nodes with one history row a minute for 30 days (ROWS in
all), in monthly partitions as the server makes them; requests ask a
random node's `peers` over the 30 days at a 1-hour step. Also prints the
bytes per row and per node-day of the series table with its index.

subscribe: one /subscribe client takes the 20,000-node list, then node
rows change at UPDATES_PER_SECOND (by SQL, committed with their time);
each update's latency is from its commit to the client's receipt of the
node with the new height. Server CPU per delivered update is the process's
CPU time over the run divided by the updates delivered.
"""
import argparse, asyncio, base64, json, os, random, socket, struct, subprocess, sys, threading, time
from benchlib import ROOT, psql, free_port

GENESIS = "0x91b171bb158e2d3848fa23a9f1c25182fb8e20313b2c1eb49219da7a70ce90c3"
CLOCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def fill_nodes(db_url, nodes):
    """NODES node rows of one chain, as trackers write them."""
    psql(db_url, f"""
        INSERT INTO network_node_ids (peer_id) SELECT '12D3KooWBench' || lpad(n::text, 8, '0') FROM generate_series(0, {nodes} - 1) n;
        INSERT INTO network_nodes (peer_id, peer_connection_id, genesis_hash, chain, name, implementation, version,
            target_os, target_arch, target_env, authority, startup_time, cpu, memory, core_count, linux_kernel,
            linux_distro, is_virtual_machine, cpu_hashrate_score, parallel_cpu_hashrate_score, memory_memcpy_score,
            disk_sequential_write_score, disk_random_write_score, online, connected_at, last_message_at, best_height,
            best_hash, best_at, finalized_height, finalized_hash, block_time_ms, propagation_ms, peers, txcount,
            bandwidth_download, bandwidth_upload, state_cache_size)
        SELECT '12D3KooWBench' || lpad(n::text, 8, '0'), n + 1, '{GENESIS}', 'Tetcore', 'bench-node-' || n, 'Tetcore Node',
               '0.9.' || (40 + n % 4) || '-5a1f7c2e9b4', 'linux', 'x86_64', 'gnu', n % 20 = 0, 1764580000123,
               (ARRAY['AMD Ryzen 9 7950X3D 16-Core Processor', 'Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz', 'Neoverse-N1'])[n % 3 + 1],
               (8 + n % 120)::bigint * 1048576000, 4 + n % 29, '6.1.0-' || (20 + n % 9) || '-amd64',
               'Debian GNU/Linux 12 (bookworm)', n % 4 = 0, 800 + n % 1000, 9000 + n % 20000, 10000 + n % 9000,
               300 + n % 2000, 100 + n % 600, true, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc',
               23811042 - n % 5, '0x' || md5(n::text) || md5((n + 1)::text), now() AT TIME ZONE 'utc',
               23811040 - n % 5, '0x' || md5((n + 2)::text) || md5((n + 3)::text), 6000 + n % 300, n % 900, 25 + n % 30,
               n % 12, 183214 + n, 97321 + n, 876543210
        FROM generate_series(0, {nodes} - 1) n;
        """)


BINARY = os.environ.get("SERVER_BINARY", os.path.join(ROOT, ".build/release/tetcore-analytics"))


def migrate(db_url):
    subprocess.run([BINARY, "migrate"], cwd=ROOT, env=dict(os.environ, DATABASE_URL=db_url, LOG_LEVEL="warning"), check=True)


def start_server(db_url, extra=None):
    binary = BINARY
    env = dict(os.environ, DATABASE_URL=db_url, LOG_LEVEL="warning", NODE_ID_IDLE_S="3600", **(extra or {}))
    port = free_port()
    process = subprocess.Popen([binary, "serve"], cwd=ROOT, env=dict(env, PORT=str(port), HOST="127.0.0.1"))
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, port


def get(port, path):
    """One request on a fresh connection: (status, body, seconds)."""
    begin = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(1 << 22):
            chunks.append(chunk)
    elapsed = time.perf_counter() - begin
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body, elapsed


class Updater(threading.Thread):
    """Raises `rate` node rows' best a second, round robin, by SQL in one
    statement per tenth of a second, as another instance's flush would."""

    def __init__(self, db_url, nodes, rate):
        super().__init__(daemon=True)
        self.db_url, self.nodes, self.rate = db_url, nodes, rate
        self.stop = threading.Event()
        self.commits = []  # (first node, count, height, commit time)
        self.next = 0
        self.height = 30_000_000

    def run(self):
        per_tick = max(1, self.rate // 10)
        while not self.stop.is_set():
            begin = time.monotonic()
            first, self.height = self.next, self.height + 1
            ids = [(first + i) % self.nodes for i in range(per_tick)]
            self.next = (first + per_tick) % self.nodes
            psql(self.db_url, f"""
                UPDATE network_nodes SET best_height = {self.height}, best_at = now() AT TIME ZONE 'utc',
                       last_message_at = now() AT TIME ZONE 'utc', change_xid = pg_current_xact_id()
                WHERE peer_connection_id = ANY(ARRAY[{','.join(str(i + 1) for i in ids)}])""")
            self.commits.append((ids, self.height, time.time()))
            time.sleep(max(0, 0.1 - (time.monotonic() - begin)))


class Prober(threading.Thread):
    """Asks for /healthz (answered on the loop, no query) every 20 ms while
    the node list is polled: its latency is how long the event loop was
    held by other work, such as building a 25 MB body."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stop, self.latencies = port, threading.Event(), []

    def run(self):
        while not self.stop.is_set():
            status, _, seconds = get(self.port, "/healthz")
            if status == 200:
                self.latencies.append(seconds * 1000)
            time.sleep(0.02)


def start_with_nodes(args, db_url):
    """A server on a migrated database with --nodes node rows, once its view has them all."""
    migrate(db_url)
    fill_nodes(db_url, args.nodes)
    server, port = start_server(db_url)
    while True:
        status, body, _ = get(port, f"/chains/{GENESIS}")
        if status == 200 and json.loads(body)["nodes_total"] == args.nodes:
            return server, port
        time.sleep(0.2)


def command_nodes(args, db_url):
    server, port = start_with_nodes(args, db_url)
    try:
        updater = Updater(db_url, args.nodes, args.update_rate)
        updater.start()
        time.sleep(2)
        results = {}
        for label, path in [("/chains/{g}/nodes", f"/chains/{GENESIS}/nodes"),
                            ("/chains/{g}/nodes?sort=-peers&online=true", f"/chains/{GENESIS}/nodes?sort=-peers&online=true"),
                            ("/chains", "/chains"), ("/chains/{g}", f"/chains/{GENESIS}"),
                            ("/nodes/{peer}/state", "/nodes/12D3KooWBench00004242/state")]:
            latencies, size = [], 0
            prober = Prober(port) if "nodes" in label and "state" not in label else None
            if prober: prober.start()
            deadline = time.monotonic() + (args.seconds if "nodes" in label and "state" not in label else args.seconds / 3)
            while time.monotonic() < deadline:
                status, body, seconds = get(port, path)
                assert status == 200, (status, body[:200])
                latencies.append(seconds * 1000)
                size = len(body)
            if prober:
                prober.stop.set()
                prober.join()
            results[label] = latencies
            print(f"{label:<45} {len(latencies):>6} requests  p50 {percentile(latencies, .5):7.2f} ms  "
                  f"p99 {percentile(latencies, .99):7.2f} ms  max {max(latencies):7.2f} ms  body {size / 1e6:.2f} MB", flush=True)
            if prober:
                probes = prober.latencies
                print(f"{'  meanwhile /healthz (loop stall)':<45} {len(probes):>6} requests  p50 {percentile(probes, .5):7.2f} ms  "
                      f"p99 {percentile(probes, .99):7.2f} ms  max {max(probes):7.2f} ms", flush=True)
        updater.stop.set()
        updater.join()
        print(f"node rows changing at {args.update_rate}/s by SQL throughout; {args.nodes} nodes on one chain")
    finally:
        server.terminate()
        server.wait(timeout=60)


def command_series(args, db_url):
    days = 30
    nodes = max(1, args.rows // (days * 1440))
    migrate(db_url)
    # Monthly partitions for the 30 days (the server makes this month's and
    # the next; older months exist on a server that has run that long).
    psql(db_url, """
        DO $$
        DECLARE month date;
        BEGIN
            FOR month IN SELECT generate_series(date_trunc('month', now() AT TIME ZONE 'utc') - interval '2 months',
                                                date_trunc('month', now() AT TIME ZONE 'utc'), interval '1 month')::date LOOP
                CONTINUE WHEN to_regclass('network_node_series_' || to_char(month, 'YYYYMM')) IS NOT NULL;
                EXECUTE format('CREATE TABLE %I PARTITION OF network_node_series FOR VALUES FROM (%L) TO (%L)',
                               'network_node_series_' || to_char(month, 'YYYYMM'), month::timestamp, (month + interval '1 month')::timestamp);
            END LOOP;
        END $$""")
    psql(db_url, f"INSERT INTO network_node_ids (peer_id) SELECT '12D3KooWBench' || lpad(n::text, 8, '0') FROM generate_series(0, {nodes} - 1) n")
    begin = time.monotonic()
    anchor = psql(db_url, "SELECT date_trunc('minute', now() AT TIME ZONE 'utc')")
    # Five days per statement keeps each transaction moderate.
    step = 5
    for first_day in range(0, days, step):
        psql(db_url, f"""
            INSERT INTO network_node_series (node_id, at, best_lag, finality_lag, peers, txcount, block_time_ms,
                                             bandwidth_download, bandwidth_upload)
            SELECT i.id, m.at, (i.id + m.k) % 3, 2 + (m.k % 3), 20 + (i.id + m.k) % 25, m.k % 9, 6000 + m.k % 400,
                   150000 + m.k % 50000, 90000 + m.k % 20000
            FROM network_node_ids i
            CROSS JOIN LATERAL (SELECT k, '{anchor}'::timestamp - make_interval(mins => k) AS at
                                FROM generate_series({first_day * 1440}, {min(days, first_day + step) * 1440} - 1) k) m""")
        print(f"  days {first_day}-{min(days, first_day + step) - 1} filled ({time.monotonic() - begin:.0f} s)", flush=True)
    psql(db_url, "VACUUM ANALYZE network_node_series")
    rows = int(psql(db_url, "SELECT count(*) FROM network_node_series"))
    table = int(psql(db_url, "SELECT sum(pg_table_size(relid)) FROM pg_partition_tree('network_node_series') WHERE isleaf"))
    index = int(psql(db_url, "SELECT sum(pg_relation_size(relid)) FROM pg_partition_tree('network_node_series_pkey') WHERE isleaf"))
    print(f"{rows:,} rows of {nodes} nodes over {days} days, filled in {time.monotonic() - begin:.0f} s; "
          f"table {table / 1e9:.2f} GB, primary key {index / 1e9:.2f} GB: {(table + index) / rows:.1f} bytes a row, "
          f"{(table + index) / rows * 1440 / 1e3:.0f} kB per node per day at one row a minute")
    server, port = start_server(db_url)
    try:
        rng = random.Random(7)
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days * 86400))
        for label, metric in [("peers", "peers"), ("online", "online")]:
            latencies, points = [], 0
            for _ in range(args.requests):
                peer = "12D3KooWBench" + str(rng.randrange(nodes)).zfill(8)
                status, body, seconds = get(port, f"/nodes/{peer}/series?metric={metric}&start_time={start}&step=3600")
                assert status == 200, (status, body[:200])
                latencies.append(seconds * 1000)
                points = len(json.loads(body))
            print(f"/nodes/{{peer}}/series?metric={label}, 30 days, step 3600: {args.requests} requests  "
                  f"p50 {percentile(latencies, .5):.1f} ms  p99 {percentile(latencies, .99):.1f} ms  max {max(latencies):.1f} ms  "
                  f"({points} points)", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)


def command_sizes(args, db_url):
    """Bytes a block row and a session row take, table and indexes, as the
    server writes them (series rows: the series command prints theirs)."""
    migrate(db_url)
    psql(db_url, f"""
        INSERT INTO network_blocks
        SELECT '{GENESIS}', h, '0x' || md5(h::text) || md5((h + 1)::text),
               (now() AT TIME ZONE 'utc') - make_interval(secs => ({args.blocks} - h) * 6),
               '12D3KooWBench' || lpad((h % 1000)::text, 8, '0'), 900 + h % 200, 180 + h % 50, 400 + h % 90,
               900 + h % 300, 1200 + h % 500
        FROM generate_series(1, {args.blocks}) h;
        INSERT INTO network_node_sessions (peer_connection_id, peer_id, genesis_hash, chain, name, implementation, version,
            target_os, target_arch, target_env, authority, cpu, memory, core_count, linux_kernel, linux_distro,
            is_virtual_machine, cpu_hashrate_score, parallel_cpu_hashrate_score, memory_memcpy_score,
            disk_sequential_write_score, disk_random_write_score, connected_at, last_seen_at)
        SELECT n, '12D3KooWBench' || lpad(n::text, 8, '0'), '{GENESIS}', 'Tetcore', 'bench-node-' || n, 'Tetcore Node',
               '0.9.43-5a1f7c2e9b4', 'linux', 'x86_64', 'gnu', false, 'AMD Ryzen 9 7950X3D 16-Core Processor',
               67108864000, 16, '6.1.0-27-amd64', 'Debian GNU/Linux 12 (bookworm)', false, 1712, 21540, 24880, 2210, 640,
               now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc'
        FROM generate_series(1, {args.sessions}) n""")
    psql(db_url, "VACUUM ANALYZE network_blocks")
    psql(db_url, "VACUUM ANALYZE network_node_sessions")
    for table, rows in [("network_blocks", args.blocks), ("network_node_sessions", args.sessions)]:
        size = int(psql(db_url, f"SELECT pg_total_relation_size('{table}')"))
        print(f"{table}: {rows:,} rows, {size / 1e6:.1f} MB with indexes: {size / rows:.0f} bytes a row")
    per_block = int(psql(db_url, "SELECT pg_total_relation_size('network_blocks')")) / args.blocks
    print(f"blocks: {per_block * 14400 / 1e6:.1f} MB per chain per day at 6-second blocks "
          "(one row per block, shared by all its nodes)")


def ws_frame(payload, opcode=1):
    mask = os.urandom(4)
    data = payload.encode() if isinstance(payload, str) else payload
    header = bytes([0x80 | opcode])
    header += bytes([0x80 | len(data)]) if len(data) < 126 else bytes([0x80 | 126]) + struct.pack(">H", len(data))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def read_frames(sock, buffer):
    """Whole frames in buffer: yields (opcode, payload) and keeps the rest."""
    frames = []
    while len(buffer) >= 2:
        length, offset = buffer[1] & 0x7F, 2
        if length == 126:
            if len(buffer) < 4: break
            length, offset = struct.unpack(">H", buffer[2:4])[0], 4
        elif length == 127:
            if len(buffer) < 10: break
            length, offset = struct.unpack(">Q", buffer[2:10])[0], 10
        if len(buffer) < offset + length: break
        frames.append((buffer[0] & 0x0F, bytes(buffer[offset:offset + length])))
        del buffer[:offset + length]
    return frames


def command_subscribe(args, db_url):
    server, port = start_with_nodes(args, db_url)
    try:
        sock = socket.create_connection(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(f"GET /subscribe HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        buffer = bytearray()
        while b"\r\n\r\n" not in buffer:
            buffer += sock.recv(65536)
        buffer = bytearray(buffer.split(b"\r\n\r\n", 1)[1])
        sock.sendall(ws_frame(json.dumps({"subscribe": GENESIS})))
        snapshot_begin, listed = time.time(), 0
        while listed < args.nodes:
            buffer += sock.recv(1 << 20)
            for opcode, payload in read_frames(sock, buffer):
                if opcode == 9:
                    sock.sendall(ws_frame(payload, opcode=10))
                if opcode == 1:
                    message = json.loads(payload)
                    if message.get("type") == "nodes":
                        listed += len(message["nodes"])
        print(f"node list of {listed} nodes received in {time.time() - snapshot_begin:.2f} s")
        updater = Updater(db_url, args.nodes, args.updates_per_second)
        seen = {}  # (peer number, height) -> receive time
        cpu0, wall0 = cpu_seconds(server.pid), time.monotonic()
        updater.start()
        deadline = time.monotonic() + args.seconds
        sock.settimeout(0.5)
        delivered = 0
        while time.monotonic() < deadline + 3:
            try:
                data = sock.recv(1 << 20)
            except socket.timeout:
                continue
            now = time.time()
            buffer += data
            for opcode, payload in read_frames(sock, buffer):
                if opcode == 9:
                    sock.sendall(ws_frame(payload, opcode=10))
                if opcode != 1: continue
                message = json.loads(payload)
                if message.get("type") != "nodes": continue
                for node in message["nodes"]:
                    delivered += 1
                    seen.setdefault((int(node["peer_id"][-8:]), node["best_height"]), now)
            if time.monotonic() >= deadline and not updater.stop.is_set():
                updater.stop.set()
        updater.join()
        cpu, wall = cpu_seconds(server.pid) - cpu0, time.monotonic() - wall0
        latencies = []
        for ids, height, committed in updater.commits:
            for node in ids:
                received = seen.get((node, height))
                if received is not None:
                    latencies.append((received - committed) * 1000)
        sent = sum(len(ids) for ids, _, _ in updater.commits)
        print(f"{sent} node updates committed at {args.updates_per_second}/s over {args.seconds} s; "
              f"{len(latencies)} seen by the subscriber with their height ({delivered} node objects received: "
              f"a node changed twice within a refresh is sent once, with its latest state)")
        print(f"update latency, commit to receipt: p50 {percentile(latencies, .5):.0f} ms  p90 {percentile(latencies, .9):.0f} ms  "
              f"p99 {percentile(latencies, .99):.0f} ms  max {max(latencies):.0f} ms")
        print(f"server CPU {cpu:.2f} s over {wall:.1f} s ({100 * cpu / wall:.0f} % of a core): "
              f"{cpu * 1e6 / max(1, delivered):.1f} us per node update delivered (view refresh, diff and encoding included)")
    finally:
        server.terminate()
        server.wait(timeout=60)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    nodes = commands.add_parser("nodes")
    nodes.add_argument("--nodes", type=int, default=20_000)
    nodes.add_argument("--seconds", type=float, default=30)
    nodes.add_argument("--update-rate", type=int, default=4000, help="node rows changed a second")
    series = commands.add_parser("series")
    series.add_argument("--rows", type=int, default=50_000_000)
    series.add_argument("--requests", type=int, default=200)
    sizes = commands.add_parser("sizes")
    sizes.add_argument("--blocks", type=int, default=100_000)
    sizes.add_argument("--sessions", type=int, default=100_000)
    subscribe = commands.add_parser("subscribe")
    subscribe.add_argument("--nodes", type=int, default=20_000)
    subscribe.add_argument("--updates-per-second", type=int, default=4000)
    subscribe.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    admin = os.environ.get("ADMIN_DATABASE_URL") or sys.exit("set ADMIN_DATABASE_URL (a database to create the benchmark database from)")
    db_name = f"network_bench_{os.getpid()}"
    db_url = admin.rsplit("/", 1)[0] + "/" + db_name
    psql(admin, f"CREATE DATABASE {db_name}")
    try:
        {"nodes": command_nodes, "series": command_series, "subscribe": command_subscribe, "sizes": command_sizes}[args.command](args, db_url)
    finally:
        psql(admin, f"DROP DATABASE {db_name} WITH (FORCE)")


if __name__ == "__main__":
    main()
