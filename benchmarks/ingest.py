#!/usr/bin/env python3
"""End-to-end ingestion rate against PostgreSQL's own COPY rate.

Starts the release server on a fresh database, connects NODES telemetry
sockets and runs ROUNDS rounds. A round sends MESSAGES pre-built frames per
node (the catalogue's mix without system.network_state, or only
network_state messages with --network-state; flat text frames, or the
wrapped form in binary frames with --wrapped) as fast as the sockets take
them, waits until the server reports every row committed (and checks the
count in the table), then COPYs the same rows into an empty twin table with
the same indexes: the ceiling. Rounds alternate so both rates see the same
machine; the medians of rows/s, COPY rate, ratio and the server's CPU
microseconds per message are printed.

    swift build -c release --product tetcore-analytics
    ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/ingest.py --nodes 100 --messages 2000

The client builds every frame up front and writes with plain sockets, so
it costs little CPU next to the server and PostgreSQL on the same machine.
"""
import argparse, json, os, select, socket, subprocess, sys, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK = os.sysconf("SC_CLK_TCK")


def psql(url, sql, stdin=None):
    out = subprocess.run(["psql", "-qtAX", url, "-c", sql], input=stdin, capture_output=True, check=True)
    return out.stdout.decode().strip()


def frame(payload, opcode=0x81, mask=b"\x1f\x2e\x3d\x4c"):
    n = len(payload)
    head = bytes([opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload)) if n < 4096 else mask_fast(payload, mask)
    return head + mask + masked


def mask_fast(payload, mask):
    key = int.from_bytes((mask * (len(payload) // 4 + 1))[: len(payload)], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(len(payload), "big")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK


def handshake(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    if b" 101 " not in head.split(b"\r\n")[0]:
        raise RuntimeError(head.decode(errors="replace"))
    return s


def drain(sock, stop):
    # Discard the server's pings; the benchmark never needs to answer them
    # within CLIENT_TIMEOUT_S because data keeps flowing. select(), not a
    # socket timeout, which would also cut short a sendall() held back by
    # the server's backpressure.
    while not stop.is_set():
        if select.select([sock], [], [], 0.5)[0] and not sock.recv(65536):
            return


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
    catalogue = json.load(open(os.path.join(ROOT, "telemetry_messages.json")))
    if args.network_state:
        state = next(m for m in catalogue if m["msg"] == "system.network_state")
        nodes = {f"12D3KooW{i:044d}": {"connected": i % 3 == 0, "reputation": -i} for i in range(args.peers)}
        state = dict(state, state=dict(state["state"], peerset={"message_queue": 0, "nodes": nodes}))
        messages = [state]
    else:
        messages = [m for m in catalogue if m["msg"] not in ("system.network_state", "system.connected")]
    if args.wrapped:
        # The current nodes' form: binary frames, ts outside, fields in payload.
        wrap = lambda m: {"id": 1, "ts": m["ts"], "payload": {k: v for k, v in m.items() if k not in ("ts", "level")}}
        return [json.dumps(wrap(m), separators=(",", ":")).encode() for m in messages], 0x82
    return [json.dumps(m, separators=(",", ":")).encode() for m in messages], 0x81


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--messages", type=int, default=2000, help="messages per node and round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating server and COPY rounds; medians are printed")
    parser.add_argument("--network-state", action="store_true", help="send only system.network_state messages")
    parser.add_argument("--peers", type=int, default=2800, help="peerset size of network_state messages (2800: about 170 KB)")
    parser.add_argument("--wrapped", action="store_true", help="send the wrapped form in binary frames")
    args = parser.parse_args()
    admin = os.environ.get("ADMIN_DATABASE_URL") or sys.exit("set ADMIN_DATABASE_URL (a database to create the benchmark database from)")
    db_name = f"bench_{os.getpid()}"
    db_url = admin.rsplit("/", 1)[0] + "/" + db_name
    psql(admin, f"CREATE DATABASE {db_name}")

    mix, opcode = build_mix(args)
    frames = [frame(m, opcode) for m in mix]
    per_node = b"".join(frames[i % len(frames)] for i in range(args.messages))
    json_bytes = sum(len(mix[i % len(mix)]) for i in range(args.messages)) * args.nodes
    total = args.nodes * args.messages

    port = socket.socket(); port.bind(("127.0.0.1", 0)); free = port.getsockname()[1]; port.close()
    env = dict(os.environ, DATABASE_URL=db_url, PORT=str(free), HOST="127.0.0.1", LOG_LEVEL="warning",
               CLIENT_TIMEOUT_S="60", INGEST_MAX_BYTES_PER_S=str(1 << 40))
    binary = os.environ.get("SERVER_BINARY", os.path.join(ROOT, ".build/release/tetcore-analytics"))
    server = subprocess.Popen([binary, "serve"], cwd=ROOT, env=env)
    stop = threading.Event()
    results = []
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", free), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(1.5)
        sockets = [handshake(free) for _ in range(args.nodes)]
        for s in sockets:
            threading.Thread(target=drain, args=(s, stop), daemon=True).start()
        # The ceiling's table: same columns and indexes, no rows.
        psql(db_url, "CREATE TABLE copy_ceiling (LIKE tetcore_logs INCLUDING ALL)")
        time.sleep(0.5)
        for round_number in range(args.rounds):
            target = total * (round_number + 1)
            cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
            senders = [threading.Thread(target=s.sendall, args=(per_node,)) for s in sockets]
            for t in senders:
                t.start()
            for t in senders:
                t.join()
            while rows_written(free) < target:
                time.sleep(0.01)
            elapsed = time.monotonic() - t0
            cpu = cpu_seconds(server.pid) - cpu0
            stored = int(psql(db_url, "SELECT count(*) FROM tetcore_logs"))
            if stored != target:
                raise RuntimeError(f"round {round_number + 1}: {stored} rows stored, {target} expected")

            # The ceiling: this round's rows COPYed into the empty twin table.
            rows = psql(db_url, "SELECT peer_connection_id || chr(9) || created_at || chr(9) || "
                                "replace(replace(logs::text, '\\', '\\\\'), chr(9), '\\t') FROM tetcore_logs "
                                f"ORDER BY created_at LIMIT {total}")
            psql(db_url, "TRUNCATE copy_ceiling")
            c0 = time.monotonic()
            psql(db_url, "COPY copy_ceiling (peer_connection_id, created_at, logs) FROM STDIN", stdin=(rows + "\n").encode())
            copy_seconds = time.monotonic() - c0
            results.append((total / elapsed, total / copy_seconds, cpu * 1e6 / total))
            print(f"round {round_number + 1}: {total / elapsed:,.0f} rows/s end to end, COPY {total / copy_seconds:,.0f} rows/s, "
                  f"ratio {total / elapsed / (total / copy_seconds):.2f}, server CPU {cpu * 1e6 / total:.2f} us/message", flush=True)
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=60)
        psql(admin, f"DROP DATABASE {db_name} WITH (FORCE)")

    median = lambda values: sorted(values)[len(values) // 2]
    rate, copy_rate = median([r[0] for r in results]), median([r[1] for r in results])
    ratio, cpu = median([r[0] / r[1] for r in results]), median([r[2] for r in results])
    kind = "system.network_state" if args.network_state else "mix without system.network_state"
    form = "wrapped (binary frames)" if args.wrapped else "flat (text frames)"
    print(f"workload: {args.nodes} nodes x {args.messages} messages x {args.rounds} rounds ({kind}, {form}), "
          f"{json_bytes / 1e6:.1f} MB of JSON per round, {json_bytes / total / 1e3:.1f} KB per message")
    print(f"end to end (median): {rate:,.0f} rows/s, {rate * json_bytes / total / 1e6:.1f} MB/s of JSON")
    print(f"COPY of the same rows (median): {copy_rate:,.0f} rows/s, {copy_rate * json_bytes / total / 1e6:.1f} MB/s")
    print(f"ratio end to end / COPY (median of rounds): {ratio:.2f}")
    print(f"server CPU (median): {cpu:.2f} us per message")


if __name__ == "__main__":
    main()
