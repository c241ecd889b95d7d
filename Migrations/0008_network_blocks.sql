-- Block propagation (issue 15): for each block (chain, height, hash), when
-- it was first seen and by which node, how many nodes imported it, and the
-- delays after the first sighting. All times on the receiving servers'
-- clocks.
--
-- Each event loop writes what its own nodes imported, as a row of its own
-- (writer = instance and loop), with every import as milliseconds after
-- that loop's first sighting. Reading them together gives the exact
-- figures across loops and instances: a loop's offsets are shifted by how
-- much later than the earliest loop it saw the block.
CREATE TABLE network_block_arrivals (
    genesis_hash  text NOT NULL,
    height        bigint NOT NULL,
    hash          text NOT NULL,
    writer        text NOT NULL,
    first_seen    timestamp NOT NULL,
    first_peer_id text NOT NULL,
    arrivals_ms   integer[] NOT NULL,
    PRIMARY KEY (genesis_hash, height, hash, writer)
);
CREATE INDEX network_block_arrivals_first_seen_idx ON network_block_arrivals (first_seen);

-- Blocks whose imports are complete (older than the propagation window)
-- are compacted into one row each, with their figures, and their arrival
-- rows deleted (tetcore_compact_block_arrivals). Kept for
-- NETWORK_HISTORY_EXPIRY_H.
CREATE TABLE network_blocks (
    genesis_hash       text NOT NULL,
    height             bigint NOT NULL,
    hash               text NOT NULL,
    first_seen         timestamp NOT NULL,
    first_peer_id      text NOT NULL,
    nodes              integer NOT NULL,
    propagation_p50_ms integer NOT NULL,
    propagation_p90_ms integer NOT NULL,
    propagation_p99_ms integer NOT NULL,
    propagation_max_ms integer NOT NULL,
    PRIMARY KEY (genesis_hash, height, hash)
);
CREATE INDEX network_blocks_chain_time_idx ON network_blocks (genesis_hash, first_seen);
CREATE INDEX network_blocks_first_seen_idx ON network_blocks (first_seen);

-- The figures of blocks still made of arrival rows. Percentiles are
-- nearest rank (percentile_disc), as NetworkModel's Percentile.
CREATE VIEW network_block_arrivals_summary AS
SELECT genesis_hash, height, hash, min(first_seen) AS first_seen,
       (array_agg(first_peer_id ORDER BY first_seen, writer))[1] AS first_peer_id,
       count(*)::integer AS nodes,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY delay_ms)::integer AS propagation_p50_ms,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY delay_ms)::integer AS propagation_p90_ms,
       percentile_disc(0.99) WITHIN GROUP (ORDER BY delay_ms)::integer AS propagation_p99_ms,
       max(delay_ms)::integer AS propagation_max_ms
FROM (SELECT a.genesis_hash, a.height, a.hash, a.writer, a.first_seen, a.first_peer_id,
             round(extract(epoch FROM a.first_seen - min(a.first_seen) OVER w) * 1000)::bigint + u.offset_ms AS delay_ms
      FROM network_block_arrivals a
      CROSS JOIN LATERAL unnest(a.arrivals_ms) AS u(offset_ms)
      WINDOW w AS (PARTITION BY a.genesis_hash, a.height, a.hash)) d
GROUP BY genesis_hash, height, hash;

-- Every block: compacted, or still made of arrival rows (those whose block
-- is already compacted, written late, are left out).
CREATE VIEW network_block_propagation AS
SELECT genesis_hash, height, hash, first_seen, first_peer_id, nodes,
       propagation_p50_ms, propagation_p90_ms, propagation_p99_ms, propagation_max_ms
FROM network_blocks
UNION ALL
SELECT s.* FROM network_block_arrivals_summary s
WHERE NOT EXISTS (SELECT 1 FROM network_blocks b
                  WHERE b.genesis_hash = s.genesis_hash AND b.height = s.height AND b.hash = s.hash);

-- Compacts the blocks all of whose arrival rows were first seen more than
-- `older_than_s` seconds ago; returns how many. Under the network history
-- lock, without waiting.
CREATE FUNCTION tetcore_compact_block_arrivals(older_than_s integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    cutoff timestamp := (now() AT TIME ZONE 'utc') - make_interval(secs => older_than_s);
    made integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock(2122059234) THEN RETURN 0; END IF;
    CREATE TEMPORARY TABLE done_blocks ON COMMIT DROP AS
    SELECT genesis_hash, height, hash FROM network_block_arrivals
    GROUP BY genesis_hash, height, hash HAVING max(first_seen) < cutoff;
    INSERT INTO network_blocks
    SELECT s.* FROM network_block_arrivals_summary s JOIN done_blocks USING (genesis_hash, height, hash)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS made = ROW_COUNT;
    DELETE FROM network_block_arrivals a USING done_blocks d
    WHERE a.genesis_hash = d.genesis_hash AND a.height = d.height AND a.hash = d.hash;
    DROP TABLE done_blocks;
    RETURN made;
END $$;
