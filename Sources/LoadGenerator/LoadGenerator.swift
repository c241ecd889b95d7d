// LoadGenerator: synthetic Tetcore nodes on one Reactor loop (the engine of
// the tetcore-loadgen executable).
//
// Everything a run makes up (identities, schedule phases, mask keys) comes
// from one seed, so the same seed gives the same fleet.
//
// It uses the Reactor and PostgresClient (for --verify) and nothing of the
// server, so it measures the server from the outside.
