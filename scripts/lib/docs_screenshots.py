#!/usr/bin/env python3
"""Screenshots of every dashboard for docs/screenshots/, from a fleet that
looks like one an operator runs.

    swift build                    # or swift build -c release, then --release
    export ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
    scripts/lib/docs_screenshots.py [--minutes 9] [--nodes 40] [--release]

Creates a fresh database from ADMIN_DATABASE_URL (dropped at the end),
starts the server on it with a 5 s history step (NETWORK_SERIES_STEP_S) and
a 30 s staleness (NETWORK_STALE_S), and runs `tetcore-loadgen` (verbosity 1,
so nodes also report their peers' reputations) with two chains and the
network scenarios: two lagging nodes, two that stall, three on a fork, two
that go silent, one with a skewed clock. Alongside, one more node (no
chain) sends `tracing.profiling` timings every second, and a benchmark of
it is recorded through the API. After MINUTES of history, while the fleet
still runs, every page is shot (the chain and node pages over the run
after its ramp-up, a custom window) at desktop (1280 px) and phone (390 px)
width, the overview and chain pages also in the dark theme, with
scripts/lib/dashboard_check.py (headless Chromium); a page that is not
ready or logs an error fails the run. The shots are then shrunk into
docs/screenshots/ (scripts/lib/shrink_screenshots.sh), unless --keep-raw.
"""
import argparse, json, os, random, subprocess, sys, tempfile, threading, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from benchlib import free_port, migrated_database, psql  # noqa: E402
from dashboard_check import DevToolsSocket  # noqa: E402

DESKTOP, PHONE = "1280,900", "390,844"
# The profiled node: not one of the generator's (it would take over that
# node's row), and on no chain, so it shows on the nodes and profiling
# pages only.
PROFILED_PEER = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"
PROFILED_TARGETS = [  # (target, name, typical ns)
    ("pallet_babe", "on_initialize", 42_000), ("pallet_grandpa", "on_finalize", 18_000),
    ("pallet_balances", "transfer", 61_000), ("sc_consensus", "import_block", 1_400_000),
    ("sc_basic_authorship", "propose_with", 2_900_000),
]


def api(port, path, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST" if body is not None else "GET",
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def utc(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


class ProfiledNode(threading.Thread):
    """A node sending its `tracing.profiling` timings every second (the
    older flat form, as the profiling tools send them)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stop = port, threading.Event()
        self.socket = DevToolsSocket(f"ws://127.0.0.1:{port}/")
        self.send("system.connected", network_id=PROFILED_PEER, name="profiling-bench-1", implementation="Tetcore Node",
                  version="1.4.2-8c1d2b7e1f0", authority=False, startup_time=str(int(time.time() * 1000) - 5_400_000))

    def send(self, kind, **fields):
        self.socket.send(json.dumps({"msg": kind, "ts": utc(time.time()) + "Z", **fields}))

    def run(self):
        noise = random.Random(7)
        tick = 0
        while not self.stop.wait(1.0):
            tick += 1
            for target, name, typical in PROFILED_TARGETS:
                # A slow swell every few minutes and an occasional spike.
                swell = 1 + 0.25 * ((tick // 20) % 6) / 5
                spike = 3 if noise.random() < 0.02 else 1
                self.send("tracing.profiling", level="INFO", target=target, name=name, values="",
                          time=int(typical * swell * spike * noise.uniform(0.85, 1.15)))
        self.socket.close()


def record_benchmark(port, start, end):
    """A benchmark of the profiled node over [start, end], with events."""
    host = api(port, "/host_systems", {"description": "bench-runner-2 (AX102)", "os": "linux", "cpu_qty": 16,
                                       "cpu_clock": 4200, "ram_mb": 131072, "disk_info": "2 x 1.92 TB NVMe, RAID 1"})
    benchmark = api(port, "/benchmarks", {
        "description": "block import under transfer load", "host_system_id": host["id"], "peer_id": PROFILED_PEER,
        "benchmark_spec": {"tps": 1000, "accounts": 10000, "extrinsic": "balances.transfer"},
        "chain_spec": {"name": "Tetcore Loadgen 1"}, "ts_start": utc(start), "ts_end": utc(end)})
    span = end - start
    for name, phase, at in [("warm-up", "start", 0.0), ("warm-up", "end", 0.12), ("import", "start", 0.15),
                            ("import", "end", 0.8), ("finality", "start", 0.2), ("finality", "end", 0.9),
                            ("report", "start", 0.92), ("report", "end", 0.98)]:
        api(port, "/benchmarks/events", {"benchmark_id": benchmark["id"], "name": name, "phase": phase,
                                         "created_at": utc(start + at * span)})


def shoot(url, path, ready, size, dark=False):
    env = dict(os.environ, **({"DASHBOARD_COLOR_SCHEME": "dark"} if dark else {}))
    out = subprocess.run([sys.executable, os.path.join(HERE, "dashboard_check.py"), url, path, ready, "90", size],
                         capture_output=True, text=True, env=env, check=True)
    page = json.loads(out.stdout)
    if not page["ready"] or page["errors"]:
        sys.exit(f"{os.path.basename(path)}: ready {page['ready']}, errors {page['errors']}")
    print(f"  {os.path.basename(path)}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=9, help="history before the shots (default 9)")
    parser.add_argument("--nodes", type=int, default=40)
    parser.add_argument("--release", action="store_true", help="use .build/release instead of .build/debug")
    parser.add_argument("--keep-raw", metavar="DIR", help="leave the full-size shots in DIR, docs/ untouched")
    args = parser.parse_args()
    admin = os.environ.get("ADMIN_DATABASE_URL") or sys.exit("set ADMIN_DATABASE_URL (a database to create a fresh one from)")
    build = os.path.join(ROOT, ".build", "release" if args.release else "debug")
    server_binary, loadgen_binary = os.path.join(build, "tetcore-analytics"), os.path.join(build, "tetcore-loadgen")
    for binary in (server_binary, loadgen_binary):
        if not os.access(binary, os.X_OK):
            sys.exit(f"{binary} not found: swift build{' -c release' if args.release else ''} first")

    name = f"docs_screenshots_{os.getpid()}"
    db_url = migrated_database(admin, name, binary=server_binary)
    raw = args.keep_raw or tempfile.mkdtemp(prefix="docs-screenshots-")
    os.makedirs(raw, exist_ok=True)
    port = free_port()
    # Staleness after 30 s (instead of 2 min) and a history row every 5 s
    # (instead of a minute), so that a few minutes show what hours would.
    env = dict(os.environ, DATABASE_URL=db_url, PORT=str(port), HOST="127.0.0.1", LOG_LEVEL="warning",
               ASSETS_PATH=os.path.join(ROOT, "static"), NETWORK_SERIES_STEP_S="5", NETWORK_STALE_S="30")
    server = subprocess.Popen([server_binary, "serve"], cwd=ROOT, env=env)
    loadgen = profiled = None
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5).close()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    sys.exit("the server did not become ready")
                time.sleep(0.2)
        started = time.time()
        stall_after, silent_after = int(args.minutes * 60 * 0.55), int(args.minutes * 60 * 0.7)
        loadgen = subprocess.Popen([
            loadgen_binary, "--url", f"ws://127.0.0.1:{port}", "--nodes", str(args.nodes), "--ramp-up", "20s",
            "--verbosity", "1", "--chains", "2", "--block-time", "6s", "--propagation", "1500ms",
            "--lagging", "2:3", "--stalled", f"2:{stall_after}s", "--fork", "30:3", "--silent", f"2:{silent_after}s",
            "--skew", "1:3600", "--close-timeout", "10s"], cwd=ROOT, stdout=subprocess.DEVNULL)
        profiled = ProfiledNode(port)
        profiled.start()
        print(f"server on :{port}, {args.nodes} nodes; history for {args.minutes:g} minutes", flush=True)
        while time.time() - started < args.minutes * 60:
            if loadgen.poll() is not None or server.poll() is not None:
                sys.exit("the generator or the server stopped early")
            time.sleep(5)
        record_benchmark(port, started + 30, time.time() - 10)

        chains = sorted(api(port, "/chains"), key=lambda chain: chain.get("name") or "")
        genesis = chains[0]["genesis_hash"]
        nodes = api(port, f"/chains/{genesis}/nodes")
        # The node page: a node that stopped importing (stale), the case an
        # operator opens a node's page for (its height lag climbs).
        node = next(n for n in nodes if n.get("stale"))
        # The reputation page: a peer that several nodes report.
        reported = api(port, "/reputation/logged")
        counts = {}
        for report in reported:
            for peer in report["remote_peer"]:
                counts[peer] = counts.get(peer, 0) + 1
        remote = max(sorted(counts), key=counts.get)
        # The chain and node pages over the run after the ramp-up (a custom
        # window): in their default hour, minutes of history would fill only
        # the right edge of each chart, unlike a fleet that has run for hours.
        window = f"window=custom&start={utc(started + 30)}&end={utc(time.time())}"
        pages = [
            ("overview", f"?chain={genesis}", "document.querySelectorAll('table.nodes tr.node').length >= 10"),
            ("chain", f"chain?chain={genesis}&{window}",
             "document.getElementById('ranking-version') !== null && document.getElementById('chart-versions').dataset.points !== undefined"),
            ("node", f"node?peer={node['peer_id']}&{window}",
             "['best_lag','finality_lag','peers','bandwidth','block_time_ms'].every((c) => document.getElementById('chart-' + c).dataset.points !== undefined)"),
            ("nodes", "nodes", "document.getElementById('status').dataset.state === 'ok'"),
            ("profiling", f"profiling?peer_id={PROFILED_PEER}&interval=10", "document.getElementById('chart').dataset.points > 0"),
            ("reputation", f"reputation?peer_id={remote}", "document.getElementById('history').dataset.points > 0"),
            ("benchmarks", "benchmarks", "document.querySelector('#detail h4') !== null"),
        ]
        base = f"http://127.0.0.1:{port}/dashboard/"
        print("shooting", flush=True)
        for page, path, ready in pages:
            for size, dimensions in (("desktop", DESKTOP), ("phone", PHONE)):
                shoot(base + path, os.path.join(raw, f"{page}-{size}.png"), ready, dimensions)
        for page, path, ready in pages[:2]:
            shoot(base + path, os.path.join(raw, f"{page}-dark.png"), ready, DESKTOP, dark=True)
    finally:
        if profiled:
            profiled.stop.set()
            profiled.join(timeout=5)
        if loadgen and loadgen.poll() is None:
            loadgen.send_signal(2)  # SIGINT: the nodes close cleanly
            try:
                loadgen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                loadgen.kill()
        server.terminate()
        server.wait(timeout=60)
        psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    if not args.keep_raw:
        subprocess.run([os.path.join(HERE, "shrink_screenshots.sh"), raw], check=True)
        for shot in os.listdir(raw):
            os.remove(os.path.join(raw, shot))
        os.rmdir(raw)


if __name__ == "__main__":
    main()
