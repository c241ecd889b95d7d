#!/usr/bin/env python3
"""What the server's own ingestion gets while expired rows are purged.

benchmarks/purge.py times the purge itself with a COPY alongside; this one
measures the real path: tetcore-loadgen nodes -> server -> PostgreSQL.

Fills a fresh, fully migrated database with ROWS expired rows spread over
the ten days that ended two days ago (purge.py's fill), starts the release
server (its own purger idle: the default expiry is years), then runs
loadgen rounds of NODES x MESSAGES messages of the catalogue's mix at full
speed, each timed until /metrics reports every row committed:

  1. ROUNDS rounds with nothing else running;
  2. ROUNDS rounds while another session deletes expired rows in
     10,000-row chunks, as the unpartitioned design had to (and as the
     server still does for what partitions leave);
  3. ROUNDS rounds, each started together with one partition drop
     (tetcore_drop_expired_log_partitions) that removes about a third of
     the expired days, the partitioned design's purge.

The phases are interleaved: round i runs one round of each phase, in an
order that rotates with i, so that no phase always meets the smallest (or
the largest) partition of fresh rows, and all see the same machine. The
chunked DELETE runs only during its own rounds.

At the end every stored row is checked, not counted: each node (one
network_id per node and round) must have exactly one row for each of its
messages (its system.connected and MESSAGES messages, told apart by
loadgen_seq), and nothing else may be in the fresh rows.

Prints each round and the median rows/s of each phase, with the ratio to
the quiet phase measured in the same run.

    swift build -c release --product tetcore-analytics --product tetcore-loadgen
    ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/purge_ingest.py --rows 10000000
"""
import argparse, os, socket, subprocess, sys, threading, time, types

from ingest import build_mix, rows_written
from benchlib import ROOT, psql
from purge import FILL, NEW_CHUNK, migrate


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="expired rows to purge")
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--messages", type=int, default=3000, help="messages per node and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per phase")
    args = parser.parse_args()
    admin = os.environ.get("ADMIN_DATABASE_URL") or sys.exit("set ADMIN_DATABASE_URL")
    db = f"purge_ingest_{os.getpid()}"
    url = admin.rsplit("/", 1)[0] + "/" + db
    psql(admin, f"CREATE DATABASE {db}")
    mix, mix_file = build_mix(types.SimpleNamespace(network_state=False, peers=0))
    server = None
    try:
        migrate(url, os.path.join(ROOT, "Migrations"))
        psql(url, "SELECT tetcore_create_log_partitions(12, ((now() AT TIME ZONE 'utc') - interval '12 days')::date)")
        t0 = time.monotonic()
        psql(url, FILL.format(rows=args.rows))
        # The fill chose the first 100 connection ids itself: the server's
        # rows must take the next ones.
        psql(url, "SELECT setval('peer_connections_id_seq', 100)")
        psql(url, "VACUUM ANALYZE")
        print(f"filled {args.rows:,} expired rows in {time.monotonic() - t0:.0f} s", flush=True)

        port = socket.socket(); port.bind(("127.0.0.1", 0)); free = port.getsockname()[1]; port.close()
        env = dict(os.environ, DATABASE_URL=url, PORT=str(free), HOST="127.0.0.1", LOG_LEVEL="warning",
                   CLIENT_TIMEOUT_S="60", INGEST_MAX_BYTES_PER_S=str(1 << 40))
        server = subprocess.Popen([os.environ.get("SERVER_BINARY", os.path.join(ROOT, ".build/release/tetcore-analytics")),
                                   "serve"], cwd=ROOT, env=env)
        loadgen = os.environ.get("LOADGEN_BINARY", os.path.join(ROOT, ".build/release/tetcore-loadgen"))
        for _ in range(300):
            try:
                rows_written(free)
                break
            except (OSError, RuntimeError):
                time.sleep(0.1)
        per_round = args.nodes * (args.messages + 1)
        committed = [0]

        def ingest_round(seed):
            start = time.monotonic()
            subprocess.run([loadgen, "--url", f"ws://127.0.0.1:{free}", "--nodes", str(args.nodes),
                            "--messages-per-node", str(args.messages), "--rate", "max", "--mix", mix_file,
                            "--kinds", ",".join(m["msg"] for m in mix), "--seed", str(seed), "--json"],
                           capture_output=True, check=True)
            committed[0] += per_round
            while rows_written(free) < committed[0]:
                time.sleep(0.01)
            return per_round / (time.monotonic() - start)

        phases = {"nothing else": [], "chunked DELETE": [], "partition drop": []}
        order = list(phases)
        seed = iter(range(1, 1000))
        stop, deleted, drops = threading.Event(), [0], []

        def delete_chunks():
            while not stop.is_set() and (n := int(psql(url, NEW_CHUNK))) > 0:
                deleted[0] += n

        for i in range(args.rounds):
            for phase in order[i % 3:] + order[:i % 3]:
                if phase == "nothing else":
                    phases[phase].append(ingest_round(next(seed)))
                elif phase == "chunked DELETE":
                    stop.clear()
                    deleter = threading.Thread(target=delete_chunks)
                    deleter.start()
                    time.sleep(1)
                    phases[phase].append(ingest_round(next(seed)))
                    stop.set()
                    deleter.join()
                else:
                    # Older than 12 - 10 * (i + 1) / rounds days: a share of the days each time.
                    hours = int(24 * (12 - 10 * (i + 1) / args.rounds))
                    result = {}
                    dropper = threading.Thread(target=lambda: result.update(
                        t0=time.monotonic(),
                        rows=int(psql(url, f"SELECT rows_dropped FROM tetcore_drop_expired_log_partitions({hours})")),
                        t1=time.monotonic()))
                    dropper.start()
                    phases[phase].append(ingest_round(next(seed)))
                    dropper.join()
                    drops.append((result["rows"], result["t1"] - result["t0"]))
                print(f"round {i + 1}, {phase}: {phases[phase][-1]:,.0f} rows/s", flush=True)

        # Exactly once: one row per message of every node, nothing else.
        nodes_sent = args.nodes * 3 * args.rounds
        check = psql(url, f"""
            WITH fresh AS (SELECT pc.peer_id, l.logs->>'loadgen_seq' AS seq FROM tetcore_logs l
                           JOIN peer_connections pc ON pc.id = l.peer_connection_id
                           WHERE l.created_at > (now() AT TIME ZONE 'utc') - interval '1 day'),
                 per_node AS (SELECT peer_id, count(*) AS n, count(DISTINCT seq) AS distinct_seqs,
                                     min(seq::int8) AS first, max(seq::int8) AS last, count(seq) AS with_seq
                              FROM fresh GROUP BY peer_id)
            SELECT (SELECT count(*) FROM fresh), count(*),
                   count(*) FILTER (WHERE n <> {args.messages + 1} OR distinct_seqs <> with_seq
                                    OR last - first + 1 <> with_seq OR n - with_seq > 1)
            FROM per_node""").split("|")
        rows, nodes, bad = (int(v) for v in check)
        if rows != committed[0] or nodes != nodes_sent or bad != 0:
            raise RuntimeError(f"exactly-once check failed: {rows} fresh rows ({committed[0]} sent), "
                               f"{nodes} nodes ({nodes_sent} expected), {bad} nodes with a missing or duplicated message")
        print(f"exactly once: {rows:,} fresh rows, one per message of {nodes:,} nodes", flush=True)
    finally:
        os.unlink(mix_file)
        if server:
            server.terminate()
            server.wait(timeout=60)
        psql(admin, f"DROP DATABASE {db} WITH (FORCE)")

    median = lambda values: sorted(values)[len(values) // 2]
    quiet = median(phases["nothing else"])
    print(f"{args.rounds} interleaved rounds per phase of {args.nodes} nodes x {args.messages} messages; {args.rows:,} expired rows")
    for phase, rates in phases.items():
        print(f"  ingest during {phase:15s}: " + ", ".join(f"{r:,.0f}" for r in rates)
              + f" rows/s; median {median(rates):,.0f} ({median(rates) / quiet:.2f} of quiet)")
    print(f"  chunked DELETE removed {deleted[0]:,} rows while its rounds ran")
    print("  partition drops: " + ", ".join(f"{rows:,} rows in {seconds:.2f} s" for rows, seconds in drops))


if __name__ == "__main__":
    main()
