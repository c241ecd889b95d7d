#!/usr/bin/env python3
"""Resident memory of the server per idle WebSocket connection.

Starts the release server on DATABASE_URL, opens N idle telemetry
connections (each sends one system.connected, then nothing but the pongs
to the server's pings), and reads the server's VmRSS from /proc before and
after. Needs `pip install websockets` and a built release binary:
    swift build -c release --product tetcore-analytics
    DATABASE_URL=postgres://… benchmarks/idle_memory.py 1000 10000
"""
import asyncio, json, os, resource, socket, subprocess, sys, time

import websockets
from benchlib import ROOT, free_port


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def hold(url, count):
    sockets = []
    for index in range(count):
        ws = await websockets.connect(url, ping_interval=None, max_queue=1, open_timeout=30)
        await ws.send(json.dumps({"msg": "system.connected", "ts": "2026-11-29T10:00:00Z",
                                  "network_id": f"idle-{index}", "name": f"idle-{index}"}))
        sockets.append(ws)
    return sockets


async def main(counts):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = free_port()
    env = dict(os.environ, PORT=str(port), HOST="127.0.0.1", LOG_LEVEL="warning",
               MAX_PENDING_CONNECTIONS="4096", CLIENT_TIMEOUT_S="120", HEARTBEAT_INTERVAL="5")
    server = subprocess.Popen([os.path.join(ROOT, ".build/release/tetcore-analytics"), "serve"], cwd=ROOT, env=env)
    try:
        url = f"ws://127.0.0.1:{port}/"
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        await asyncio.sleep(1.0)  # migrations and pools
        # Warm up: one connection and its row, so allocator arenas exist.
        warm = await hold(url, 1)
        await asyncio.sleep(1.0)
        base = rss_kib(server.pid)
        print(f"baseline: {base} KiB resident with 1 connection")
        held = warm
        for count in counts:
            held += await hold(url, count - len(held))
            await asyncio.sleep(3.0)
            now = rss_kib(server.pid)
            per = (now - base) * 1024 / max(1, len(held) - 1)
            print(f"{len(held)} idle WebSockets: {now} KiB resident, {per:.0f} bytes per connection above baseline")
        for ws in held:
            await ws.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    asyncio.run(main([int(a) for a in sys.argv[1:]] or [1000, 10000]))
