-- The original code's benchmarks (issue 19): a free `setup` JSON, as its
-- `POST /benchmarks {"setup": {...}}` stored it, beside the README's fields.
-- A benchmark has the README's fields, or a setup, or both; the setup is
-- kept as sent, and its members that name a README field fill that field
-- (`tetcore_benchmark_from_setup`), so /benchmarks/{id}/targets and the
-- dashboards work for both forms.
--
-- Written to be applied twice without harm: `tetcore-analytics migrate`
-- adopts a database of the original server by giving it these columns
-- before the migrations run (Storage/OriginalSchemaAdoption.swift).

ALTER TABLE benchmarks ADD COLUMN IF NOT EXISTS setup jsonb;
ALTER TABLE benchmarks
    ALTER COLUMN ts_start DROP NOT NULL,
    ALTER COLUMN ts_end DROP NOT NULL,
    ALTER COLUMN benchmark_spec DROP NOT NULL,
    ALTER COLUMN host_system_id DROP NOT NULL;
ALTER TABLE benchmarks DROP CONSTRAINT IF EXISTS benchmarks_fields_or_setup;
ALTER TABLE benchmarks ADD CONSTRAINT benchmarks_fields_or_setup CHECK (
    setup IS NOT NULL
    OR (ts_start IS NOT NULL AND ts_end IS NOT NULL AND benchmark_spec IS NOT NULL AND host_system_id IS NOT NULL));

-- A JSON string in one of the API's timestamp forms as UTC: without an
-- offset it is UTC already, with one it is converted. NULL for anything else.
CREATE OR REPLACE FUNCTION tetcore_setup_timestamp(value jsonb) RETURNS timestamp
LANGUAGE plpgsql STABLE AS $$
DECLARE
    written text;
BEGIN
    IF value IS NULL OR jsonb_typeof(value) <> 'string' THEN
        RETURN NULL;
    END IF;
    written := value #>> '{}';
    IF written !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$' THEN
        RETURN NULL;
    END IF;
    IF written ~ '(Z|[+-]\d{2}(:?\d{2})?)$' THEN
        RETURN written::timestamptz AT TIME ZONE 'UTC';
    END IF;
    RETURN written::timestamp;
EXCEPTION WHEN others THEN
    -- A shape that passed the pattern but is no date (2019-02-30).
    RETURN NULL;
END $$;

-- The README's fields found in a setup; NULL where a member is absent or of
-- another type. The node's peer id is `peer_id`, or where the original
-- dashboard read it: `tetcore.peerId` (`substrate.peerId` upstream). A
-- host system id counts only if that host system exists.
CREATE OR REPLACE FUNCTION tetcore_benchmark_from_setup(setup jsonb,
    OUT ts_start timestamp, OUT ts_end timestamp, OUT description text, OUT chain_spec jsonb,
    OUT benchmark_spec jsonb, OUT host_system_id integer, OUT peer_id text)
LANGUAGE sql STABLE AS $$
    SELECT tetcore_setup_timestamp(setup -> 'ts_start'),
           tetcore_setup_timestamp(setup -> 'ts_end'),
           CASE WHEN jsonb_typeof(setup -> 'description') = 'string' THEN setup ->> 'description' END,
           CASE WHEN jsonb_typeof(setup -> 'chain_spec') = 'object' THEN setup -> 'chain_spec' END,
           CASE WHEN jsonb_typeof(setup -> 'benchmark_spec') = 'object' THEN setup -> 'benchmark_spec' END,
           (SELECT h.id FROM host_systems h
            WHERE jsonb_typeof(setup -> 'host_system_id') = 'number'
              AND (setup ->> 'host_system_id') ~ '^[0-9]{1,9}$'
              AND h.id = (setup ->> 'host_system_id')::integer),
           (SELECT c.value #>> '{}'
            FROM (VALUES (1, setup -> 'peer_id'), (2, setup #> '{tetcore,peerId}'), (3, setup #> '{substrate,peerId}'))
                 AS c(rank, value)
            WHERE jsonb_typeof(c.value) = 'string'
            ORDER BY c.rank LIMIT 1)
$$;

-- Benchmarks that came with a setup (an adopted database) get their fields.
UPDATE benchmarks b
SET (ts_start, ts_end, description, chain_spec, benchmark_spec, host_system_id, peer_id) =
    (SELECT coalesce(b.ts_start, f.ts_start), coalesce(b.ts_end, f.ts_end), coalesce(b.description, f.description),
            coalesce(b.chain_spec, f.chain_spec), coalesce(b.benchmark_spec, f.benchmark_spec),
            coalesce(b.host_system_id, f.host_system_id), coalesce(b.peer_id, f.peer_id)
     FROM tetcore_benchmark_from_setup(b.setup) f)
WHERE b.setup IS NOT NULL;
