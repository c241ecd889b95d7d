#!/usr/bin/env python3
"""End-to-end ingestion rate against PostgreSQL's own COPY limit.

Starts the release server on a fresh database and runs ROUNDS rounds. In a
round tetcore-loadgen connects NODES synthetic nodes, each sends its
system.connected and then MESSAGES messages as fast as the server takes
them (the catalogue's mix without system.network_state, or only
network_state messages with --network-state; flat text frames, or the
wrapped form in binary frames with --wrapped). The round ends when the
server reports every row committed (the count in the table is checked).

Then the limit: the rows the server stored in that round, exported from its
table, are COPYed into a twin database built by the project's own
migrations (`tetcore-analytics migrate`, with the daily partitions the
server makes ahead, and every index), by as many parallel sessions as the
server has write connections (DB_POOL_SIZE, default 2), each session taking
a consecutive share of the rows. Only the COPY statements are timed, on the
database server's clock (the sessions connect first and start together).
Neither table is emptied between rounds: both keep growing, as in
production. Rounds alternate server and COPY so both see the same machine;
per round and as medians the script prints rows/s, MB/s, the ratio end to
end / COPY of that round, the server's CPU microseconds per message and the
generator's, and the server's minor page faults per 1,000 messages.

It also prints the ratio the shared cores allow: if COPY's L rows/s keep
all C cores busy, a row costs PostgreSQL C / L core-seconds, and a server
and generator taking s + g CPU seconds a message leave room for at most
1 / (1 + (s + g) * L / C) of L (docs/performance.md explains it).

Several configurations can be measured in the same rounds, each with its
own server, database and twin (the order alternates between rounds):
  --threads N          adds a NUM_THREADS=N server beside the NUM_THREADS=1 one;
  --variant NAME=SQL   adds a server whose database (and twin) get SQL after
                       the migrations, e.g. a storage option to compare;
  --compare-binary P   adds a server run from another build P (its database
                       and twin are migrated by that build, from
                       COMPARE_MIGRATIONS_PATH if set: an older build must
                       not get newer migrations);
  --compare-network-state  adds a server with NETWORK_STATE=false: what
                       keeping the node state at ingestion costs.

    swift build -c release --product tetcore-analytics --product tetcore-loadgen
    ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/ingest.py --nodes 100 --messages 4000

SERVER_BINARY and LOADGEN_BINARY pick other builds; DB_POOL_SIZE is passed
to the servers and sets the number of COPY sessions.
"""
import argparse, json, os, resource, shutil, socket, subprocess, sys, tempfile, time
from benchlib import ROOT, SERVER_BINARY, psql, free_port, migrated_database, export_rows, split_lines, parallel_copy

CLOCK = os.sysconf("SC_CLK_TCK")


def process_stat(pid):
    """CPU seconds (user and system) and minor page faults of a process so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK, int(fields[7])


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


def shared_core_bound(client_us_per_message, copy_rows_per_s):
    """The highest ratio to COPY that the cores left to PostgreSQL allow,
    when the server and generator take client_us_per_message of CPU."""
    return 1 / (1 + client_us_per_message * 1e-6 * copy_rows_per_s / os.cpu_count())


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def configurations(args):
    """The servers to measure side by side: label, NUM_THREADS, binary, SQL."""
    configs = [{"label": "NUM_THREADS=1" if args.threads > 1 else "server", "threads": 1,
                "binary": SERVER_BINARY, "sql": None}]
    if args.threads > 1:
        configs.append({"label": f"NUM_THREADS={args.threads}", "threads": args.threads, "binary": SERVER_BINARY, "sql": None})
    for variant in args.variant:
        label, _, sql = variant.partition("=")
        configs.append({"label": label, "threads": 1, "binary": SERVER_BINARY, "sql": sql})
    if args.compare_binary:
        configs.append({"label": f"build {args.compare_binary}", "threads": 1, "binary": args.compare_binary, "sql": None,
                        "migrations": os.environ.get("COMPARE_MIGRATIONS_PATH")})
    if args.compare_network_state:
        # The same build with the node state off: what keeping it costs.
        configs[0]["label"] = "NETWORK_STATE=true"
        configs.append({"label": "NETWORK_STATE=false", "threads": 1, "binary": SERVER_BINARY, "sql": None,
                        "env": {"NETWORK_STATE": "false"}})
    return configs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--messages", type=int, default=2000, help="messages per node and round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating server and COPY rounds; medians are printed")
    parser.add_argument("--network-state", action="store_true", help="send only system.network_state messages")
    parser.add_argument("--peers", type=int, default=2800, help="peerset size of network_state messages (2800: about 170 KB)")
    parser.add_argument("--wrapped", action="store_true", help="send the wrapped form in binary frames")
    parser.add_argument("--threads", type=int, default=1,
                        help="above 1, a NUM_THREADS=N server is measured beside the NUM_THREADS=1 one")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=SQL",
                        help="also measure a server whose database gets SQL after the migrations (repeatable)")
    parser.add_argument("--compare-binary", metavar="PATH", help="also measure the server built at PATH")
    parser.add_argument("--compare-network-state", action="store_true",
                        help="also measure a server with NETWORK_STATE=false (node state not kept)")
    args = parser.parse_args()
    admin = os.environ.get("ADMIN_DATABASE_URL") or sys.exit("set ADMIN_DATABASE_URL (a database to create the benchmark database from)")
    pool_size = int(os.environ.get("DB_POOL_SIZE", "2"))
    configs = configurations(args)

    mix, mix_file = build_mix(args)
    kinds = ",".join(m["msg"] for m in mix)
    # Each node sends its system.connected, then MESSAGES of the mix, each
    # with the generator's loadgen_seq field (up to 20 digits) added.
    sizes = [len(json.dumps(m, separators=(",", ":"))) + len(',"loadgen_seq":') + 20 for m in mix]
    json_bytes = sum(sizes[i % len(sizes)] for i in range(args.messages)) * args.nodes
    total = args.nodes * (args.messages + 1)

    loadgen = os.environ.get("LOADGEN_BINARY", os.path.join(ROOT, ".build/release/tetcore-loadgen"))
    scratch = tempfile.mkdtemp(prefix="ingest-bench-")
    created = []
    try:
        for index, config in enumerate(configs):
            name = f"bench_{os.getpid()}_{index}"
            config["db_url"] = migrated_database(admin, name, config["binary"], config["sql"], config.get("migrations"))
            created.append(name)
            config["twin_url"] = migrated_database(admin, name + "_copy", config["binary"], config["sql"], config.get("migrations"))
            created.append(name + "_copy")
            config["port"] = free_port()
            env = dict(os.environ, DATABASE_URL=config["db_url"], PORT=str(config["port"]), HOST="127.0.0.1",
                       MIGRATIONS_PATH=config.get("migrations") or os.path.join(ROOT, "Migrations"),
                       LOG_LEVEL="warning", CLIENT_TIMEOUT_S="60", INGEST_MAX_BYTES_PER_S=str(1 << 40),
                       NUM_THREADS=str(config["threads"]), DB_POOL_SIZE=str(pool_size), **config.get("env", {}))
            config["process"] = subprocess.Popen([config["binary"], "serve"], cwd=ROOT, env=env)
            config["rounds"], config["copy_rates"], config["bounds"], config["stored_id"] = [], [], [], 0
        for config in configs:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", config["port"]), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
        time.sleep(1.5)
        for round_number in range(args.rounds):
            target = total * (round_number + 1)
            # Alternate which configuration goes first.
            for config in configs if round_number % 2 == 0 else list(reversed(configs)):
                port, pid = config["port"], config["process"].pid
                children = resource.getrusage(resource.RUSAGE_CHILDREN)
                (cpu0, faults0), t0 = process_stat(pid), time.monotonic()
                subprocess.run([loadgen, "--url", f"ws://127.0.0.1:{port}", "--nodes", str(args.nodes),
                                "--messages-per-node", str(args.messages), "--rate", "max", "--mix", mix_file,
                                "--kinds", kinds, "--wire", "wrapped" if args.wrapped else "flat",
                                "--seed", str(round_number + 1), "--json"], capture_output=True, check=True)
                while rows_written(port) < target:
                    time.sleep(0.01)
                elapsed = time.monotonic() - t0
                cpu, faults = (now - before for now, before in zip(process_stat(pid), (cpu0, faults0)))
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                client_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
                stored = int(psql(config["db_url"], "SELECT count(*) FROM tetcore_logs"))
                if stored != target:
                    raise RuntimeError(f"round {round_number + 1}, {config['label']}: {stored} rows stored, {target} expected")
                config["rounds"].append((total / elapsed, cpu * 1e6 / total, client_cpu * 1e6 / total, faults * 1e3 / total))
                print(f"round {round_number + 1}, {config['label']}: {total / elapsed:,.0f} rows/s end to end, "
                      f"server CPU {cpu * 1e6 / total:.2f} us/message, {faults * 1e3 / total:.0f} minor page faults "
                      f"per 1,000 messages, loadgen CPU {client_cpu * 1e6 / total:.2f} us/message", flush=True)

                # The limit: the rows this server stored in this round,
                # COPYed into its twin by POOL_SIZE sessions at once.
                last_id = int(psql(config["db_url"], "SELECT max(id) FROM tetcore_logs"))
                export = os.path.join(scratch, "round.tsv")
                export_rows(config["db_url"], f"id > {config['stored_id']} AND id <= {last_id}", export)
                config["stored_id"] = last_id
                seconds = parallel_copy(config["twin_url"], split_lines(export, pool_size))
                for path in os.listdir(scratch):
                    os.unlink(os.path.join(scratch, path))
                copied = int(psql(config["twin_url"], "SELECT count(*) FROM tetcore_logs"))
                if copied != target:
                    raise RuntimeError(f"round {round_number + 1}, {config['label']}: twin holds {copied} rows, {target} expected")
                config["copy_rates"].append(total / seconds)
                _, server_us, client_us, _ = config["rounds"][-1]
                config["bounds"].append(shared_core_bound(server_us + client_us, total / seconds))
                print(f"round {round_number + 1}, {config['label']}: COPY ({pool_size} sessions) {total / seconds:,.0f} rows/s, "
                      f"ratio {config['rounds'][-1][0] * seconds / total:.2f} "
                      f"(the shared cores allow {config['bounds'][-1]:.2f})", flush=True)
    finally:
        os.unlink(mix_file)
        shutil.rmtree(scratch, ignore_errors=True)
        for config in configs:
            if "process" in config:
                config["process"].terminate()
                config["process"].wait(timeout=60)
        for name in created:
            psql(admin, f"DROP DATABASE {name} WITH (FORCE)")

    kind = "system.network_state" if args.network_state else "mix without system.network_state"
    form = "wrapped (binary frames)" if args.wrapped else "flat (text frames)"
    per_message = json_bytes / total
    print(f"workload: {args.nodes} nodes x {args.messages} messages x {args.rounds} rounds ({kind}, {form}), "
          f"{json_bytes / 1e6:.1f} MB of JSON per round, {per_message / 1e3:.2f} KB per message; "
          f"COPY limit: {pool_size} parallel sessions into a migrated twin")
    for config in configs:
        rounds, copies = config["rounds"], config["copy_rates"]
        rate, cpu = median([r[0] for r in rounds]), median([r[1] for r in rounds])
        ratios = [r[0] / c for r, c in zip(rounds, copies)]
        print(f"{config['label']}: end to end (median) {rate:,.0f} rows/s, {rate * per_message / 1e6:.1f} MB/s "
              f"(rounds {min(r[0] for r in rounds):,.0f} to {max(r[0] for r in rounds):,.0f}); "
              f"COPY (median) {median(copies):,.0f} rows/s, {median(copies) * per_message / 1e6:.1f} MB/s; "
              f"ratio (median of rounds) {median(ratios):.2f} (rounds {min(ratios):.2f} to {max(ratios):.2f}), "
              f"the shared cores allow {median(config['bounds']):.2f}; "
              f"server CPU (median) {cpu:.2f} us/message (rounds {min(r[1] for r in rounds):.2f} to {max(r[1] for r in rounds):.2f}); "
              f"minor page faults (median) {median([r[3] for r in rounds]):.0f} per 1,000 messages; "
              f"tetcore-loadgen's {median([r[2] for r in rounds]):.2f} us/message")


if __name__ == "__main__":
    main()
