-- Per-node history (issue 15): one row per node per step
-- (NETWORK_SERIES_STEP_S, one minute by default) while it is online,
-- written by the event loop the node is connected to. Kept for
-- NETWORK_HISTORY_EXPIRY_H, independently of LOG_EXPIRY_H: the raw
-- telemetry it was derived from may be long gone.
--
--   network_node_series                 PARTITION BY RANGE (at)
--     network_node_series_YYYYMM        one per UTC month, made ahead by the server
--     network_node_series_default       rows of months without a partition
--
-- Expiry drops whole months, then deletes what is left before the cutoff.
-- A node is numbered (network_node_ids) rather than named: a row is then
-- 4 bytes of node instead of the 53 of a peer id.
CREATE TABLE network_node_series (
    node_id            integer NOT NULL,
    -- Start of the step, UTC.
    at                 timestamp NOT NULL,
    -- Blocks the node's best was behind its chain's best at the step's end.
    best_lag           integer,
    -- The node's best minus its finalized height.
    finality_lag       integer,
    peers              integer,
    txcount            integer,
    block_time_ms      integer,
    -- Bytes per second; integer (up to 2 GB/s) keeps rows 8 bytes shorter.
    bandwidth_download integer,
    bandwidth_upload   integer,
    -- Covering: a node's rows of a window are read from the index alone
    -- (index-only scan), in order, instead of one heap page per row (rows
    -- are written a step at a time for every node, so a node's rows are
    -- scattered over the heap). 30 days of one node among 50 million rows:
    -- 223 ms at the median without INCLUDE (docs/performance.md).
    PRIMARY KEY (node_id, at) INCLUDE (best_lag, finality_lag, peers, txcount, block_time_ms, bandwidth_download,
                                       bandwidth_upload)
) PARTITION BY RANGE (at);
CREATE TABLE network_node_series_default PARTITION OF network_node_series DEFAULT;

-- Makes the monthly partitions of this month and the next `months_ahead`
-- that do not exist yet; returns how many it made. A month with rows in the
-- default partition keeps them there. Serialised across instances.
CREATE FUNCTION tetcore_create_series_partitions(months_ahead integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    month date;
    made integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(2116820450); -- series partition maintenance, any instance
    FOR month IN SELECT generate_series(date_trunc('month', now() AT TIME ZONE 'utc'),
                                        date_trunc('month', now() AT TIME ZONE 'utc') + make_interval(months => months_ahead),
                                        interval '1 month')::date LOOP
        CONTINUE WHEN to_regclass('network_node_series_' || to_char(month, 'YYYYMM')) IS NOT NULL;
        CONTINUE WHEN EXISTS (SELECT 1 FROM network_node_series_default
                              WHERE at >= month AND at < month + interval '1 month');
        EXECUTE format('CREATE TABLE %I PARTITION OF network_node_series FOR VALUES FROM (%L) TO (%L)',
                       'network_node_series_' || to_char(month, 'YYYYMM'), month::timestamp,
                       (month + interval '1 month')::timestamp);
        made := made + 1;
    END LOOP;
    RETURN made;
END $$;

-- Drops the monthly partitions that lie wholly before the cutoff, under the
-- network history purge's lock (taken without waiting: `held` is false
-- when another instance is purging).
CREATE FUNCTION tetcore_drop_expired_series_partitions(expiry_hours integer,
    OUT held boolean, OUT partitions integer)
LANGUAGE plpgsql AS $$
DECLARE
    cutoff timestamp := (now() AT TIME ZONE 'utc') - make_interval(hours => expiry_hours);
    part text;
BEGIN
    partitions := 0;
    held := pg_try_advisory_xact_lock(2122059234); -- NetworkHistoryKeeper.lockKey (0x7e7c0de2)
    IF NOT held THEN RETURN; END IF;
    FOR part IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'network_node_series'::regclass AND c.relname ~ '^network_node_series_[0-9]{6}$'
                ORDER BY c.relname LOOP
        CONTINUE WHEN to_date(right(part, 6), 'YYYYMM') + interval '1 month' > cutoff;
        EXECUTE format('DROP TABLE %I', part);
        partitions := partitions + 1;
    END LOOP;
END $$;

SELECT tetcore_create_series_partitions(1);
