#!/usr/bin/env python3
"""A database outage under realistic load, with the disk spool.

Starts a PostgreSQL cluster of its own (so that it may stop it), the server
with SPOOL_DIR set, and tetcore-loadgen with --nodes realistic nodes and
--verify. After the ramp-up and --warmup seconds, PostgreSQL is stopped
(`pg_ctl -m immediate`) for --minutes, then started again; the load goes on
for --recover seconds more. Every --sample-every seconds the server's RSS,
buffered bytes, spool bytes and rows spooled and replayed are printed.

Reported, as a table and a last JSON line:
- messages lost: loadgen --verify's missing and duplicated, plus messages
  the nodes had to hold back (throttled: backpressure);
- spool bytes per message: the spool's size at the end of the outage over
  the rows it held;
- replay: rows replayed per second from PostgreSQL's restart until the
  spool was empty (live traffic flowing meanwhile), against PostgreSQL's own
  COPY rate for the same rows (the run's rows exported and COPYed by
  DB_POOL_SIZE sessions into a migrated twin, as benchmarks/ingest.py does);
- the server's RSS before and during the outage.

    swift build -c release
    benchmarks/outage.py --minutes 3 --nodes 500

PostgreSQL's binaries come from PG_BIN_DIR or the newest
/usr/lib/postgresql/N/bin; as root they run as the postgres user.
"""
import argparse, json, os, resource, shutil, subprocess, sys, tempfile, time, urllib.request

from benchlib import parse_metrics, ROOT, SERVER_BINARY, psql, free_port, migrated_database, export_rows, split_lines, parallel_copy


class Cluster:
    """A throwaway PostgreSQL cluster in a temporary directory."""

    def __init__(self):
        self.bin = os.environ.get("PG_BIN_DIR") or self.newest_bin()
        self.root = tempfile.mkdtemp(prefix="outage-pg-")
        self.data = os.path.join(self.root, "data")
        self.port = free_port()
        self.admin = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        if os.getuid() == 0:
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, "postgres", "postgres")
        self.run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        self.start()

    @staticmethod
    def newest_bin():
        base = "/usr/lib/postgresql"
        for version in sorted((int(v) for v in os.listdir(base) if v.isdigit()), reverse=True):
            if os.path.exists(f"{base}/{version}/bin/initdb"):
                return f"{base}/{version}/bin"
        sys.exit("no PostgreSQL server binaries: set PG_BIN_DIR")

    def run(self, program, *arguments):
        command = [os.path.join(self.bin, program), *arguments]
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--"] + command
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

    def start(self):
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} -c max_connections=200"
        self.run("pg_ctl", "-D", self.data, "-o", options, "-l", os.path.join(self.root, "server.log"), "-w", "-t", "60", "start")

    def stop(self):
        self.run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def destroy(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)


def metrics(port):
    return parse_metrics(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode())


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3, help="length of the outage")
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=60, help="seconds of load before the outage, after the ramp-up")
    parser.add_argument("--recover", type=int, default=240, help="seconds of load after PostgreSQL is back")
    parser.add_argument("--max-buffered-bytes", type=int, default=256 << 20, help="MAX_BUFFERED_BYTES (the server's default)")
    parser.add_argument("--spool-max-bytes", type=int, default=10 << 30)
    parser.add_argument("--sample-every", type=float, default=10)
    args = parser.parse_args()
    pool_size = int(os.environ.get("DB_POOL_SIZE", "2"))
    ramp_up = min(30, max(1, args.nodes // 100))
    outage_s = args.minutes * 60
    duration = ramp_up + args.warmup + outage_s + args.recover
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    cluster = Cluster()
    spool = tempfile.mkdtemp(prefix="outage-spool-")
    server = loadgen = None
    samples = []
    try:
        db_url = migrated_database(cluster.admin, "outage")
        twin_url = migrated_database(cluster.admin, "outage_copy")
        port = free_port()
        env = dict(os.environ, DATABASE_URL=db_url, PORT=str(port), HOST="127.0.0.1", LOG_LEVEL="notice",
                   SPOOL_DIR=spool, SPOOL_MAX_BYTES=str(args.spool_max_bytes),
                   MAX_BUFFERED_BYTES=str(args.max_buffered_bytes), DB_POOL_SIZE=str(pool_size))
        log_path = spool + ".log"
        print(f"server log: {log_path}", flush=True)
        log = open(log_path, "w")
        server = subprocess.Popen([SERVER_BINARY, "serve"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(600):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        loadgen_binary = os.environ.get("LOADGEN_BINARY", os.path.join(ROOT, ".build/release/tetcore-loadgen"))
        report_file = tempfile.TemporaryFile()
        loadgen = subprocess.Popen(
            [loadgen_binary, "--url", f"ws://127.0.0.1:{port}/", "--nodes", str(args.nodes), "--profile", "realistic",
             "--duration", f"{duration:g}s", "--ramp-up", f"{ramp_up}s", "--verify", db_url, "--verify-timeout", "900s",
             "--json", "--no-progress"], cwd=ROOT, stdout=report_file, stderr=subprocess.DEVNULL)
        start = time.monotonic()
        phase, stopped_at, restarted_at, replay_started_at, drained_at = "warm-up", None, None, None, None
        rss_before = rss_outage = 0
        at_outage_end = at_restart_replayed = None
        print(f"{'t':>6} {'phase':>8} {'RSS MiB':>8} {'buffered MiB':>12} {'spool MiB':>9} {'rows spooled':>12} "
              f"{'rows replayed':>13} {'rows written':>12}", flush=True)
        next_sample = start
        while loadgen.poll() is None or (restarted_at and not drained_at):
            now = time.monotonic() - start
            if phase == "warm-up" and now >= ramp_up + args.warmup:
                rss_before = rss_kib(server.pid)
                cluster.stop()
                stopped_at, phase = now, "outage"
            elif phase == "outage" and now >= stopped_at + outage_s:
                at_outage_end = metrics(port)
                cluster.start()
                restarted_at, phase = time.monotonic() - start, "replay"
                at_restart_replayed = at_outage_end.get("tetcore_spool_rows_replayed_total", 0)
            values = metrics(port)
            if phase == "outage":
                rss_outage = max(rss_outage, rss_kib(server.pid))
            # Replay starts when a write connection is back (the pool's
            # reconnect backoff is up to 10 s after PostgreSQL is).
            if phase == "replay" and replay_started_at is None \
                    and values.get("tetcore_spool_rows_replayed_total", 0) > at_restart_replayed:
                replay_started_at = time.monotonic() - start
            if phase == "replay" and not drained_at and values.get("tetcore_spool_bytes", 1) == 0:
                drained_at = time.monotonic() - start
                drained_values = values
                phase = "after"
            if time.monotonic() >= next_sample:
                next_sample += args.sample_every
                samples.append((now, phase, rss_kib(server.pid), values))
                print(f"{now:6.0f} {phase:>8} {rss_kib(server.pid) / 1024:8.1f} {values.get('tetcore_buffered_bytes', 0) / 2**20:12.1f} "
                      f"{values.get('tetcore_spool_bytes', 0) / 2**20:9.1f} {values.get('tetcore_spool_rows_spooled_total', 0):12,.0f} "
                      f"{values.get('tetcore_spool_rows_replayed_total', 0):13,.0f} {values.get('tetcore_rows_written_total', 0):12,.0f}",
                      flush=True)
            # Finer while replaying: its duration is timed by these polls.
            time.sleep(0.1 if phase == "replay" else 0.5)
        loadgen.wait()
        report_file.seek(0)
        report = json.loads(report_file.read().decode().strip().splitlines()[-1])
        verify = report.get("verify", {})

        # PostgreSQL's COPY rate for the rows the run stored.
        export = spool + ".tsv"
        export_rows(db_url, "true", export)
        parts = split_lines(export, pool_size)
        copy_seconds = parallel_copy(twin_url, parts)
        copied = int(psql(twin_url, "SELECT count(*) FROM tetcore_logs"))
        for path in parts + [export]:
            os.unlink(path)
    finally:
        if loadgen and loadgen.poll() is None:
            loadgen.kill()
        if server:
            server.terminate()
            server.wait(timeout=60)
        cluster.destroy()
        shutil.rmtree(spool, ignore_errors=True)

    spooled_rows = at_outage_end.get("tetcore_spool_rows_spooled_total", 0)
    replayed = drained_values.get("tetcore_spool_rows_replayed_total", 0) - at_restart_replayed
    replay_s = drained_at - (replay_started_at or restarted_at)
    summary = {
        "nodes": args.nodes, "outage_minutes": args.minutes,
        "messages": report.get("messages"), "missing": verify.get("missing"), "duplicated": verify.get("duplicated"),
        "throttled": report.get("throttled"), "loadgen_errors": report.get("errors"), "reconnects": report.get("reconnects"),
        "rows_spooled": spooled_rows, "spool_bytes_at_outage_end": at_outage_end.get("tetcore_spool_bytes"),
        "spool_bytes_per_message": at_outage_end.get("tetcore_spool_bytes", 0) / spooled_rows if spooled_rows else None,
        "spool_full_events": drained_values.get("tetcore_spool_full_total"),
        "reconnect_seconds": round((replay_started_at or restarted_at) - restarted_at, 1), "replay_seconds": round(replay_s, 1), "rows_replayed": replayed, "replay_rows_per_s": round(replayed / replay_s),
        "copy_rows_per_s": round(copied / copy_seconds), "copy_sessions": pool_size,
        "rss_mib_before_outage": round(rss_before / 1024, 1), "rss_mib_peak_in_outage": round(rss_outage / 1024, 1),
        "server_exit_status": server.returncode,
    }
    summary["messages_lost"] = (verify.get("missing") or 0) + (report.get("throttled") or 0)
    # The server's log is kept only when something went wrong.
    if summary["messages_lost"] == 0 and not verify.get("duplicated") and server.returncode == 0:
        os.unlink(log_path)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
