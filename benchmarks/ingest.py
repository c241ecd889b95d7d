#!/usr/bin/env python3
"""End-to-end ingestion rate against PostgreSQL's own COPY rate.

Starts the release server on a fresh database, runs tetcore-loadgen with
NODES nodes that each send system.connected and then MESSAGES messages
(the catalogue's mix without system.network_state, or only network_state
messages with --network-state) as fast as the server takes them, and waits
until every row is visible. Then it COPYs the same rows into the same table
(same indexes) to measure the ceiling. Prints rows/s, the COPY rate, their
ratio and the server's and the client's CPU microseconds per message.

    swift build -c release
    ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/ingest.py --nodes 100 --messages 2000

SERVER_BINARY and LOADGEN_BINARY pick other builds. tetcore-loadgen builds
each frame once and patches it per send, so it costs little CPU next to the
server and PostgreSQL on the same machine (the last line says how much).
"""
import argparse, json, os, resource, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK = os.sysconf("SC_CLK_TCK")


def psql(url, sql, stdin=None):
    out = subprocess.run(["psql", "-qtAX", url, "-c", sql], input=stdin, capture_output=True, check=True)
    return out.stdout.decode().strip()


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--messages", type=int, default=2000, help="messages per node")
    parser.add_argument("--network-state", action="store_true", help="send only system.network_state messages")
    parser.add_argument("--peers", type=int, default=1000, help="peerset size of generated network_state messages")
    args = parser.parse_args()
    admin = os.environ.get("ADMIN_DATABASE_URL") or sys.exit("set ADMIN_DATABASE_URL (a database to create the benchmark database from)")
    db_name = f"bench_{os.getpid()}"
    db_url = admin.rsplit("/", 1)[0] + "/" + db_name
    psql(admin, f"CREATE DATABASE {db_name}")

    catalogue = json.load(open(os.path.join(ROOT, "telemetry_messages.json")))
    connected = next(m for m in catalogue if m["msg"] == "system.connected")
    if args.network_state:
        state = next(m for m in catalogue if m["msg"] == "system.network_state")
        nodes = {f"12D3KooWpeer{i:06d}": {"connected": i % 3 == 0, "reputation": -i} for i in range(args.peers)}
        state = dict(state, state=dict(state["state"], peerset={"message_queue": 0, "nodes": nodes}))
        mix = [state]
    else:
        mix = [m for m in catalogue if m["msg"] not in ("system.network_state", "system.connected")]
    # The generator's catalogue: the mix, and system.connected for identities.
    mix_file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(mix + [connected], mix_file)
    mix_file.close()
    kinds = ",".join(m["msg"] for m in mix)
    # Payload bytes as sent: the generator adds loadgen_seq (a 20-character
    # number) to each message.
    sizes = [len(json.dumps(m, separators=(",", ":"))) + len(',"loadgen_seq":') + 20 for m in mix]
    json_bytes = sum(sizes[i % len(sizes)] for i in range(args.messages)) * args.nodes
    total = args.nodes * (args.messages + 1)

    port = socket.socket(); port.bind(("127.0.0.1", 0)); free = port.getsockname()[1]; port.close()
    env = dict(os.environ, DATABASE_URL=db_url, PORT=str(free), HOST="127.0.0.1", LOG_LEVEL="warning",
               CLIENT_TIMEOUT_S="60")
    binary = os.environ.get("SERVER_BINARY", os.path.join(ROOT, ".build/release/tetcore-analytics"))
    loadgen = os.environ.get("LOADGEN_BINARY", os.path.join(ROOT, ".build/release/tetcore-loadgen"))
    server = subprocess.Popen([binary, "serve"], cwd=ROOT, env=env)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", free), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(1.5)
        psql(db_url, "SELECT 1")
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
        run = subprocess.run([loadgen, "--url", f"ws://127.0.0.1:{free}", "--nodes", str(args.nodes),
                              "--messages-per-node", str(args.messages), "--rate", "max", "--mix", mix_file.name,
                              "--kinds", kinds, "--json"], capture_output=True, check=True)
        summary = json.loads(run.stdout)
        sent = time.monotonic()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        client_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        while int(psql(db_url, "SELECT count(*) FROM tetcore_logs")) < total:
            time.sleep(0.02)
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(server.pid) - cpu0
        stored = int(psql(db_url, "SELECT count(*) FROM tetcore_logs"))
    finally:
        os.unlink(mix_file.name)
        server.terminate()
        server.wait(timeout=60)

    # The ceiling: the same rows COPYed into the same (emptied) table.
    rows = psql(db_url, "SELECT peer_connection_id || chr(9) || created_at || chr(9) || "
                        "replace(replace(logs::text, '\\', '\\\\'), chr(9), '\\t') FROM tetcore_logs")
    psql(db_url, "TRUNCATE tetcore_logs")
    c0 = time.monotonic()
    psql(db_url, "COPY tetcore_logs (peer_connection_id, created_at, logs) FROM STDIN", stdin=(rows + "\n").encode())
    copy_seconds = time.monotonic() - c0
    psql(admin, f"DROP DATABASE {db_name} WITH (FORCE)")

    rate, copy_rate = total / elapsed, total / copy_seconds
    kind = "system.network_state" if args.network_state else "mix without system.network_state"
    print(f"workload: {args.nodes} nodes x {args.messages} messages ({kind}), {json_bytes / 1e6:.1f} MB of JSON")
    print(f"stored: {stored} of {total} rows; all sent after {sent - t0:.2f} s, all visible after {elapsed:.2f} s")
    print(f"end to end: {rate:,.0f} rows/s, {json_bytes / elapsed / 1e6:.1f} MB/s of JSON")
    print(f"COPY of the same rows: {copy_rate:,.0f} rows/s ({copy_seconds:.2f} s)")
    print(f"ratio end to end / COPY: {rate / copy_rate:.2f}")
    print(f"server CPU: {cpu * 1e6 / total:.2f} us per message ({cpu:.2f} s)")
    print(f"client CPU (tetcore-loadgen): {client_cpu * 1e6 / total:.2f} us per message ({client_cpu:.2f} s); "
          f"it sent {summary['messages']} messages, errors {summary['errors'] or 'none'}")


if __name__ == "__main__":
    main()
