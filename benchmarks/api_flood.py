#!/usr/bin/env python3
"""Ingestion under an API flood (issue 17): does API load starve it?

Creates a fresh database from ADMIN_DATABASE_URL, migrates it with the
release binary and fills it with ROWS telemetry rows from NODES synthetic
nodes (api_latency.py's filler), so that the reputation and log queries are
heavy. Then starts the release server on it and one tetcore-loadgen run of
--loadgen-nodes realistic nodes with --verify, for the whole benchmark:

  warm-up  (ramp-up, the nodes announce themselves)
  quiet    QUIET seconds, no API request
  flood    FLOOD seconds, CLIENTS concurrent keep-alive clients, each
           sending the next of the heavy endpoints as soon as its last
           answer is in (GET /reputation, /nodes/log_stats, /nodes/logs
           with limit=10000, /chains, /chains/{g}, /chains/{g}/nodes,
           /chains/{g}/blocks, /nodes/{peer}/series)

and reports, per phase: rows the server committed per second (its
tetcore_rows_written_total), the commit latency p50 and p99 (its
tetcore_message_commit_latency_seconds histogram, bucket bounds), the
server's peak resident memory (sampled each second) and, from a probe
process of its own, the latency of GET /healthz five times a second
(answered on the event loop with no query: what the loop's telemetry reads
wait for too) and, in the flood, of GET /nodes/log_stats five times a
second (mostly 503s: how fast a refusal comes); then the flood's answers by
endpoint and status, and the generator's verify (stored, missing,
duplicated).

    swift build -c release --product tetcore-analytics --product tetcore-loadgen
    ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/api_flood.py

Server settings from the environment (API_MAX_QUEUED_REQUESTS, DB_QUERY_POOL_SIZE,
…) are passed on to it.
"""
import argparse, asyncio, http.client, json, multiprocessing, os, queue, subprocess, sys, time
from benchlib import ROOT, SERVER_BINARY, database_url, free_port, psql
from api_latency import fill, percentile

LOADGEN = os.environ.get("LOADGEN_BINARY", os.path.join(ROOT, ".build/release/tetcore-loadgen"))


def metrics(port):
    """The scrape's samples as {series: value}."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/metrics")
    body = connection.getresponse().read().decode()
    connection.close()
    samples = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            samples[series] = float(value)
    return samples


def histogram_quantile(before, after, family, fraction):
    """The upper bound of the bucket holding `fraction` of the observations
    made between two scrapes."""
    buckets = []
    for series, value in after.items():
        if series.startswith(family + "_bucket{"):
            bound = series.split('le="')[1].split('"')[0]
            buckets.append((float("inf") if bound == "+Inf" else float(bound), value - before.get(series, 0)))
    buckets.sort()
    total = buckets[-1][1] if buckets else 0
    for bound, count in buckets:
        if total and count >= fraction * total:
            return bound
    return None


def get_json(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, json.loads(body) if response.status == 200 else None


def probe(port, pid, phase, results, stop, kind, path, flood_only):
    """In a process of its own (the flood's interpreter is saturated, and
    its clock would be the client's, not the server's): GET `path` five
    times a second on a keep-alive connection (only in the flood phase if
    `flood_only`), each timed alone; the /healthz prober also reads the
    server's resident memory and its main thread's (the event loop's) time
    waiting for a CPU each second. Results go to `results` as
    (phase, kind, value)."""
    connection = None
    tick = 0
    while not stop.is_set():
        started = time.monotonic()
        current = phase.value.decode()
        if current == "flood" or not flood_only:
            connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                results.put((current, f"{kind} {response.status}", (time.monotonic() - started) * 1000))
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = None
        if not flood_only and tick % 5 == 0:
            with open(f"/proc/{pid}/status") as status:
                kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            results.put((current, "rss", kib * 1024))
        tick += 1
        stop.wait(max(0, 0.2 - (time.monotonic() - started)))


def schedstat(pid):
    """The main thread's (event loop 0's) CPU time and run-queue wait, in s."""
    with open(f"/proc/{pid}/task/{pid}/schedstat") as stat:
        running, waiting, _ = (int(x) for x in stat.read().split())
    return running / 1e9, waiting / 1e9


async def client(port, paths, deadline, results, offset):
    """One keep-alive client: requests back to back until the deadline."""
    reader = writer = None
    index = offset
    while time.monotonic() < deadline:
        name, path = paths[index % len(paths)]
        index += 1
        started = time.monotonic()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            results.append((name, status, (time.monotonic() - started) * 1000))
            if b"connection: close" in head.lower():
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            results.append((name, f"error {type(error).__name__}", (time.monotonic() - started) * 1000))
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.05)
    if writer is not None:
        writer.close()


def flood(port, paths, clients, seconds):
    results = []
    deadline = time.monotonic() + seconds

    async def all_clients():
        await asyncio.gather(*(client(port, paths, deadline, results, i) for i in range(clients)))

    asyncio.run(all_clients())
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the pre-filled database")
    parser.add_argument("--nodes", type=int, default=1000, help="synthetic nodes of the pre-filled rows")
    parser.add_argument("--peerset", type=int, default=200, help="entries in each filled network state's peerset")
    parser.add_argument("--loadgen-nodes", type=int, default=1000, help="realistic nodes ingesting throughout")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--warm-up", type=int, default=20, help="seconds before the quiet phase (ramp-up is 10 s)")
    parser.add_argument("--quiet", type=int, default=60)
    parser.add_argument("--flood", type=int, default=60)
    parser.add_argument("--reuse", metavar="DATABASE", help="a database filled (and kept) by an earlier run")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    admin = os.environ.get("ADMIN_DATABASE_URL") or sys.exit("set ADMIN_DATABASE_URL (a database to create the benchmark database from)")
    db_name = args.reuse or f"api_flood_{os.getpid()}"
    db_url = database_url(admin, db_name)
    env = dict(os.environ, DATABASE_URL=db_url, LOG_LEVEL="warning")
    if not args.reuse:
        psql(admin, f"CREATE DATABASE {db_name}")
    server = loadgen = None
    try:
        subprocess.run([SERVER_BINARY, "migrate"], cwd=ROOT, env=env, check=True)
        if not args.reuse:
            begin = time.monotonic()
            fill(db_url, args.nodes, args.rows, args.peerset, float(psql(db_url, "SELECT extract(epoch FROM now())")))
            print(f"filled {args.rows} rows in {time.monotonic() - begin:.0f} s", flush=True)
        psql(db_url, "SELECT tetcore_create_log_partitions(3)")
        port = free_port()
        server = subprocess.Popen([SERVER_BINARY], cwd=ROOT, env=dict(env, PORT=str(port), HOST="127.0.0.1"))
        for _ in range(600):
            try:
                if get_json(port, "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("server not ready in 60 s")

        total = args.warm_up + args.quiet + args.flood + 5
        loadgen = subprocess.Popen([LOADGEN, "--url", f"ws://127.0.0.1:{port}", "--nodes", str(args.loadgen_nodes),
                                    "--ramp-up", "10s", "--duration", f"{total}s", "--verify", db_url,
                                    "--verify-timeout", "120s", "--json"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        phase, stop, samples = multiprocessing.Array("c", 16), multiprocessing.Event(), multiprocessing.Queue()
        phase.value = b"warm-up"
        filled_peer = "synthetic000001"
        probers = [multiprocessing.Process(target=probe, args=(port, server.pid, phase, samples, stop, *what))
                   for what in (("healthz", "/healthz", False), ("heavy", f"/nodes/log_stats?peer_id={filled_peer}", True))]
        for prober in probers:
            prober.start()
        time.sleep(args.warm_up)

        chains = get_json(port, "/chains")[1] or []
        genesis = chains[0]["genesis_hash"] if chains else "0x00"
        nodes = get_json(port, f"/chains/{genesis}/nodes")[1] or []
        live_peer = nodes[0]["peer_id"] if nodes else "none"
        paths = [
            ("/reputation", "/reputation"),
            ("/nodes/log_stats", f"/nodes/log_stats?peer_id={filled_peer}"),
            ("/nodes/logs", f"/nodes/logs?peer_id={filled_peer}&limit=10000"),
            ("/chains", "/chains"),
            ("/chains/{g}", f"/chains/{genesis}"),
            ("/chains/{g}/nodes", f"/chains/{genesis}/nodes"),
            ("/chains/{g}/blocks", f"/chains/{genesis}/blocks"),
            ("/nodes/{peer}/series", f"/nodes/{live_peer}/series?metric=peers"),
        ]

        phase.value = b"quiet"
        quiet_start, quiet_t, quiet_sched = metrics(port), time.monotonic(), schedstat(server.pid)
        time.sleep(args.quiet)
        phase.value = b"flood"
        flood_start, flood_t, flood_sched = metrics(port), time.monotonic(), schedstat(server.pid)
        results = flood(port, paths, args.clients, args.flood)
        flood_end, end_t, end_sched = metrics(port), time.monotonic(), schedstat(server.pid)
        phase.value = b"tail"
        summary = json.loads(loadgen.communicate(timeout=total + 300)[0])
        stop.set()
        probed = {}
        while any(p.is_alive() for p in probers) or not samples.empty():
            try:
                when, kind, value = samples.get(timeout=1)
                probed.setdefault((when, kind), []).append(value)
            except queue.Empty:
                pass
        for prober in probers:
            prober.join()
        with open(f"/proc/{server.pid}/status") as status:
            peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

        def rate(before, after, seconds):
            return (after["tetcore_rows_written_total"] - before["tetcore_rows_written_total"]) / seconds

        quiet_rate = rate(quiet_start, flood_start, flood_t - quiet_t)
        flood_rate = rate(flood_start, flood_end, end_t - flood_t)
        report = {"quiet": {}, "flood": {}}
        for phase, before, after, r, sched in (("quiet", quiet_start, flood_start, quiet_rate, (quiet_sched, flood_sched)),
                                               ("flood", flood_start, flood_end, flood_rate, (flood_sched, end_sched))):
            seconds = (flood_t - quiet_t) if phase == "quiet" else (end_t - flood_t)
            report[phase] = {
                "rows_per_s": round(r),
                # Of each wall-clock second: the loop thread on a CPU, and
                # runnable but waiting for one (the machine's contention).
                "loop_thread_running_s_per_s": round((sched[1][0] - sched[0][0]) / seconds, 3),
                "loop_thread_waiting_for_cpu_s_per_s": round((sched[1][1] - sched[0][1]) / seconds, 3),
                "commit_latency_p50_s_bucket": histogram_quantile(before, after, "tetcore_message_commit_latency_seconds", 0.5),
                "commit_latency_p99_s_bucket": histogram_quantile(before, after, "tetcore_message_commit_latency_seconds", 0.99),
                "rss_peak_mb": round(max(probed.get((phase, "rss"), [0])) / 2**20),
            }
            for (when, kind), values in sorted(probed.items()):
                if when == phase and kind != "rss":
                    report[phase][f"probe {kind} ms (n, p50, p99, max)"] = [
                        len(values), round(percentile(values, 0.5), 1), round(percentile(values, 0.99), 1), round(max(values), 1)]
        report["ratio_flood_to_quiet"] = round(flood_rate / quiet_rate, 3) if quiet_rate else None
        by_status = {}
        for name, status, _ in results:
            by_status.setdefault(name, {}).setdefault(str(status), 0)
            by_status[name][str(status)] += 1
        rejected = [ms for _, status, ms in results if status == 503]
        report["flood_answers"] = by_status
        report["flood_requests"] = len(results)
        # Timed by the flood's own saturated interpreter: an upper bound;
        # the probe's "heavy 503" is the server's answer time.
        report["flood_client_503_ms_p50"] = round(percentile(rejected, 0.5), 1) if rejected else None
        report["flood_client_503_ms_p99"] = round(percentile(rejected, 0.99), 1) if rejected else None
        report["flood_client_200_ms_p99"] = round(percentile([ms for _, s, ms in results if s == 200], 0.99), 1)
        report["rejected_by_server"] = {k.split('"')[1]: v - flood_start.get(k, 0) for k, v in flood_end.items()
                                        if k.startswith("tetcore_api_requests_rejected_total{")}
        report["server_rss_peak_mb"] = round(peak / 2**20)
        report["server_cpu_s"] = {"quiet": round(flood_start["process_cpu_seconds_total"] - quiet_start["process_cpu_seconds_total"], 1),
                                  "flood": round(flood_end["process_cpu_seconds_total"] - flood_start["process_cpu_seconds_total"], 1)}
        report["loadgen"] = {"messages": summary.get("messages"), "errors": summary.get("errors"), "verify": summary.get("verify")}
        print(json.dumps(report, indent=2))
    finally:
        for process in (loadgen, server):
            if process and process.poll() is None:
                process.terminate()
                process.wait(60)
        if not args.keep and not args.reuse:
            psql(admin, f"DROP DATABASE IF EXISTS {db_name}")


if __name__ == "__main__":
    main()
