-- The network, understood (issue 15): the live state of every node, shared
-- by every event loop and instance. Each loop owns the nodes connected to
-- it, keeps their state in memory as messages arrive, and writes the nodes
-- that changed here at most about once a second (Network/NetworkTracker);
-- every loop reads all of it back (Network/NetworkView) to answer for the
-- whole network. Timestamps are UTC on the receiving server's clock.

-- A small, stable number per peer id, for the history tables (0007), whose
-- rows would otherwise repeat the 52-character peer id.
CREATE TABLE network_node_ids (
    id      serial PRIMARY KEY,
    peer_id text NOT NULL UNIQUE
);

-- One row per peer id: its latest connection's state.
CREATE TABLE network_nodes (
    peer_id            text PRIMARY KEY,
    -- The connection (peer_connections.id, unique over instances) that
    -- wrote the row: a connection that closes marks the row offline only
    -- if no newer connection of the peer has taken it over.
    peer_connection_id integer NOT NULL,
    genesis_hash       text,
    chain              text,
    name               text,
    implementation     text,
    version            text,
    target_os          text,
    target_arch        text,
    target_env         text,
    authority          boolean,
    startup_time       bigint,
    cpu                text,
    memory             bigint,
    core_count         bigint,
    linux_kernel       text,
    linux_distro       text,
    is_virtual_machine boolean,
    cpu_hashrate_score          bigint,
    parallel_cpu_hashrate_score bigint,
    memory_memcpy_score         bigint,
    disk_sequential_write_score bigint,
    disk_random_write_score     bigint,
    online             boolean NOT NULL,
    connected_at       timestamp NOT NULL,
    last_message_at    timestamp NOT NULL,
    best_height        bigint,
    best_hash          text,
    best_at            timestamp,
    finalized_height   bigint,
    finalized_hash     text,
    block_time_ms      bigint,
    propagation_ms     bigint,
    peers              bigint,
    txcount            bigint,
    bandwidth_download bigint,
    bandwidth_upload   bigint,
    state_cache_size   bigint,
    updated_at         timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    -- The transaction that last wrote the row: readers ask for the rows
    -- written since the oldest transaction their previous read could not
    -- see (pg_snapshot_xmin), so no commit is missed whatever its order.
    change_xid         xid8 NOT NULL DEFAULT pg_current_xact_id()
-- Rows are rewritten about once a second per node: half of each page is
-- left free so that an update can stay on its page (HOT: no new index
-- entries), and the identity columns come first, so that the WAL record of
-- such an update leaves them out (they rarely change).
) WITH (fillfactor = 50);
CREATE INDEX network_nodes_genesis_idx ON network_nodes (genesis_hash);

-- One row per node connection, with the identity it connected with, for the
-- fleet's composition over a past window. last_seen_at moves on at each
-- series step (NETWORK_SERIES_STEP_S) while the node is online.
CREATE TABLE network_node_sessions (
    peer_connection_id integer PRIMARY KEY,
    peer_id            text NOT NULL,
    genesis_hash       text,
    chain              text,
    name               text,
    implementation     text,
    version            text,
    target_os          text,
    target_arch        text,
    target_env         text,
    authority          boolean,
    cpu                text,
    memory             bigint,
    core_count         bigint,
    linux_kernel       text,
    linux_distro       text,
    is_virtual_machine boolean,
    cpu_hashrate_score          bigint,
    parallel_cpu_hashrate_score bigint,
    memory_memcpy_score         bigint,
    disk_sequential_write_score bigint,
    disk_random_write_score     bigint,
    connected_at       timestamp NOT NULL,
    last_seen_at       timestamp NOT NULL
);
CREATE INDEX network_node_sessions_genesis_idx ON network_node_sessions (genesis_hash, last_seen_at);
CREATE INDEX network_node_sessions_last_seen_idx ON network_node_sessions (last_seen_at);
