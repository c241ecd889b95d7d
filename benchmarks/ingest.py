#!/usr/bin/env python3
"""End-to-end ingestion rate against PostgreSQL's own COPY rate.

Starts the release server on a fresh database and runs ROUNDS rounds. In a
round tetcore-loadgen connects NODES synthetic nodes, each sends its
system.connected and then MESSAGES messages as fast as the server takes
them (the catalogue's mix without system.network_state, or only
network_state messages with --network-state; flat text frames, or the
wrapped form in binary frames with --wrapped). The round ends when the
server reports every row committed (the count in the table is checked).
Then the round's rows are COPYed into an empty twin table with the same
indexes: the ceiling. Rounds alternate so both rates see the same machine;
the medians of rows/s, COPY rate, ratio and the server's CPU microseconds
per message are printed, with the generator's own CPU per message.

With --threads N (N > 1) two servers run side by side on two databases, one
with NUM_THREADS=1 and one with NUM_THREADS=N; every round loads both, one
after the other (the order alternates between rounds), so the two
configurations are compared on the same machine at the same time, against
the same COPY ceiling. --compare-network-state does the same with
NETWORK_STATE=true against NETWORK_STATE=false (node state kept at
ingestion, or telemetry only stored).

    swift build -c release --product tetcore-analytics --product tetcore-loadgen
    ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/ingest.py --nodes 100 --messages 4000

SERVER_BINARY and LOADGEN_BINARY pick other builds.
"""
import argparse, json, os, resource, socket, subprocess, sys, tempfile, time
from benchlib import ROOT, psql

CLOCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK


def rows_written(port):
    """The server's count of committed rows, from /metrics (cheaper to poll
    than count(*) over a growing table, which would steal PostgreSQL's CPU)."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        body = b""
        while chunk := s.recv(65536):
            body += chunk
    for line in body.decode().splitlines():
        if line.startswith("tetcore_rows_written_total "):
            return int(float(line.split()[1]))
    raise RuntimeError("no tetcore_rows_written_total in /metrics")


def build_mix(args):
    """The messages of the workload, and the generator's catalogue file
    (the mix plus system.connected, which gives the nodes their identity)."""
    catalogue = json.load(open(os.path.join(ROOT, "telemetry_messages.json")))
    connected = next(m for m in catalogue if m["msg"] == "system.connected")
    if args.network_state:
        state = next(m for m in catalogue if m["msg"] == "system.network_state")
        nodes = {f"12D3KooW{i:044d}": {"connected": i % 3 == 0, "reputation": -i} for i in range(args.peers)}
        mix = [dict(state, state=dict(state["state"], peerset={"message_queue": 0, "nodes": nodes}))]
    else:
        mix = [m for m in catalogue if m["msg"] not in ("system.network_state", "system.connected")]
    mix_file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(mix + [connected], mix_file)
    mix_file.close()
    return mix, mix_file.name


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--messages", type=int, default=2000, help="messages per node and round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating server and COPY rounds; medians are printed")
    parser.add_argument("--network-state", action="store_true", help="send only system.network_state messages")
    parser.add_argument("--peers", type=int, default=2800, help="peerset size of network_state messages (2800: about 170 KB)")
    parser.add_argument("--wrapped", action="store_true", help="send the wrapped form in binary frames")
    parser.add_argument("--threads", type=int, default=1,
                        help="NUM_THREADS of the server; above 1, a NUM_THREADS=1 server is measured in the same rounds")
    parser.add_argument("--compare-network-state", action="store_true",
                        help="measure NETWORK_STATE=true and NETWORK_STATE=false servers in the same rounds")
    args = parser.parse_args()
    admin = os.environ.get("ADMIN_DATABASE_URL") or sys.exit("set ADMIN_DATABASE_URL (a database to create the benchmark database from)")
    # (label, settings) of each server measured in every round.
    if args.compare_network_state:
        configurations = [(f"NETWORK_STATE={on}", {"NETWORK_STATE": on, "NUM_THREADS": str(args.threads)})
                          for on in ("true", "false")]
    else:
        configurations = [(f"NUM_THREADS={threads}", {"NUM_THREADS": str(threads)}) for threads in sorted({1, args.threads})]

    mix, mix_file = build_mix(args)
    kinds = ",".join(m["msg"] for m in mix)
    # Each node sends its system.connected, then MESSAGES of the mix, each
    # with the generator's loadgen_seq field (up to 20 digits) added.
    sizes = [len(json.dumps(m, separators=(",", ":"))) + len(',"loadgen_seq":') + 20 for m in mix]
    json_bytes = sum(sizes[i % len(sizes)] for i in range(args.messages)) * args.nodes
    total = args.nodes * (args.messages + 1)

    binary = os.environ.get("SERVER_BINARY", os.path.join(ROOT, ".build/release/tetcore-analytics"))
    loadgen = os.environ.get("LOADGEN_BINARY", os.path.join(ROOT, ".build/release/tetcore-loadgen"))
    servers = []
    results = {label: [] for label, _ in configurations}
    copy_rates = []
    try:
        for index, (label, settings) in enumerate(configurations):
            db_name = f"bench_{os.getpid()}_c{index}"
            db_url = admin.rsplit("/", 1)[0] + "/" + db_name
            psql(admin, f"CREATE DATABASE {db_name}")
            port = socket.socket(); port.bind(("127.0.0.1", 0)); free = port.getsockname()[1]; port.close()
            env = dict(os.environ, DATABASE_URL=db_url, PORT=str(free), HOST="127.0.0.1", LOG_LEVEL="warning",
                       CLIENT_TIMEOUT_S="60", INGEST_MAX_BYTES_PER_S=str(1 << 40), **settings)
            servers.append({"label": label, "db_name": db_name, "db_url": db_url, "port": free,
                            "process": subprocess.Popen([binary, "serve"], cwd=ROOT, env=env)})
        for server in servers:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", server["port"]), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
        time.sleep(1.5)
        # The ceiling's table: same columns and indexes, no rows.
        psql(servers[0]["db_url"], "CREATE TABLE copy_ceiling (LIKE tetcore_logs INCLUDING ALL)")
        for round_number in range(args.rounds):
            target = total * (round_number + 1)
            # Alternate which configuration goes first.
            for server in servers if round_number % 2 == 0 else list(reversed(servers)):
                free, pid = server["port"], server["process"].pid
                children = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu0, t0 = cpu_seconds(pid), time.monotonic()
                subprocess.run([loadgen, "--url", f"ws://127.0.0.1:{free}", "--nodes", str(args.nodes),
                                "--messages-per-node", str(args.messages), "--rate", "max", "--mix", mix_file,
                                "--kinds", kinds, "--wire", "wrapped" if args.wrapped else "flat",
                                "--seed", str(round_number + 1), "--json"], capture_output=True, check=True)
                while rows_written(free) < target:
                    time.sleep(0.01)
                elapsed = time.monotonic() - t0
                cpu = cpu_seconds(pid) - cpu0
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                client_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
                stored = int(psql(server["db_url"], "SELECT count(*) FROM tetcore_logs"))
                if stored != target:
                    raise RuntimeError(f"round {round_number + 1}, {server['label']}: "
                                       f"{stored} rows stored, {target} expected")
                results[server["label"]].append((total / elapsed, cpu * 1e6 / total, client_cpu * 1e6 / total))
                print(f"round {round_number + 1}, {server['label']}: {total / elapsed:,.0f} rows/s end to end, "
                      f"server CPU {cpu * 1e6 / total:.2f} us/message, loadgen CPU {client_cpu * 1e6 / total:.2f} us/message",
                      flush=True)

            # The ceiling: this round's rows (the newest) COPYed into the empty twin table.
            db_url = servers[0]["db_url"]
            rows = psql(db_url, "SELECT peer_connection_id || chr(9) || created_at || chr(9) || "
                                "replace(replace(logs::text, '\\', '\\\\'), chr(9), '\\t') FROM tetcore_logs "
                                f"ORDER BY created_at DESC LIMIT {total}")
            psql(db_url, "TRUNCATE copy_ceiling")
            c0 = time.monotonic()
            psql(db_url, "COPY copy_ceiling (peer_connection_id, created_at, logs) FROM STDIN", stdin=(rows + "\n").encode())
            copy_rates.append(total / (time.monotonic() - c0))
            print(f"round {round_number + 1}: COPY {copy_rates[-1]:,.0f} rows/s", flush=True)
    finally:
        os.unlink(mix_file)
        for server in servers:
            server["process"].terminate()
            server["process"].wait(timeout=60)
            psql(admin, f"DROP DATABASE {server['db_name']} WITH (FORCE)")

    median = lambda values: sorted(values)[len(values) // 2]
    copy_rate = median(copy_rates)
    kind = "system.network_state" if args.network_state else "mix without system.network_state"
    form = "wrapped (binary frames)" if args.wrapped else "flat (text frames)"
    print(f"workload: {args.nodes} nodes x {args.messages} messages x {args.rounds} rounds ({kind}, {form}), "
          f"{json_bytes / 1e6:.1f} MB of JSON per round, {json_bytes / total / 1e3:.2f} KB per message")
    print(f"COPY of the same rows (median): {copy_rate:,.0f} rows/s, {copy_rate * json_bytes / total / 1e6:.1f} MB/s")
    for label, _ in configurations:
        rounds = results[label]
        rate, cpu = median([r[0] for r in rounds]), median([r[1] for r in rounds])
        ratio = median([r[0] / c for r, c in zip(rounds, copy_rates)])
        print(f"{label}: end to end (median) {rate:,.0f} rows/s, {rate * json_bytes / total / 1e6:.1f} MB/s of JSON; "
              f"ratio end to end / COPY (median of rounds) {ratio:.2f}; server CPU (median) {cpu:.2f} us per message; "
              f"tetcore-loadgen's {median([r[2] for r in rounds]):.2f} us per message")
    if args.compare_network_state:
        on, off = (results[label] for label, _ in configurations)
        print("NETWORK_STATE=true / NETWORK_STATE=false, same round (median of rounds): "
              f"rate {median([a[0] / b[0] for a, b in zip(on, off)]):.3f}, "
              f"server CPU per message {median([a[1] / b[1] for a, b in zip(on, off)]):.3f}")


if __name__ == "__main__":
    main()
