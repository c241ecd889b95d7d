-- /reputation/{peer_id} reads the stored system.network_state rows newest
-- first until `max_rows` of them have the peer in their peerset (issue 18).
--
-- As one SQL statement the plan depended on the statistics: with 10 million
-- rows PostgreSQL chose to read and sort every network state of the window
-- (seconds), with 50 million it walked the partial index newest first and
-- stopped early (a quarter of a second). Here the walk is the only plan: a
-- loop over a cursor, planned with sorting, sequential and bitmap scans
-- disabled, so the rows come newest first from
-- tetcore_logs_network_state_idx (each partition's, merged), and the loop
-- stops at the `max_rows`-th match. Each visited row's peerset is read
-- (decompressed) once. Custom plans only: planned for the actual window,
-- both of its ends bound the index scan (a generic plan would filter the
-- start row by row instead and read every older row). No JIT: the plan's
-- cost, estimated for a walk to the end, crosses jit_above_cost, and
-- compiling it took longer than the walk (seconds at 50 million rows).
--
-- Returns each match's row id, time, connection and the peer's own entry,
-- newest first; the API turns them into JSON.
CREATE FUNCTION tetcore_peer_reputation_entries(peer text, start_time timestamp, end_time timestamp, max_rows bigint)
RETURNS TABLE (id bigint, created_at timestamp, peer_connection_id integer, entry jsonb)
LANGUAGE plpgsql STABLE
SET enable_sort = off SET enable_seqscan = off SET enable_bitmapscan = off SET plan_cache_mode = force_custom_plan SET jit = off
AS $$
DECLARE
    found bigint := 0;
    state record;
BEGIN
    IF max_rows < 1 THEN RETURN; END IF;
    FOR state IN
        SELECT l.id, l.created_at, l.peer_connection_id, l.logs->'state'->'peerset'->'nodes' AS nodes
        FROM tetcore_logs l
        WHERE l.logs->>'msg' = 'system.network_state'
          AND (start_time IS NULL OR l.created_at > start_time)
          AND l.created_at < coalesce(end_time, now() AT TIME ZONE 'utc')
        ORDER BY l.created_at DESC
    LOOP
        -- Node data is not trusted to have the expected shape.
        CONTINUE WHEN jsonb_typeof(state.nodes) IS DISTINCT FROM 'object' OR NOT state.nodes ? peer;
        id := state.id;
        created_at := state.created_at;
        peer_connection_id := state.peer_connection_id;
        entry := state.nodes->peer;
        RETURN NEXT;
        found := found + 1;
        EXIT WHEN found >= max_rows;
    END LOOP;
END $$;
