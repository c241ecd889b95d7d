-- /reputation/{peer_id} no longer decompresses every network state it
-- passes (issue 18).
--
-- Each system.network_state row gets the hashes of its peerset's peer ids
-- (`state.peerset.nodes`' keys) in peerset_hashes: 4 bytes a peer, 1.2 KB
-- for a peerset of 300, kept in the row itself, uncompressed. The writer's
-- insert statement fills it (BatchWriter.insertStatement); other rows leave
-- it NULL, which costs no byte (the row header has room for the null
-- bitmap of these six columns).
--
-- The per-peer walk (0011) then reads a row's JSON only when the peer's
-- hash is among the row's: about as many rows as it returns, instead of
-- every row it passes, which is 5 in 6 of them when one reporter in five
-- knows the peer, and all of them for a peer no one knows. A hash that
-- matches by chance only costs that one read: the answer still comes from
-- the JSON. Rows without hashes (stored before this migration, or written
-- by SQL that does not set them) are read as before, so every answer stays
-- what it was; `UPDATE tetcore_logs SET peerset_hashes =
-- tetcore_peerset_hashes(logs) WHERE logs->>'msg' = 'system.network_state'`
-- fills them in for old rows, if wanted.
--
-- Adding a column without a default rewrites nothing.
ALTER TABLE tetcore_logs ADD COLUMN peerset_hashes integer[];

-- The hashes of a network state's peer ids, in the peerset's key order; an
-- empty array when `state.peerset.nodes` is not an object (no peer can
-- match, as before). hashtext is PostgreSQL's own text hash, the one hash
-- partitions and hash indexes rely on staying the same across versions.
CREATE FUNCTION tetcore_peerset_hashes(logs jsonb) RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN jsonb_typeof(logs->'state'->'peerset'->'nodes') = 'object'
            THEN ARRAY(SELECT hashtext(k) FROM jsonb_object_keys(logs->'state'->'peerset'->'nodes') k)
            ELSE '{}'::integer[] END;

-- 0011's walk with the hashes first: the index scan's filter drops rows
-- whose hashes do not have the peer's, without reading their JSON; the
-- rows left are checked against the JSON itself. One SQL statement under
-- the same settings: sorting, sequential and bitmap scans off, custom
-- plans (both ends of the window bound the index scan), no JIT, so the plan stays
-- the walk newest first through tetcore_logs_network_state_idx, and LIMIT
-- stops it at the `max_rows`-th match. OFFSET 0 keeps the JSON test above
-- the scan, where it runs only on rows that passed the hashes.
CREATE OR REPLACE FUNCTION tetcore_peer_reputation_entries(peer text, start_time timestamp, end_time timestamp, max_rows bigint)
RETURNS TABLE (id bigint, created_at timestamp, peer_connection_id integer, entry jsonb)
LANGUAGE plpgsql STABLE
SET enable_sort = off SET enable_seqscan = off SET enable_bitmapscan = off SET plan_cache_mode = force_custom_plan SET jit = off
AS $$
BEGIN
    RETURN QUERY
    SELECT s.id, s.created_at, s.peer_connection_id, s.nodes->peer
    FROM (SELECT l.id, l.created_at, l.peer_connection_id, l.logs->'state'->'peerset'->'nodes' AS nodes
          FROM tetcore_logs l
          WHERE l.logs->>'msg' = 'system.network_state'
            AND (start_time IS NULL OR l.created_at > start_time)
            AND l.created_at < coalesce(end_time, now() AT TIME ZONE 'utc')
            AND (l.peerset_hashes IS NULL OR hashtext(peer) = ANY (l.peerset_hashes))
          ORDER BY l.created_at DESC
          OFFSET 0) s
    -- Node data is not trusted to have the expected shape.
    WHERE jsonb_typeof(s.nodes) = 'object' AND s.nodes ? peer
    LIMIT greatest(max_rows, 0);
END $$;
