-- JSON query API (issue 4).

-- The node a benchmark ran on, for /benchmarks/{id}/targets.
ALTER TABLE benchmarks ADD COLUMN peer_id text;

-- /reputation and /reputation/{peer_id} read only system.network_state
-- rows, a small share of all rows, by time. The partial index holds just
-- those rows, so ingesting any other message costs only the evaluation of
-- the predicate (measured in the README).
CREATE INDEX tetcore_logs_network_state_idx ON tetcore_logs (created_at)
    WHERE (logs->>'msg') = 'system.network_state';
