#!/usr/bin/env python3
"""Purging expired rows: the old design (chunked DELETE on one table) against
the partitioned one (drop whole days), with a COPY running alongside.

Builds two fresh databases with ROWS expired rows spread over 10 days (the
catalogue's mix, 100 connections): one with only Migrations/0001 (the table
before partitioning), one with every migration. Then for each:
  - the purge the server runs: the old statement in 10,000-row chunks until
    nothing is left, or tetcore_drop_expired_log_partitions() followed by the
    chunked delete of what remains (nothing, here);
  - meanwhile, in another session, a COPY of 200,000 fresh rows, to see what
    ingestion gets while the purge runs, next to the same COPY with no purge.

    ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/purge.py --rows 10000000
"""
import argparse, os, shutil, subprocess, sys, tempfile, threading, time
from benchlib import ROOT, psql

OLD_CHUNK = """
WITH doomed AS (SELECT l.id FROM tetcore_logs l JOIN peer_connections pc ON pc.id = l.peer_connection_id
 WHERE NOT pc.audit AND l.created_at < (now() AT TIME ZONE 'utc') - make_interval(hours => 24) ORDER BY l.created_at LIMIT 10000),
deleted AS (DELETE FROM tetcore_logs WHERE id IN (SELECT id FROM doomed) RETURNING 1)
SELECT count(*) FROM deleted"""
NEW_CHUNK = """
WITH boundary AS (SELECT created_at FROM tetcore_logs WHERE NOT audit AND created_at < (now() AT TIME ZONE 'utc') - interval '24 hours'
 ORDER BY created_at OFFSET 9999 LIMIT 1),
deleted AS (DELETE FROM tetcore_logs WHERE NOT audit AND created_at < (now() AT TIME ZONE 'utc') - interval '24 hours'
 AND created_at <= coalesce((SELECT created_at FROM boundary), 'infinity') RETURNING 1)
SELECT count(*) FROM deleted"""
FILL = """
INSERT INTO peer_connections (id, ip_addr) SELECT n, '10.0.0.' || n || ':1' FROM generate_series(1, 100) n;
INSERT INTO tetcore_logs (created_at, logs, peer_connection_id)
SELECT (now() AT TIME ZONE 'utc') - interval '12 days' + n * (interval '10 days' / {rows}),
       jsonb_build_object('msg', 'system.interval', 'peers', n % 50, 'height', n, 'best', md5(n::text)),
       1 + n % 100
FROM generate_series(1, {rows}) n"""


def migrate(url, directory):
    binary = os.environ.get("SERVER_BINARY", os.path.join(ROOT, ".build/release/tetcore-analytics"))
    env = dict(os.environ, DATABASE_URL=url, LOG_LEVEL="warning", MIGRATIONS_PATH=directory)
    subprocess.run([binary, "migrate"], cwd=ROOT, env=env, check=True)


def copy_rate(url, data, rows):
    t0 = time.monotonic()
    psql(url, "COPY tetcore_logs (peer_connection_id, created_at, logs) FROM STDIN", stdin=data)
    return rows / (time.monotonic() - t0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    admin = os.environ.get("ADMIN_DATABASE_URL") or sys.exit("set ADMIN_DATABASE_URL")
    fresh = "\n".join(f"{1 + i % 100}\t2099-01-01 00:00:{i % 60:02d}\t{{\"msg\":\"fresh\",\"n\":{i}}}" for i in range(200_000)) + "\n"
    initial_only = tempfile.mkdtemp()
    shutil.copy(os.path.join(ROOT, "Migrations/0001_initial_schema.sql"), initial_only)
    results = {}
    try:
        for design, migrations, chunk in (("old: chunked DELETE", initial_only, OLD_CHUNK),
                                          ("new: drop partitions", os.path.join(ROOT, "Migrations"), NEW_CHUNK)):
            db = f"purge_{os.getpid()}_{len(results)}"
            url = admin.rsplit("/", 1)[0] + "/" + db
            psql(admin, f"CREATE DATABASE {db}")
            try:
                migrate(url, migrations)
                if chunk is NEW_CHUNK:
                    psql(url, "SELECT tetcore_create_log_partitions(12, ((now() AT TIME ZONE 'utc') - interval '12 days')::date)")
                t0 = time.monotonic()
                psql(url, FILL.format(rows=args.rows))
                psql(url, "VACUUM ANALYZE")
                fill_seconds = time.monotonic() - t0
                quiet = copy_rate(url, fresh.encode(), 200_000)

                during = []
                copier = threading.Thread(target=lambda: during.append(copy_rate(url, fresh.encode(), 200_000)))
                t0 = time.monotonic()
                copier.start()
                dropped = 0
                if chunk is NEW_CHUNK:
                    dropped = int(psql(url, "SELECT rows_dropped FROM tetcore_drop_expired_log_partitions(24)"))
                deleted = 0
                while (n := int(psql(url, chunk))) > 0:
                    deleted += n
                purge_seconds = time.monotonic() - t0
                copier.join()
                left = int(psql(url, "SELECT count(*) FROM tetcore_logs WHERE created_at < now() - interval '1 day'"))
                results[design] = (purge_seconds, dropped, deleted, left, quiet, during[0], fill_seconds)
            finally:
                psql(admin, f"DROP DATABASE {db} WITH (FORCE)")
    finally:
        shutil.rmtree(initial_only)

    print(f"{args.rows:,} expired rows over 10 days; COPY of 200,000 fresh rows alongside")
    for design, (seconds, dropped, deleted, left, quiet, during, fill) in results.items():
        print(f"{design:22s} purge {seconds:8.2f} s  (dropped {dropped:,} rows, deleted {deleted:,}, left {left})  "
              f"COPY alone {quiet:,.0f} rows/s, during the purge {during:,.0f} rows/s  [fill {fill:.0f} s]")


if __name__ == "__main__":
    main()
