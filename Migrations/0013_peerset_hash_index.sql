-- /reputation/{peer_id} for a peer that few or no stored network states
-- name (issue 18).
--
-- 0012's walk reads the hashes of every network state in the window until
-- `max_rows` of them name the peer. For a peer that is named rarely or not
-- at all (an operator checking whether anyone sees their node) that is
-- every network state of the window: 0.6 to 1.1 s at 10 million rows. A
-- GIN index over the hashes finds the rows that may name the peer at once.
--
-- The index can only vouch for rows that have hashes. A network state
-- without them (stored before 0012, or inserted by SQL that did not set
-- them) may name any peer, and only its JSON says which. So the
-- network-state index now also records, per row, whether its hashes are
-- missing; whether the window holds such a row is then read from that
-- index's entries alone, without fetching a row. Telling them apart costs
-- nothing per inserted row beyond what the index already paid: its
-- predicate evaluates `logs->>'msg'` for every row anyway, and the new key
-- column is computed only for the rows that pass it.
--
-- tetcore_peer_reputation_entries then walks as before, but only so far,
-- and chooses how to read the rest of the window by counting rows, never
-- by the planner's statistics (below).
--
-- Building the two indexes reads every row once and blocks writes to
-- tetcore_logs meanwhile (the server holds its batches in memory or in its
-- spool until the migration commits).

-- The hashes of network states that have them; NULLs (every other row)
-- are left out, or each would get an entry. A network state adds one entry
-- per peer, first to the index's pending list, which PostgreSQL merges
-- into the index when it outgrows its limit (or at a vacuum). At 64 MB
-- instead of the default 4 MB, the merges come less often and find more
-- entries for the same peers: network states of 1,800 peers went in 11 %
-- slower than without the index, against 21 % with the default. A lookup
-- reads the whole pending list: about 2.5 ms when it is full.
CREATE INDEX tetcore_logs_peerset_hashes_idx ON tetcore_logs USING gin (peerset_hashes)
    WITH (gin_pending_list_limit = 65536)
    WHERE peerset_hashes IS NOT NULL;

-- 0002's partial index with a second key column: time first, so the walk
-- still reads it newest first.
CREATE INDEX tetcore_logs_network_state_hashes_idx ON tetcore_logs (created_at, (peerset_hashes IS NULL))
    WHERE logs->>'msg' = 'system.network_state';
DROP INDEX tetcore_logs_network_state_idx;
ALTER INDEX tetcore_logs_network_state_hashes_idx RENAME TO tetcore_logs_network_state_idx;

-- 0012's walk under its own name, for the rows after start_time (if any)
-- and before window_end, passing at most `budget` network states (and
-- those at the same time as the last of them), or all with a NULL budget.
-- The hashes are tested below the limit but filtered on above it, so the
-- budget counts the rows passed, not the matches.
CREATE FUNCTION tetcore_peer_reputation_walk(peer text, start_time timestamp, window_end timestamp, max_rows bigint, budget bigint)
RETURNS TABLE (id bigint, created_at timestamp, peer_connection_id integer, entry jsonb)
LANGUAGE plpgsql STABLE
SET enable_sort = off SET enable_seqscan = off SET enable_bitmapscan = off SET plan_cache_mode = force_custom_plan SET jit = off
AS $$
BEGIN
    RETURN QUERY
    SELECT s.id, s.created_at, s.peer_connection_id, s.nodes->peer
    FROM (SELECT v.id, v.created_at, v.peer_connection_id, v.logs->'state'->'peerset'->'nodes' AS nodes
          FROM (SELECT l.id, l.created_at, l.peer_connection_id, l.logs,
                       l.peerset_hashes IS NULL OR hashtext(peer) = ANY (l.peerset_hashes) AS may_name
                FROM tetcore_logs l
                WHERE l.logs->>'msg' = 'system.network_state'
                  AND (start_time IS NULL OR l.created_at > start_time)
                  AND l.created_at < window_end
                ORDER BY l.created_at DESC
                FETCH FIRST coalesce(budget, 9223372036854775807) ROWS WITH TIES) v
          WHERE v.may_name
          OFFSET 0) s
    -- Node data is not trusted to have the expected shape.
    WHERE jsonb_typeof(s.nodes) = 'object' AND s.nodes ? peer
    LIMIT greatest(max_rows, 0);
END $$;

-- How many network states a walk with `budget` passes, and the oldest
-- time among them: from the network-state index, newest first. In
-- plpgsql, so that it is planned for the actual window (a SQL function's
-- generic plan took 96 ms where this takes 3).
CREATE FUNCTION tetcore_network_states_passed(start_time timestamp, window_end timestamp, budget bigint,
                                              OUT passed bigint, OUT oldest timestamp)
LANGUAGE plpgsql STABLE
SET enable_sort = off SET enable_seqscan = off SET enable_bitmapscan = off SET plan_cache_mode = force_custom_plan SET jit = off
AS $$
BEGIN
    SELECT count(*), min(p.created_at) INTO passed, oldest
    FROM (SELECT l.created_at FROM tetcore_logs l
          WHERE l.logs->>'msg' = 'system.network_state'
            AND (start_time IS NULL OR l.created_at > start_time) AND l.created_at < window_end
          ORDER BY l.created_at DESC
          FETCH FIRST budget ROWS WITH TIES) p;
END $$;

-- The rows whose hashes hold the peer's, from the GIN index alone: the
-- innermost query has no other condition, and OFFSET 0 keeps the window
-- out of it, so no b-tree index can serve it. They are sorted newest
-- first by time; the JSON is read only for the rows the LIMIT reaches,
-- once each (the OFFSET 0 in the lateral query keeps the expression from
-- being copied into each use): a network state's peerset nodes, nothing
-- for any other message.
CREATE FUNCTION tetcore_peer_reputation_candidates(peer text, start_time timestamp, window_end timestamp, max_rows bigint)
RETURNS TABLE (id bigint, created_at timestamp, peer_connection_id integer, entry jsonb)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_indexscan = off SET enable_bitmapscan = on SET enable_sort = on
SET plan_cache_mode = force_custom_plan SET jit = off
AS $$
BEGIN
    RETURN QUERY
    SELECT s.id, s.created_at, s.peer_connection_id, n.nodes->peer
    FROM (SELECT c.id, c.created_at, c.peer_connection_id, c.logs
          FROM (SELECT l.id, l.created_at, l.peer_connection_id, l.logs
                FROM tetcore_logs l
                WHERE l.peerset_hashes @> ARRAY[hashtext(peer)]
                OFFSET 0) c
          WHERE (start_time IS NULL OR c.created_at > start_time) AND c.created_at < window_end
          ORDER BY c.created_at DESC, c.id DESC
          OFFSET 0) s
    CROSS JOIN LATERAL (
        SELECT jsonb_path_query_first(s.logs, 'strict $ ? (@.msg == "system.network_state").state.peerset.nodes', '{}', true) AS nodes
        OFFSET 0) n
    -- Node data is not trusted to have the expected shape.
    WHERE jsonb_typeof(n.nodes) = 'object' AND n.nodes ? peer
    LIMIT greatest(max_rows, 0);
END $$;

-- The same rows as 0011 and 0012 returned, newest first:
--   1. the walk, through the newest network states of the window only, 8
--      for each row asked for (at most 20,000). A peer that many network
--      states name, the usual case, is answered here, at 0012's cost.
--   2. If the walk stopped short, the rest of the window, before the
--      oldest time it passed, is read by one of two reads:
--      - the rows whose hashes hold the peer's, from the GIN index, when
--        there are at most `cap` of them and every network state in the
--        rest of the window has hashes: a peer that few or no rows name;
--      - otherwise the walk, to the end: it reads the JSON of rows without
--        hashes, and a peer that more than `cap` rows name is usually
--        found among the next rows. Its worst case left is a peer named by
--        just over `cap` rows spread thinly over a long window: the walk
--        then reads the hashes of about `rows asked for / cap` of the
--        window's network states.
--      `cap` bounds what the first read costs: 4 rows for each one still
--      asked for (and at least 1,000). The candidates are counted first,
--      up to `cap + 1`, and only when there are few is the network-state
--      index asked for a row without hashes.
--
-- Here bitmap scans only: each of the two counts then has the one index
-- that matches its condition (the network-state index, whose predicate
-- the query repeats, and the GIN index); with plain index scans the
-- planner could walk another index under the LIMIT and filter every row
-- it passes.
CREATE OR REPLACE FUNCTION tetcore_peer_reputation_entries(peer text, start_time timestamp, end_time timestamp, max_rows bigint)
RETURNS TABLE (id bigint, created_at timestamp, peer_connection_id integer, entry jsonb)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off SET enable_indexscan = off SET enable_bitmapscan = on
SET plan_cache_mode = force_custom_plan SET jit = off
AS $$
DECLARE
    window_end timestamp := coalesce(end_time, now() AT TIME ZONE 'utc');
    budget bigint := least(8 * max_rows, 20000);
    found bigint;
    walked record;
    cap bigint;
    candidates bigint;
BEGIN
    IF max_rows < 1 THEN RETURN; END IF;
    RETURN QUERY SELECT * FROM tetcore_peer_reputation_walk(peer, start_time, window_end, max_rows, budget);
    GET DIAGNOSTICS found = ROW_COUNT;
    IF found >= max_rows THEN RETURN; END IF;
    walked := tetcore_network_states_passed(start_time, window_end, budget);
    IF walked.passed < budget THEN RETURN; END IF;

    -- Unless, at the density of matches the walk found, four more budgets
    -- would find the rest, ask the hashes' index.
    IF 4 * found < max_rows - found THEN
        cap := greatest(4 * (max_rows - found), 1000);
        SELECT count(*) INTO candidates
        FROM (SELECT FROM tetcore_logs l WHERE l.peerset_hashes @> ARRAY[hashtext(peer)] LIMIT cap + 1) c;
        IF candidates <= cap AND NOT EXISTS (
                SELECT FROM tetcore_logs l
                WHERE l.logs->>'msg' = 'system.network_state' AND (l.peerset_hashes IS NULL)
                  AND (start_time IS NULL OR l.created_at > start_time) AND l.created_at < walked.oldest) THEN
            RETURN QUERY SELECT * FROM tetcore_peer_reputation_candidates(peer, start_time, walked.oldest, max_rows - found);
            RETURN;
        END IF;
    END IF;
    RETURN QUERY SELECT * FROM tetcore_peer_reputation_walk(peer, start_time, walked.oldest, max_rows - found, NULL);
END $$;
