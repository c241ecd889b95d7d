// Metrics: what /metrics tells about the running server.
//
// A metric is declared once, beside what it measures: a counter is an
// `EventCounter` stored property of the type that bumps it (IngestionCounters,
// BatchWriter.Counters, HTTPCounters, Feed.Counters, ExpiryPurger.Counters),
// a gauge a `MetricFamily` static next to the code that records it.
// Counters are plain integers owned by one event loop: no lock and no atomic
// per message. A scrape asks every loop for its MetricReadings on its own
// thread (ShardGroup), adds them up, adds the process's /proc readings, and
// MetricsRegistry mirrors the sum into the swift-prometheus registry and
// renders the text exposition. Histograms are observed once per batch,
// never per message. Nothing here touches the database.
