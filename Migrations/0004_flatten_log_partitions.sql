-- tetcore_logs keeps its partitions but loses a level:
--
--   before (0003)                         after
--   tetcore_logs  LIST (audit)            tetcore_logs  RANGE (audit, created_at)
--     tetcore_logs_audit                    tetcore_logs_audit        (true, MINVALUE) .. (MAXVALUE, MAXVALUE)
--     tetcore_logs_live  RANGE (created_at) tetcore_logs_live_YYYYMMDD (false, day) .. (false, day + 1)
--       tetcore_logs_live_YYYYMMDD          tetcore_logs_live_default  DEFAULT (live rows of days without a partition)
--       tetcore_logs_live_default
--
-- Why: Citus, where a deployment that outgrows one PostgreSQL goes (README,
-- "Scaling"), distributes partitioned tables of one level only. The rows,
-- their tables and the tables' indexes stay where they are: the partitions
-- are detached and attached again under the new parent, nothing is copied
-- (attaching checks each table's rows against its new bounds, one scan).

CREATE TEMPORARY TABLE old_log_indexes ON COMMIT DROP AS
SELECT replace(indexdef, ' ON ONLY ', ' ON ') AS definition FROM pg_indexes
WHERE schemaname = current_schema() AND tablename = 'tetcore_logs';
CREATE TEMPORARY TABLE old_day_partitions ON COMMIT DROP AS
SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'tetcore_logs_live'::regclass AND c.relname ~ '^tetcore_logs_live_[0-9]{8}$';

DO $$
DECLARE part text;
BEGIN
    FOR part IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'tetcore_logs_live'::regclass LOOP
        EXECUTE format('ALTER TABLE tetcore_logs_live DETACH PARTITION %I', part);
    END LOOP;
END $$;
ALTER TABLE tetcore_logs DETACH PARTITION tetcore_logs_audit;
ALTER TABLE tetcore_logs DETACH PARTITION tetcore_logs_live;
ALTER SEQUENCE tetcore_logs_id_seq OWNED BY NONE;
DROP TABLE tetcore_logs_live;
DROP TABLE tetcore_logs;

CREATE TABLE tetcore_logs (
    id                 bigint NOT NULL DEFAULT nextval('tetcore_logs_id_seq'),
    created_at         timestamp NOT NULL,
    logs               jsonb NOT NULL,
    peer_connection_id integer NOT NULL,
    audit              boolean NOT NULL DEFAULT false
) PARTITION BY RANGE (audit, created_at);
ALTER SEQUENCE tetcore_logs_id_seq OWNED BY tetcore_logs.id;

-- Indexes first, under their old names: attaching a partition then adopts
-- the partition's matching index instead of building one.
DO $$
DECLARE definition text;
BEGIN
    FOR definition IN SELECT o.definition FROM old_log_indexes o LOOP
        EXECUTE definition;
    END LOOP;
END $$;

ALTER TABLE tetcore_logs ATTACH PARTITION tetcore_logs_audit FOR VALUES FROM (true, MINVALUE) TO (MAXVALUE, MAXVALUE);
DO $$
DECLARE part text;
DECLARE day date;
BEGIN
    FOR part IN SELECT name FROM old_day_partitions ORDER BY name LOOP
        day := to_date(right(part, 8), 'YYYYMMDD');
        EXECUTE format('ALTER TABLE tetcore_logs ATTACH PARTITION %I FOR VALUES FROM (false, %L) TO (false, %L)',
                       part, day::timestamp, (day + 1)::timestamp);
    END LOOP;
END $$;
-- The default partition last: attaching a day after it would scan it.
ALTER TABLE tetcore_logs ATTACH PARTITION tetcore_logs_live_default DEFAULT;

CREATE OR REPLACE FUNCTION tetcore_create_log_partitions(days_ahead integer, first_day date DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    start_day date := coalesce(first_day, (now() AT TIME ZONE 'utc')::date);
    day date;
    made integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(2116820449); -- partition maintenance, any instance
    FOR day IN SELECT generate_series(start_day, start_day + days_ahead, interval '1 day')::date LOOP
        CONTINUE WHEN to_regclass('tetcore_logs_live_' || to_char(day, 'YYYYMMDD')) IS NOT NULL;
        -- A day that already has rows in the default partition keeps them
        -- there: the new partition's bounds would overlap them.
        CONTINUE WHEN EXISTS (SELECT 1 FROM tetcore_logs_live_default
                              WHERE created_at >= day AND created_at < day + 1);
        EXECUTE format('CREATE TABLE %I PARTITION OF tetcore_logs FOR VALUES FROM (false, %L) TO (false, %L)',
                       'tetcore_logs_live_' || to_char(day, 'YYYYMMDD'), day::timestamp, (day + 1)::timestamp);
        made := made + 1;
    END LOOP;
    RETURN made;
END $$;

CREATE OR REPLACE FUNCTION tetcore_drop_expired_log_partitions(expiry_hours integer,
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
                WHERE i.inhparent = 'tetcore_logs'::regclass AND c.relname ~ '^tetcore_logs_live_[0-9]{8}$'
                ORDER BY c.relname LOOP
        CONTINUE WHEN to_date(right(part, 8), 'YYYYMMDD') + 1 > cutoff;
        EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', part);
        EXECUTE format('SELECT count(*) FROM %I', part) INTO counted;
        EXECUTE format('DROP TABLE %I', part);
        partitions := partitions + 1;
        rows_dropped := rows_dropped + counted;
    END LOOP;
END $$;
