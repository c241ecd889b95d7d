// AnalyticsServer: the application, on top of WebServer, PostgresClient,
// EmbeddedPostgres and the Reactor.
//
// One folder per concern, each with its overview in a file named for it:
//   Ingestion/  telemetry routes: TelemetryConnection → MessageBatcher → BatchWriter
//   Network/    node and chain state kept at ingestion, shared through
//               PostgreSQL, read back per loop; /subscribe; chain metrics
//   Storage/    the batch insert, migrations, purge, partitions
//   Spool/      batches PostgreSQL cannot take now, kept on disk (SPOOL_DIR)
//   Admission/  who may open a telemetry connection
//   API/        the JSON query and write endpoints, /openapi.json
//   Feed/       /feed: caches of stored messages and the clients that follow them
//   Metrics/    /metrics: counters declared where they are bumped, one registry
//   Config/     every setting declared once
//   Service/    the process: one Shard per event loop, ShardGroup for what they share
