-- tetcore_logs.logs is compressed with lz4 instead of pglz (issue 18).
--
-- A system.network_state of 170 KB spends most of its insert in TOAST
-- compression: measured with benchmarks/ingest.py (docs/performance.md), lz4
-- made PostgreSQL take these rows markedly faster, at about the same size
-- on disk, and decompressing them for /reputation/{peer_id} faster too.
-- Small messages (under the 2 KB TOAST threshold) are not compressed either
-- way.
--
-- Only the column's setting changes: rows already stored keep their pglz
-- values, which PostgreSQL reads as before (every value records its own
-- method); nothing is rewritten. The parent's setting is what new
-- partitions take; existing partitions are set one by one (PostgreSQL 15
-- does not pass the change on to them). A server built without lz4 keeps
-- pglz, with a notice.
DO $$
DECLARE part regclass;
BEGIN
    ALTER TABLE tetcore_logs ALTER COLUMN logs SET COMPRESSION lz4;
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'tetcore_logs'::regclass LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN logs SET COMPRESSION lz4', part);
    END LOOP;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL has no lz4: tetcore_logs.logs stays compressed with pglz';
END $$;
