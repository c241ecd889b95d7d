#!/usr/bin/env python3
"""What the shape of tetcore_logs costs per row, measured with COPY.

Creates a fresh database with the project's migrations applied (by running
`tetcore-analytics migrate`), then COPYs the same rows (the catalogue's mix
without system.network_state, spread over 100 connections) into copies of
tetcore_logs that differ in one thing each: no index at all, the shipped
indexes, the shipped indexes plus a foreign key to peer_connections, plus
an expression index on logs->>'msg', plus a GIN index on logs. Every variant
runs ROUNDS times, interleaved, and the median rate is printed.

    swift build -c release --product tetcore-analytics
    ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/schema_cost.py --rows 200000
"""
import argparse, json, os, re, subprocess, sys, time
from benchlib import ROOT, psql


VARIANTS = [
    ("no index", []),
    ("shipped indexes", ["INDEXES"]),
    ("+ foreign key to peer_connections", ["INDEXES", "ALTER TABLE {t} ADD FOREIGN KEY (peer_connection_id) REFERENCES peer_connections (id)"]),
    ("+ index on (logs->>'msg')", ["INDEXES", "CREATE INDEX ON {t} ((logs->>'msg'))"]),
    ("+ GIN index on logs", ["INDEXES", "CREATE INDEX ON {t} USING gin (logs jsonb_path_ops)"]),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    admin = os.environ.get("ADMIN_DATABASE_URL") or sys.exit("set ADMIN_DATABASE_URL")
    db_name = f"schema_cost_{os.getpid()}"
    db_url = admin.rsplit("/", 1)[0] + "/" + db_name
    psql(admin, f"CREATE DATABASE {db_name}")
    try:
        binary = os.environ.get("SERVER_BINARY", os.path.join(ROOT, ".build/release/tetcore-analytics"))
        subprocess.run([binary, "migrate"], cwd=ROOT, env=dict(os.environ, DATABASE_URL=db_url, LOG_LEVEL="warning"),
                       check=True)
        psql(db_url, "INSERT INTO peer_connections (ip_addr, audit) SELECT '127.0.0.1:' || n, false FROM generate_series(1, 100) n")
        ids = psql(db_url, "SELECT id FROM peer_connections ORDER BY id").split()
        catalogue = json.load(open(os.path.join(ROOT, "telemetry_messages.json")))
        mix = [m for m in catalogue if m["msg"] not in ("system.network_state", "system.connected")]
        lines = []
        for i in range(args.rows):
            text = json.dumps(mix[i % len(mix)], separators=(",", ":")).replace("\\", "\\\\")
            lines.append(f"{ids[i % len(ids)]}\t2026-11-29 09:00:{i % 60:02d}.{i % 1000000:06d}\t{text}")
        data = ("\n".join(lines) + "\n").encode()
        indexes = psql(db_url, "SELECT indexdef FROM pg_indexes WHERE tablename = 'tetcore_logs' AND indexname NOT LIKE '%pkey'").splitlines()

        rates = {name: [] for name, _ in VARIANTS}
        for _ in range(args.rounds):
            for name, steps in VARIANTS:
                psql(db_url, "DROP TABLE IF EXISTS variant; CREATE TABLE variant (LIKE tetcore_logs INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
                for step in steps:
                    for sql in (indexes if step == "INDEXES" else [step]):
                        sql = re.sub(r"INDEX \S+ ON public\.tetcore_logs", "INDEX ON variant", sql)  # unnamed copy
                        psql(db_url, sql.replace("{t}", "variant"))
                t0 = time.monotonic()
                psql(db_url, "COPY variant (peer_connection_id, created_at, logs) FROM STDIN", stdin=data)
                rates[name].append(args.rows / (time.monotonic() - t0))
    finally:
        psql(admin, f"DROP DATABASE {db_name} WITH (FORCE)")

    base = sorted(rates["shipped indexes"])[args.rounds // 2]
    print(f"{args.rows} rows of the mix, COPY into tetcore_logs variants, median of {args.rounds} rounds")
    print("shipped indexes: " + "; ".join(indexes))
    for name, _ in VARIANTS:
        rate = sorted(rates[name])[args.rounds // 2]
        print(f"{name:40s} {rate:10,.0f} rows/s  {rate / base:5.2f} x shipped  {1e6 / rate:6.2f} us/row")


if __name__ == "__main__":
    main()
