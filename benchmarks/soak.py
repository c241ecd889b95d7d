#!/usr/bin/env python3
"""Soak: thousands of realistic nodes, feed clients and API queries for a long time.

Starts the server on a fresh database and, for --duration seconds, runs
tetcore-loadgen with --nodes synthetic nodes at the realistic profile (with
--verify, and --verbosity 1: the consensus and network messages of a node
run with higher telemetry verbosity, about 100 messages a minute a node),
--feeds /feed clients that stay subscribed to a few nodes and read
everything, and a trickle of API queries (--api-rate per second, in turn:
/nodes, /nodes/logs, /nodes/log_stats, /reputation, /stats/db, /metrics).
Every --sample-every seconds it records the server's resident memory
(VmRSS) and open file descriptors (/proc/PID/fd) with the rows committed
and the client-side error counts, and prints a line of the table.

Rule: the first 20 % of the run is warm-up and is not judged, and at
least until 65 s after the server reported every node connected: nodes join
over the ramp-up (a twelfth of the run, at most 30 s, later on a busy
machine) and the realistic profile's longest period is 60 s
(system.network_state), so before then the server has not yet seen every
kind of message from every node. Of the samples after it, the first window
and the last window (a fifth of them each, at least 5 samples) are
compared by their medians:
growth = (median of last - median of first) / median of first, which must
stay under 5 % for RSS and for fds. The run also fails on any 5xx, any API
request that fails, any /feed error message or feed disconnect, a feed
client that received nothing after the warm-up, a loadgen error or
reconnect, loadgen --verify reporting a missing or duplicated message, and
any error or critical line in the server's log.

The last line on stdout is a JSON summary; the exit status is 0 when every
check passed, 1 otherwise.

    swift build -c release --product tetcore-analytics --product tetcore-loadgen
    ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/soak.py --duration 1800 --nodes 5000

ADMIN_DATABASE_URL: the script creates its own database there and drops it
at the end; without it, DATABASE_URL is used as it is (its rows stay).
SERVER_BINARY and LOADGEN_BINARY pick other builds (the tests pass their
debug build).
"""
import argparse, asyncio, base64, json, os, re, resource, statistics, subprocess, sys, tempfile, time
from benchlib import ROOT, free_port, parse_metrics, psql

CLOCK = os.sysconf("SC_CLK_TCK")
GROWTH_LIMIT_PCT = 5.0
# swift-log's stream handler: "<timestamp> <level> <label> : …".
LOG_PROBLEM = re.compile(r"^\S+ (error|critical) ")
# Plain subscriptions of every feed client, on each of its nodes: kinds
# the realistic profile sends every 5-6 s, so a live client always reads.
FEED_KINDS = ("system.interval", "block.import", "afg.received_prevote")
FEED_NODES_PER_CLIENT = 3


def raise_open_file_limit():
    """Children inherit it: the server and the generator each hold a socket
    per node."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def process_sample(pid):
    """(resident KiB, open fds, CPU seconds) of a live process."""
    rss = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return rss, fds, (int(fields[11]) + int(fields[12])) / CLOCK


def server_5xx(metrics):
    """{route and status: count} of the server's 5xx answers."""
    return {k: v for k, v in metrics.items() if k.startswith("tetcore_http_requests_total{") and 'status="5' in k}


async def http_get(port, path):
    """(status, body) of one GET over a fresh connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        response = await reader.read()
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    return status, body


class FeedClient:
    """A /feed WebSocket client on asyncio streams (the standard library has
    no WebSocket): answers pings, reassembles fragments, counts what the
    server sends."""

    def __init__(self, number):
        self.number = number
        self.messages = 0
        self.items = 0
        self.errors = []
        self.disconnected = None
        self.closing = False
        self.reader = self.writer = None

    async def connect(self, port):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write((f"GET /feed HTTP/1.1\r\nHost: soak\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"feed upgrade refused: {head.splitlines()[0]!r}")

    def send(self, opcode, payload):
        """One masked frame (a client must mask)."""
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = bytes([0x80 | opcode, 0x80 | length])
        elif length < 65536:
            header = bytes([0x80 | opcode, 0x80 | 126]) + length.to_bytes(2, "big")
        else:
            header = bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big")
        self.writer.write(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    async def subscribe(self, peer_ids):
        for peer_id in peer_ids:
            for kind in FEED_KINDS:
                self.send(0x1, json.dumps({"peer_id": peer_id, "msg": kind, "interest": "subscribe"}).encode())
        await self.writer.drain()

    async def read_frame(self):
        first, second = await self.reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(await self.reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await self.reader.readexactly(8), "big")
        return first & 0x80, first & 0x0F, await self.reader.readexactly(length)

    async def read_forever(self):
        message = b""
        try:
            while True:
                final, opcode, payload = await self.read_frame()
                if opcode == 0x9:
                    self.send(0xA, payload)
                    await self.writer.drain()
                elif opcode == 0x8:
                    code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                    if not self.closing:
                        self.disconnected = f"close frame {code}"
                    return
                elif opcode in (0x0, 0x1, 0x2):
                    message += payload
                    if final:
                        self.take(message)
                        message = b""
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            if not self.closing:
                self.disconnected = f"connection lost: {error!r}"

    def take(self, message):
        self.messages += 1
        try:
            body = json.loads(message)
        except ValueError:
            self.errors.append(f"not JSON: {message[:80]!r}")
            return
        if "error" in body:
            self.errors.append(str(body["error"]))
        else:
            self.items += len(body.get("data", []))

    async def close(self):
        self.closing = True
        try:
            self.send(0x8, (1000).to_bytes(2, "big"))
            await self.writer.drain()
        except ConnectionError:
            pass


class ApiTrickle:
    """Queries the API in turn at a steady rate; counts statuses."""

    def __init__(self, port, rate):
        self.port = port
        self.rate = rate
        self.peer_ids = []
        self.requests = 0
        self.failures = []
        self.status_5xx = 0

    def paths(self, turn):
        peer = self.peer_ids[turn % len(self.peer_ids)]
        return ["/nodes", f"/nodes/logs?peer_id={peer}&limit=100", f"/nodes/log_stats?peer_id={peer}",
                "/reputation?limit=100", "/stats/db", "/metrics"][turn % 6]

    async def run(self, until):
        turn = 0
        while time.monotonic() < until:
            path = self.paths(turn)
            started = time.monotonic()
            try:
                status, _ = await http_get(self.port, path)
                if status >= 500:
                    self.status_5xx += 1
                if status != 200:
                    self.failures.append(f"{path}: {status}")
            except (OSError, asyncio.IncompleteReadError) as error:
                self.failures.append(f"{path}: {error!r}")
            self.requests += 1
            turn += 1
            await asyncio.sleep(max(0.0, 1 / self.rate - (time.monotonic() - started)))


def judge_growth(samples, key, warmup_s):
    """Medians of the first and last window after the warm-up, and the
    growth between them in percent."""
    after = [s[key] for s in samples if s["t"] >= warmup_s]
    window = max(5, len(after) // 5)
    if len(after) < 2 * window:
        return None, None, None
    first, last = statistics.median(after[:window]), statistics.median(after[-window:])
    return first, last, (last - first) / first * 100 if first else None


async def soak(args, port, server, db_url):
    loadgen_binary = os.environ.get("LOADGEN_BINARY", os.path.join(ROOT, ".build/release/tetcore-loadgen"))
    ramp_up = args.ramp_up
    loadgen_out = tempfile.TemporaryFile()
    loadgen_err = tempfile.TemporaryFile()
    loadgen = subprocess.Popen(
        [loadgen_binary, "--url", f"ws://127.0.0.1:{port}/", "--nodes", str(args.nodes), "--profile", "realistic",
         "--verbosity", "1",
         "--duration", f"{args.duration}s", "--ramp-up", f"{ramp_up}s", "--seed", str(args.seed),
         "--verify", db_url, "--verify-timeout", f"{args.verify_timeout}s", "--json", "--no-progress"],
        cwd=ROOT, stdout=loadgen_out, stderr=loadgen_err)
    start = time.monotonic()
    end = start + args.duration
    # The 503s of /readyz while the server was starting do not count.
    _, body = await http_get(port, "/metrics")
    initial_5xx = server_5xx(parse_metrics(body.decode()))
    api = ApiTrickle(port, args.api_rate)
    feeds = [FeedClient(number) for number in range(args.feeds)]
    for feed in feeds:
        await feed.connect(port)
    readers = [asyncio.create_task(feed.read_forever()) for feed in feeds]
    api_task = None

    samples = []
    subscribed = False
    feed_items_at_warmup = None
    last_cpu, last_rows, last_t = None, 0, 0.0
    print(f"{'t s':>6} {'RSS MiB':>8} {'fds':>6} {'nodes':>6} {'rows':>11} {'rows/s':>7} {'buffered':>8} "
          f"{'CPU %':>6} {'load1':>5} {'feed items':>10} {'API req':>7} {'API err':>7}", flush=True)
    next_sample = start
    while True:
        now = time.monotonic()
        if now >= end:
            break
        await asyncio.sleep(min(next_sample, end) - now if next_sample > now else 0)
        t = time.monotonic() - start
        rss, fds, cpu = process_sample(server.pid)
        _, body = await http_get(port, "/metrics")
        metrics = parse_metrics(body.decode())
        rows = int(metrics.get("tetcore_rows_written_total", 0))
        nodes = int(metrics.get("current_tetcore_connections", 0))
        if not subscribed and nodes >= args.nodes:
            # Every node has connected (as the server counts them, however
            # long the ramp-up took): feed clients follow a few of them and
            # the API queries ask about all of them in turn; the warm-up
            # lasts until every node has sent every kind of message.
            args.warmup = max(args.warmup, t + 65)
            _, listing = await http_get(port, "/nodes")
            ids = sorted(n["peer_id"] for n in json.loads(listing) if n.get("peer_id"))
            api.peer_ids = ids
            api_task = asyncio.create_task(api.run(end))
            for feed in feeds:
                chosen = ids[feed.number * FEED_NODES_PER_CLIENT:(feed.number + 1) * FEED_NODES_PER_CLIENT]
                await feed.subscribe(chosen)
            subscribed = True
        if feed_items_at_warmup is None and subscribed and t >= args.warmup:
            feed_items_at_warmup = [feed.items for feed in feeds]
        cpu_pct = (cpu - last_cpu) / (t - last_t) * 100 if last_cpu is not None and t > last_t else 0.0
        rate = (rows - last_rows) / (t - last_t) if t > last_t else 0.0
        sample = {"t": round(t, 1), "rss_kib": rss, "fds": fds, "nodes": nodes, "rows": rows,
                  "buffered_rows": int(metrics.get("tetcore_buffered_rows", 0)), "cpu_pct": round(cpu_pct, 1),
                  "load1": os.getloadavg()[0], "feed_items": sum(f.items for f in feeds),
                  "api_requests": api.requests, "api_failures": len(api.failures)}
        samples.append(sample)
        print(f"{t:6.0f} {rss / 1024:8.1f} {fds:6d} {nodes:6d} {rows:11,d} {rate:7.0f} {sample['buffered_rows']:8d} "
              f"{cpu_pct:6.1f} {sample['load1']:5.2f} {sample['feed_items']:10d} {api.requests:7d} "
              f"{len(api.failures):7d}", flush=True)
        last_cpu, last_rows, last_t = cpu, rows, t
        next_sample += args.sample_every

    if api_task:
        await api_task
    # The generator stops its nodes, then verifies: the feeds stay until then.
    while loadgen.poll() is None:
        await asyncio.sleep(0.5)
    _, body = await http_get(port, "/metrics")
    final_metrics = parse_metrics(body.decode())
    final_metrics["5xx"] = {k: v - initial_5xx.get(k, 0) for k, v in server_5xx(final_metrics).items()
                            if v > initial_5xx.get(k, 0)}
    for feed in feeds:
        await feed.close()
    await asyncio.wait(readers, timeout=5)
    loadgen_out.seek(0)
    loadgen_err.seek(0)
    report_text = loadgen_out.read().decode().strip()
    try:
        report = json.loads(report_text.splitlines()[-1])
    except (ValueError, IndexError):
        report = {"failure": f"no JSON summary; stderr: {loadgen_err.read().decode()[-500:]}"}
    return samples, report, loadgen.returncode, api, feeds, feed_items_at_warmup, final_metrics


def summarise(args, samples, report, loadgen_status, api, feeds, feed_items_at_warmup, metrics, log_path):
    failures = []
    summary = {"duration_s": args.duration, "nodes": args.nodes, "ramp_up_s": args.ramp_up, "warmup_s": args.warmup,
               "sample_every_s": args.sample_every, "samples": len(samples)}
    for key, name in (("rss_kib", "rss"), ("fds", "fds")):
        first, last, growth = judge_growth(samples, key, args.warmup)
        summary[f"{name}_first"], summary[f"{name}_last"] = first, last
        summary[f"{name}_growth_pct"] = None if growth is None else round(growth, 2)
        if growth is None:
            failures.append(f"{name}: too few samples after the warm-up to judge growth")
        elif growth >= GROWTH_LIMIT_PCT:
            failures.append(f"{name} grew {growth:.2f} % (median {first:g} → {last:g})")
    summary["rss_peak_kib"] = max((s["rss_kib"] for s in samples), default=0)
    nodes_peak = max((s["nodes"] for s in samples), default=0)
    if nodes_peak < args.nodes:
        failures.append(f"the server never had all {args.nodes} nodes connected (at most {nodes_peak}): nothing judged after them")
    summary["rows_written"] = int(metrics.get("tetcore_rows_written_total", 0))

    verify = report.get("verify", {})
    summary["loadgen"] = {
        "exit_status": loadgen_status, "messages": report.get("messages"), "connected_peak": report.get("nodes", {}).get("connected_peak"),
        "errors": report.get("errors"), "reconnects": report.get("reconnects"), "throttled": report.get("throttled"),
        "stored": verify.get("stored"), "missing": verify.get("missing"), "duplicated": verify.get("duplicated"),
        "timed_out": verify.get("timed_out"), "delay_p50_ms": verify.get("delay_p50_ms"),
        "delay_p99_ms": verify.get("delay_p99_ms"), "failure": report.get("failure") or verify.get("failure")}
    if loadgen_status != 0:
        failures.append(f"tetcore-loadgen exited with {loadgen_status}")
    if summary["loadgen"]["failure"]:
        failures.append(f"tetcore-loadgen: {summary['loadgen']['failure']}")
    if report.get("errors"):
        failures.append(f"tetcore-loadgen errors: {report['errors']}")
    if report.get("reconnects"):
        failures.append(f"tetcore-loadgen reconnected {report['reconnects']} times")
    if verify.get("missing") != 0 or verify.get("duplicated") != 0 or verify.get("timed_out"):
        failures.append(f"verify: {verify.get('missing')} missing, {verify.get('duplicated')} duplicated, "
                        f"timed out: {verify.get('timed_out')}")

    summary["api"] = {"requests": api.requests, "failures": len(api.failures), "status_5xx": api.status_5xx,
                      "server_5xx": int(sum(metrics["5xx"].values()))}
    if api.failures:
        failures.append(f"{len(api.failures)} API requests failed, e.g. {api.failures[:3]}")
    if metrics["5xx"]:
        failures.append(f"the server answered with 5xx: {metrics['5xx']}")

    summary["feed"] = {"clients": len(feeds), "messages": sum(f.messages for f in feeds),
                       "items": sum(f.items for f in feeds), "errors": sum(len(f.errors) for f in feeds),
                       "disconnects": sum(1 for f in feeds if f.disconnected)}
    for feed in feeds:
        if feed.errors:
            failures.append(f"feed client {feed.number}: {len(feed.errors)} errors, e.g. {feed.errors[0]}")
        if feed.disconnected:
            failures.append(f"feed client {feed.number} disconnected: {feed.disconnected}")
        if feed_items_at_warmup is not None and feed.items <= feed_items_at_warmup[feed.number]:
            failures.append(f"feed client {feed.number} received nothing after the warm-up")

    problems, warnings = [], 0
    with open(log_path, errors="replace") as log:
        for line in log:
            if LOG_PROBLEM.match(line):
                problems.append(line.strip())
            elif " warning " in line:
                warnings += 1
    summary["server_log"] = {"errors": len(problems), "warnings": warnings}
    if problems:
        failures.append(f"{len(problems)} error lines in the server log, e.g. {problems[0][:200]}")
    summary["failures"] = failures
    summary["ok"] = not failures
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=1800, help="seconds of load")
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--feeds", type=int, default=5, help="/feed clients")
    parser.add_argument("--api-rate", type=float, default=3, help="API requests per second")
    parser.add_argument("--sample-every", type=float, help="seconds between samples (default: duration / 120, 1 to 10)")
    parser.add_argument("--seed", type=int, default=1, help="tetcore-loadgen's seed")
    parser.add_argument("--verify-timeout", type=int, default=300, help="seconds --verify may wait for rows")
    args = parser.parse_args()
    args.ramp_up = min(30.0, args.duration / 12)
    args.warmup = max(args.ramp_up + 65, args.duration * 0.2)
    if args.sample_every is None:
        args.sample_every = min(10.0, max(1.0, args.duration / 120))
    if args.duration < args.warmup + 10 * args.sample_every:
        sys.exit(f"--duration {args.duration} leaves too few samples after the {args.warmup:g} s warm-up")

    admin = os.environ.get("ADMIN_DATABASE_URL")
    if admin:
        db_name = f"soak_{os.getpid()}"
        db_url = admin.rsplit("/", 1)[0] + "/" + db_name
        psql(admin, f"CREATE DATABASE {db_name}")
    else:
        db_url = os.environ.get("DATABASE_URL") or sys.exit("set ADMIN_DATABASE_URL (or DATABASE_URL)")
    limit = raise_open_file_limit()
    if limit < args.nodes + 1024:
        print(f"warning: open file limit {limit} is low for {args.nodes} nodes", file=sys.stderr)

    port = free_port()
    env = dict(os.environ, DATABASE_URL=db_url, PORT=str(port), HOST="127.0.0.1", LOG_LEVEL="warning")
    # The feed's caches keep CACHE_EXPIRY_S of rows by design (an hour by
    # default), so in a shorter run they grow all along. Five minutes lets
    # them reach their steady size within the warm-up; the environment wins.
    env.setdefault("CACHE_EXPIRY_S", "300")
    # Likewise the blocks of the propagation window (five minutes by default,
    # every node's import of each): 20 s fills within the warm-up.
    env.setdefault("NETWORK_PROPAGATION_WINDOW_S", "20")
    # And the history step (a minute by default), whose first rows for
    # thousands of nodes take a few MB the later steps reuse: every 10 s,
    # the first steps fall in the warm-up.
    env.setdefault("NETWORK_SERIES_STEP_S", "10")
    binary = os.environ.get("SERVER_BINARY", os.path.join(ROOT, ".build/release/tetcore-analytics"))
    log_file = tempfile.NamedTemporaryFile("w", suffix=".log", prefix="soak-server-", delete=False)
    server = subprocess.Popen([binary, "serve"], cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            try:
                if asyncio.run(http_get(port, "/readyz"))[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            sys.exit("the server did not become ready")
        results = asyncio.run(soak(args, port, server, db_url))
    finally:
        server.terminate()
        server.wait(timeout=60)
        log_file.close()
        if admin:
            psql(admin, f"DROP DATABASE {db_name} WITH (FORCE)")
    summary = summarise(args, *results, log_file.name)
    summary["server_exit_status"] = server.returncode
    if server.returncode != 0:
        summary["failures"].append(f"the server exited with {server.returncode} on SIGTERM")
        summary["ok"] = False
    for failure in summary["failures"]:
        print(f"FAIL: {failure}", file=sys.stderr)
    if summary["ok"]:
        os.unlink(log_file.name)
    else:
        summary["server_log"]["path"] = log_file.name
    print(json.dumps(summary, separators=(",", ":")), flush=True)
    sys.exit(0 if summary["ok"] else 1)


if __name__ == "__main__":
    main()
