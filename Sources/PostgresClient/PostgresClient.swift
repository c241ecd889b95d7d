// PostgresClient: PostgreSQL through libpq, driven by a Reactor loop.
//
// Connections (non-blocking connect, pipeline mode, results read as they
// arrive), pools that reconnect with backoff, and statement queues with
// two priorities. Knows SQL, not this application's tables: the server's
// batch insert, migrations and purge are in AnalyticsServer/Storage. Calls
// only the Reactor. Nothing here blocks the loop: no PQexec, no
// PQconnectdb, no PQgetResult while libpq is busy.
