-- The original service's tables, kept column for column so existing SQL and
-- Grafana dashboards keep working; the log table is named tetcore_logs.
-- Timestamps are UTC wall-clock values in `timestamp` columns, as before.

CREATE TABLE peer_connections (
    id             serial PRIMARY KEY,
    ip_addr        text NOT NULL,
    peer_id        text,
    created_at     timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    audit          boolean NOT NULL DEFAULT false,
    name           text,
    chain          text,
    version        text,
    authority      boolean,
    startup_time   bigint,
    implementation text
);
-- /nodes and every per-peer query start from a peer id.
CREATE INDEX peer_connections_peer_id_idx ON peer_connections (peer_id, id);

-- One row per telemetry message. No foreign key to peer_connections: the
-- per-row check costs ingestion more than it protects (rows are only ever
-- written for connections the server created, and purge removes a
-- connection only once it has no logs and is closed).
CREATE TABLE tetcore_logs (
    id                 bigserial PRIMARY KEY,
    created_at         timestamp NOT NULL,
    logs               jsonb NOT NULL,
    peer_connection_id integer NOT NULL
);
-- Per-node log queries (newest first) and the per-connection purge check.
CREATE INDEX tetcore_logs_connection_time_idx ON tetcore_logs (peer_connection_id, created_at);
-- Purge of expired rows by age.
CREATE INDEX tetcore_logs_created_at_idx ON tetcore_logs (created_at);

-- Exactly-once ingestion: every batch insert also records its batch id here
-- in the same statement, so a batch retried after a lost connection is
-- recognised and skipped. Rows are purged after a day.
CREATE TABLE ingest_batches (
    id           text PRIMARY KEY,
    committed_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE host_systems (
    id          serial PRIMARY KEY,
    description text NOT NULL,
    os          text NOT NULL,
    cpu_qty     integer NOT NULL,
    cpu_clock   integer NOT NULL,
    ram_mb      integer NOT NULL,
    disk_info   text NOT NULL
);

CREATE TABLE benchmarks (
    id             serial PRIMARY KEY,
    ts_start       timestamp NOT NULL,
    ts_end         timestamp NOT NULL,
    description    text,
    chain_spec     jsonb,
    benchmark_spec jsonb NOT NULL,
    host_system_id integer NOT NULL REFERENCES host_systems (id),
    created_at     timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

CREATE TABLE benchmark_events (
    id           serial PRIMARY KEY,
    benchmark_id integer NOT NULL REFERENCES benchmarks (id),
    name         text NOT NULL,
    phase        text NOT NULL,
    created_at   timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX benchmark_events_benchmark_id_idx ON benchmark_events (benchmark_id, created_at);
