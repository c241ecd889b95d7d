#!/usr/bin/env python3
"""End-to-end ingestion rate against PostgreSQL's own COPY rate.

Starts the release server on a fresh database, connects NODES telemetry
sockets, sends MESSAGES pre-built frames per node (the catalogue's mix
without system.network_state, or only network_state messages with
--network-state) as fast as the sockets take them, and waits until every
row is visible. Then it COPYs the same rows into the same table (same
indexes) to measure the ceiling. Prints rows/s, the COPY rate, their ratio
and the server's CPU microseconds per message.

    swift build -c release --product tetcore-analytics
    ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/ingest.py --nodes 100 --messages 2000

The client builds every frame up front and writes with plain sockets, so
it costs little CPU next to the server and PostgreSQL on the same machine.
"""
import argparse, io, json, os, socket, subprocess, sys, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK = os.sysconf("SC_CLK_TCK")


def psql(url, sql, stdin=None):
    out = subprocess.run(["psql", "-qtAX", url, "-c", sql], input=stdin, capture_output=True, check=True)
    return out.stdout.decode().strip()


def frame(payload, mask=b"\x1f\x2e\x3d\x4c"):
    n = len(payload)
    head = bytes([0x81])
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
    # within CLIENT_TIMEOUT_S because data keeps flowing.
    sock.settimeout(0.5)
    while not stop.is_set():
        try:
            if not sock.recv(65536):
                return
        except OSError:
            pass


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
    if args.network_state:
        state = next(m for m in catalogue if m["msg"] == "system.network_state")
        nodes = {f"12D3KooWpeer{i:06d}": {"connected": i % 3 == 0, "reputation": -i} for i in range(args.peers)}
        state = dict(state, state=dict(state["state"], peerset={"message_queue": 0, "nodes": nodes}))
        mix = [json.dumps(state, separators=(",", ":")).encode()]
    else:
        mix = [json.dumps(m, separators=(",", ":")).encode() for m in catalogue
               if m["msg"] not in ("system.network_state", "system.connected")]
    frames = [frame(m) for m in mix]
    per_node = b"".join(frames[i % len(frames)] for i in range(args.messages))
    json_bytes = sum(len(mix[i % len(mix)]) for i in range(args.messages)) * args.nodes
    total = args.nodes * args.messages

    port = socket.socket(); port.bind(("127.0.0.1", 0)); free = port.getsockname()[1]; port.close()
    env = dict(os.environ, DATABASE_URL=db_url, PORT=str(free), HOST="127.0.0.1", LOG_LEVEL="warning",
               CLIENT_TIMEOUT_S="60")
    binary = os.environ.get("SERVER_BINARY", os.path.join(ROOT, ".build/release/tetcore-analytics"))
    server = subprocess.Popen([binary, "serve"], cwd=ROOT, env=env)
    stop = threading.Event()
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", free), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(1.5)
        sockets = [handshake(free) for _ in range(args.nodes)]
        drainers = [threading.Thread(target=drain, args=(s, stop), daemon=True) for s in sockets]
        for t in drainers:
            t.start()
        time.sleep(0.5)
        psql(db_url, "SELECT 1")
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()

        def send(sock):
            sock.sendall(per_node)

        senders = [threading.Thread(target=send, args=(s,)) for s in sockets]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        sent = time.monotonic()
        while int(psql(db_url, "SELECT count(*) FROM tetcore_logs")) < total:
            time.sleep(0.02)
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(server.pid) - cpu0
        stored = int(psql(db_url, "SELECT count(*) FROM tetcore_logs"))
    finally:
        stop.set()
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


if __name__ == "__main__":
    main()
