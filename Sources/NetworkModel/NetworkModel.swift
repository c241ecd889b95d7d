// NetworkModel: what the network is doing, derived from what nodes report.
//
// Pure value types, no I/O and no clock of their own: every function takes
// the time it should use (milliseconds since the Unix epoch on the
// server's receive clock, never a node's `ts`). The server feeds it from
// the C pre-parse at ingestion and from the rows other event loops and
// instances share through PostgreSQL; the tests feed it synthetic nodes.
//
// - NodeReport: the state-bearing fields of one message.
// - NodeState: one node (identity, best and finalized blocks, block time,
//   propagation, peers, queue, bandwidth, hardware), updated by reports.
// - BlockArrivals: when each block (chain, height, hash) was first seen,
//   by whom, and how long every other node took to import it.
// - ChainSummary: a chain's best, finalized, finality lag, nodes online and
//   stale, average block time, from the nodes and recent blocks.
// - Distributions, HardwareScore, MemoryBucket, CPUVendor: the fleet's
//   composition, bucketed as the reference live server buckets it.
// - Percentile: nearest-rank percentiles of delays.
