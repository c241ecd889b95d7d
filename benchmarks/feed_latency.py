#!/usr/bin/env python3
"""End-to-end latency of the live feed: message sent by a node → on a /feed client.

Starts the server (or two, with --second-instance) on a fresh database. A
node sends MESSAGES messages of kind bench.latency at RATE per second over
/ ; a feed client subscribed to that node and kind receives them. Each
message carries its sequence number; the script notes when it wrote each
one and when the feed delivered it, and prints the percentiles.

With one instance the node and the feed share a server: a row reaches the
feed when its batch commits (DB_SAVE_LATENCY_MS) plus one cache query.
With --second-instance the node sends to another instance, so the row
arrives at the next refresh (CACHE_UPDATE_INTERVAL_MS).

    swift build -c release --product tetcore-analytics
    ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/feed_latency.py --messages 500 --rate 50
"""
import argparse, asyncio, datetime, json, os, subprocess, sys, time, urllib.request

import websockets
from benchlib import ROOT, free_port, psql

PEER = "12D3KooWFeedLatency"


def start_server(db_url, extra):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=db_url, PORT=str(port), HOST="127.0.0.1", LOG_LEVEL="warning", **extra)
    binary = os.environ.get("SERVER_BINARY", os.path.join(ROOT, ".build/release/tetcore-analytics"))
    process = subprocess.Popen([binary, "serve"], cwd=ROOT, env=env)
    for _ in range(300):
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz").status == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    sys.exit("server did not become ready")


def now_ts():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def measure(node_port, feed_port, messages, rate):
    sent, received = {}, {}
    async with websockets.connect(f"ws://127.0.0.1:{feed_port}/feed") as feed, \
            websockets.connect(f"ws://127.0.0.1:{node_port}/") as node:
        await node.send(json.dumps({"msg": "system.connected", "ts": now_ts(), "network_id": PEER, "name": "latency"}))
        await feed.send(json.dumps({"peer_id": PEER, "msg": "bench.latency", "interest": "subscribe"}))
        await asyncio.sleep(1.5)  # the node's row exists and the cache has loaded

        async def receive():
            while len(received) < messages:
                message = json.loads(await feed.recv())
                now = time.monotonic()
                for item in message.get("data", []):
                    received.setdefault(item["seq"], now)

        receiver = asyncio.create_task(receive())
        for seq in range(messages):
            sent[seq] = time.monotonic()
            await node.send(json.dumps({"msg": "bench.latency", "ts": now_ts(), "seq": seq}))
            await asyncio.sleep(1 / rate)
        await asyncio.wait_for(receiver, timeout=60)
    return sorted((received[seq] - sent[seq]) * 1000 for seq in range(messages))


def percentile(sorted_values, fraction):
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50, help="messages per second")
    parser.add_argument("--second-instance", action="store_true", help="node on another instance than the feed client")
    args = parser.parse_args()
    admin = os.environ.get("ADMIN_DATABASE_URL") or sys.exit("set ADMIN_DATABASE_URL (a database to create the benchmark database from)")
    db_name = f"feed_latency_{os.getpid()}"
    db_url = admin.rsplit("/", 1)[0] + "/" + db_name
    psql(admin, f"CREATE DATABASE {db_name}")
    servers = []
    try:
        servers.append(start_server(db_url, {}))
        if args.second_instance:
            servers.append(start_server(db_url, {}))
        feed_port = servers[0][1]
        node_port = servers[-1][1]
        latencies = asyncio.run(measure(node_port, feed_port, args.messages, args.rate))
        setup = "node and feed on two instances" if args.second_instance else "node and feed on one instance"
        print(f"{setup}: {len(latencies)} messages at {args.rate:g}/s; feed latency ms: "
              f"p50 {percentile(latencies, 0.5):.1f}, p90 {percentile(latencies, 0.9):.1f}, "
              f"p99 {percentile(latencies, 0.99):.1f}, max {latencies[-1]:.1f}")
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(timeout=30)
        psql(admin, f"DROP DATABASE {db_name} WITH (FORCE)")


if __name__ == "__main__":
    main()
