#!/usr/bin/env python3
"""What the shape of tetcore_logs costs per row: COPY time and bytes on disk.

Every variant is measured on the shipped, partitioned layout: a fresh
database migrated by the project's own migrations (`tetcore-analytics
migrate`), with the day's partition made as the server makes it, then the
variant's SQL (an index more, an index less, a storage option). ROWS rows
of the catalogue's mix (every message but system.connected, in catalogue
order; system.network_state, 2.5 KB, is one row in NETWORK_STATE_EVERY,
0 for none), spread over 100 connections, with created_at increasing row by
row within one day, are COPYed into tetcore_logs by one session; only the
COPY statement is timed (on the database server's clock). Variants run
interleaved, ROUNDS times each, and the medians are printed, with the bytes
per row on disk: heap, indexes and TOAST of all partitions, against the
bytes of JSON text per row.

    swift build -c release --product tetcore-analytics
    ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/schema_cost.py --rows 200000

--variant NAME=SQL (repeatable) adds a variant; --only NAME (repeatable)
measures only the named ones ("shipped" is always measured: it is the
reference).
"""
import argparse, json, os, sys, tempfile
from benchlib import ROOT, psql, migrated_database, parallel_copy

DAY = "2026-11-29"


def on_every_partition(clause):
    """ALTER TABLE tetcore_logs and each of its partitions (PostgreSQL 15
    does not pass SET COMPRESSION on to existing partitions)."""
    return (f"ALTER TABLE tetcore_logs {clause}; DO $$DECLARE p regclass; BEGIN FOR p IN SELECT inhrelid::regclass "
            f"FROM pg_inherits WHERE inhparent = 'tetcore_logs'::regclass LOOP EXECUTE format('ALTER TABLE %s {clause}', p); "
            "END LOOP; END$$")


VARIANTS = [
    ("no index", "DROP INDEX tetcore_logs_connection_time_idx, tetcore_logs_created_at_idx, tetcore_logs_network_state_idx"),
    ("no partial index on network states", "DROP INDEX tetcore_logs_network_state_idx"),
    ("shipped", ""),
    ("+ foreign key to peer_connections",
     "ALTER TABLE tetcore_logs ADD FOREIGN KEY (peer_connection_id) REFERENCES peer_connections (id)"),
    ("+ index on (logs->>'msg')", "CREATE INDEX ON tetcore_logs ((logs->>'msg'))"),
    ("+ GIN index on logs", "CREATE INDEX ON tetcore_logs USING gin (logs jsonb_path_ops)"),
    # How the JSON is stored (shipped: jsonb, lz4 since Migrations/0010).
    ("jsonb, pglz (before 0010)", on_every_partition("ALTER COLUMN logs SET COMPRESSION pglz")),
    ("jsonb, not compressed", on_every_partition("ALTER COLUMN logs SET STORAGE EXTERNAL")),
    # A change of type resets the column's compression: set again after it.
    ("json (text), lz4", "ALTER TABLE tetcore_logs ALTER COLUMN logs TYPE json; "
                         + on_every_partition("ALTER COLUMN logs SET COMPRESSION lz4")),
    ("json (text), pglz", "ALTER TABLE tetcore_logs ALTER COLUMN logs TYPE json; "
                          + on_every_partition("ALTER COLUMN logs SET COMPRESSION pglz")),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--network-state-every", type=int, default=60, metavar="N",
                        help="one row in N is the catalogue's system.network_state (0: none)")
    parser.add_argument("--peers", type=int, default=0,
                        help="give system.network_state a peerset of this many entries, as benchmarks/ingest.py does "
                             "(1800: about 166 KB); 0 keeps the catalogue's 2.5 KB message")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=SQL")
    parser.add_argument("--only", action="append", metavar="NAME", help="measure only this variant besides shipped (repeatable)")
    args = parser.parse_args()
    admin = os.environ.get("ADMIN_DATABASE_URL") or sys.exit("set ADMIN_DATABASE_URL")
    variants = VARIANTS + [tuple(v.split("=", 1)) for v in args.variant]
    if args.only:
        keep = set(args.only) | {"shipped"}
        variants = [v for v in variants if v[0] in keep]

    catalogue = json.load(open(os.path.join(ROOT, "telemetry_messages.json")))
    small = [m for m in catalogue if m["msg"] not in ("system.network_state", "system.connected")]
    state = next(m for m in catalogue if m["msg"] == "system.network_state")
    if args.peers:
        nodes = {f"12D3KooW{i:044d}": {"connected": i % 3 == 0, "reputation": -i} for i in range(args.peers)}
        state = dict(state, state=dict(state["state"], peerset={"message_queue": 0, "nodes": nodes}))
    lines, json_bytes = [], 0
    for i in range(args.rows):
        message = state if args.network_state_every and i % args.network_state_every == 0 else small[i % len(small)]
        text = json.dumps(message, separators=(",", ":"))
        json_bytes += len(text.encode())
        micros = i * (86_000_000_000 // args.rows)  # increasing, within the day
        lines.append(f"{1 + i % 100}\t{DAY} {micros // 3_600_000_000:02d}:{micros // 60_000_000 % 60:02d}:"
                     f"{micros // 1_000_000 % 60:02d}.{micros % 1_000_000:06d}\t{text.replace(chr(92), chr(92) * 2)}\tf")
    data = tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False)
    data.write("\n".join(lines) + "\n")
    data.close()

    results = {name: [] for name, _ in variants}
    try:
        for round_number in range(args.rounds):
            for index, (name, sql) in enumerate(variants):
                db = f"schema_cost_{os.getpid()}_{round_number}_{index}"
                url = migrated_database(admin, db)
                try:
                    psql(url, f"SELECT tetcore_create_log_partitions(0, '{DAY}')")
                    psql(url, "INSERT INTO peer_connections (ip_addr, audit) SELECT '127.0.0.1:' || n, false "
                              "FROM generate_series(1, 100) n")
                    if sql:
                        psql(url, sql)
                    seconds = parallel_copy(url, [data.name])
                    sizes = psql(url, """
                        SELECT sum(pg_table_size(c.oid) - coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0)),
                               sum(pg_indexes_size(c.oid)), sum(coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0))
                        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                        WHERE i.inhparent = 'tetcore_logs'::regclass""").split("|")
                    results[name].append((args.rows / seconds, *(int(s) / args.rows for s in sizes)))
                finally:
                    psql(admin, f"DROP DATABASE {db} WITH (FORCE)")
    finally:
        os.unlink(data.name)

    median = lambda values: sorted(values)[len(values) // 2]
    base = median([r[0] for r in results["shipped"]])
    text_per_row = json_bytes / args.rows
    print(f"{args.rows:,} rows of the mix ({'one system.network_state in ' + str(args.network_state_every) if args.network_state_every else 'no system.network_state'}, "
          f"{text_per_row:.0f} B of JSON text per row), increasing created_at, COPY by one session into the shipped "
          f"partitioned tetcore_logs and variants of it; medians of {args.rounds} interleaved rounds")
    print(f"{'variant':40s} {'rows/s':>10s} {'vs shipped':>10s} {'us/row':>7s} {'heap B':>7s} {'index B':>7s} {'TOAST B':>7s} {'total B':>7s} {'x text':>6s}")
    for name, _ in variants:
        rounds = results[name]
        rate = median([r[0] for r in rounds])
        heap, index, toast = (median([r[k] for r in rounds]) for k in (1, 2, 3))
        total = heap + index + toast
        print(f"{name:40s} {rate:10,.0f} {rate / base:10.2f} {1e6 / rate:7.2f} {heap:7.0f} {index:7.0f} {toast:7.0f} "
              f"{total:7.0f} {total / text_per_row:6.2f}  {rate * text_per_row / 1e6:6.1f} MB/s  "
              f"(rounds {min(r[0] for r in rounds):,.0f} to {max(r[0] for r in rounds):,.0f} rows/s)")


if __name__ == "__main__":
    main()
