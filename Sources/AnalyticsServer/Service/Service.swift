// Service: wires the concerns together and owns the process lifecycle.
//
// The process part lives here: settings, signals, the embedded
// PostgreSQL, migrations, the NUM_THREADS event loops (Shard, one per
// thread, loop 0 on the main thread) and the exit status. Start-up:
// settings → (embedded PostgreSQL) → every loop listens on the port (so
// /metrics answers at once) → connect and migrate with backoff on loop 0 →
// every loop opens its pools; loop 0 also purges. Shutdown on SIGINT/SIGTERM
// (on loop 0): every loop stops accepting, closes its WebSockets with 1001
// (reading what nodes still send), flushes its rows and closes its pools;
// loop 0 waits for all of them, joins their threads, stops the embedded
// PostgreSQL and exits 0 only if every loop drained.
