-- tetcore_logs becomes a partitioned table, so that expiry drops whole days
-- instead of deleting rows one by one:
--
--   tetcore_logs                      PARTITION BY LIST (audit)
--     tetcore_logs_audit              audit rows: never expire
--     tetcore_logs_live               PARTITION BY RANGE (created_at)
--       tetcore_logs_live_YYYYMMDD    one per UTC day, made ahead by the server
--       tetcore_logs_live_default     rows of days without a partition (clock skew)
--
-- `audit` is new on the log rows: the partition key must be a column of the
-- row. The writer sets it from the connection (one value per batch); other
-- writers must set it too (it defaults to false, a row that expires).
-- The id keeps its sequence but is no longer a primary key: a unique index
-- on a partitioned table must contain the partition keys, and nothing looks
-- rows up by id alone. Existing rows are kept, each in its day's partition.

ALTER TABLE tetcore_logs RENAME TO tetcore_logs_unpartitioned;
ALTER SEQUENCE tetcore_logs_id_seq OWNED BY NONE;

CREATE TABLE tetcore_logs (
    id                 bigint NOT NULL DEFAULT nextval('tetcore_logs_id_seq'),
    created_at         timestamp NOT NULL,
    logs               jsonb NOT NULL,
    peer_connection_id integer NOT NULL,
    audit              boolean NOT NULL DEFAULT false
) PARTITION BY LIST (audit);
ALTER SEQUENCE tetcore_logs_id_seq OWNED BY tetcore_logs.id;

CREATE TABLE tetcore_logs_audit PARTITION OF tetcore_logs FOR VALUES IN (true);
CREATE TABLE tetcore_logs_live PARTITION OF tetcore_logs FOR VALUES IN (false) PARTITION BY RANGE (created_at);
CREATE TABLE tetcore_logs_live_default PARTITION OF tetcore_logs_live DEFAULT;

-- Makes the daily partitions of today and the next `days_ahead` days that do
-- not exist yet; returns how many it made. A day whose rows already sit in
-- the default partition is left there (a partition for it would overlap
-- them); expiry deletes such rows row by row. Serialised across instances.
CREATE FUNCTION tetcore_create_log_partitions(days_ahead integer, first_day date DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    start_day date := coalesce(first_day, (now() AT TIME ZONE 'utc')::date);
    day date;
    made integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(2116820449); -- partition maintenance, any instance
    FOR day IN SELECT generate_series(start_day, start_day + days_ahead, interval '1 day')::date LOOP
        CONTINUE WHEN to_regclass('tetcore_logs_live_' || to_char(day, 'YYYYMMDD')) IS NOT NULL;
        CONTINUE WHEN EXISTS (SELECT 1 FROM tetcore_logs_live_default
                              WHERE created_at >= day AND created_at < day + 1);
        EXECUTE format('CREATE TABLE %I PARTITION OF tetcore_logs_live FOR VALUES FROM (%L) TO (%L)',
                       'tetcore_logs_live_' || to_char(day, 'YYYYMMDD'), day::timestamp, (day + 1)::timestamp);
        made := made + 1;
    END LOOP;
    RETURN made;
END $$;

-- Drops the daily partitions whose whole day is older than `expiry_hours`,
-- counting their rows first (under a lock, so none is missed). Takes the
-- purge's advisory lock without waiting: `held` is false when another
-- instance is purging.
CREATE FUNCTION tetcore_drop_expired_log_partitions(expiry_hours integer,
    OUT held boolean, OUT partitions integer, OUT rows_dropped bigint)
LANGUAGE plpgsql AS $$
DECLARE
    cutoff timestamp := (now() AT TIME ZONE 'utc') - make_interval(hours => expiry_hours);
    part text;
    counted bigint;
BEGIN
    partitions := 0;
    rows_dropped := 0;
    held := pg_try_advisory_xact_lock(2122059233); -- the purge's key: LogPurger.lockKey (0x7e7c0de1)
    IF NOT held THEN RETURN; END IF;
    FOR part IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'tetcore_logs_live'::regclass AND c.relname ~ '^tetcore_logs_live_[0-9]{8}$'
                ORDER BY c.relname LOOP
        CONTINUE WHEN to_date(right(part, 8), 'YYYYMMDD') + 1 > cutoff;
        EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', part);
        EXECUTE format('SELECT count(*) FROM %I', part) INTO counted;
        EXECUTE format('DROP TABLE %I', part);
        partitions := partitions + 1;
        rows_dropped := rows_dropped + counted;
    END LOOP;
END $$;

-- A partition for every day that has rows, then the rows, with the audit
-- flag of their connection.
SELECT tetcore_create_log_partitions(0, day)
FROM (SELECT DISTINCT created_at::date AS day FROM tetcore_logs_unpartitioned) AS days;
INSERT INTO tetcore_logs (id, created_at, logs, peer_connection_id, audit)
SELECT l.id, l.created_at, l.logs, l.peer_connection_id, coalesce(pc.audit, false)
FROM tetcore_logs_unpartitioned l LEFT JOIN peer_connections pc ON pc.id = l.peer_connection_id;

-- The old table's secondary indexes, recreated on the partitioned one (each
-- partition gets its own), under their old names.
CREATE TEMPORARY TABLE old_log_indexes ON COMMIT DROP AS
SELECT indexdef FROM pg_indexes
WHERE schemaname = current_schema() AND tablename = 'tetcore_logs_unpartitioned'
  AND indexname <> 'tetcore_logs_pkey';
DROP TABLE tetcore_logs_unpartitioned;
DO $$
DECLARE definition text;
BEGIN
    FOR definition IN SELECT indexdef FROM old_log_indexes LOOP
        EXECUTE replace(definition, '.tetcore_logs_unpartitioned ', '.tetcore_logs ');
    END LOOP;
END $$;
