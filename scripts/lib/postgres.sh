# shellcheck shell=bash
# Used by scripts/test (sourced after deps.sh): a throwaway PostgreSQL
# cluster for one test run, on 127.0.0.1 and a free port, removed at exit.
#
# PostgreSQL refuses to run as root, so as root the cluster belongs to the
# `postgres` user that Debian's postgresql package creates; otherwise to the
# current user. The cluster lives in /tmp/tetcore-test-pg.XXXXXX, which is
# also its socket directory: a short path keeps the socket name under the
# 107-byte limit of a Unix socket address.

TEST_PG_DIR_PREFIX=/tmp/tetcore-test-pg.
TEST_PG_FIRST_PORT=54330
TEST_PG_PORT_TRIES=100

# pg_bin_dir : PG_BIN_DIR if set, else the newest Debian server version.
pg_bin_dir() {
    if [ -n "${PG_BIN_DIR:-}" ]; then
        [ -x "$PG_BIN_DIR/pg_ctl" ] || fail "PG_BIN_DIR=$PG_BIN_DIR has no pg_ctl"
        printf '%s\n' "$PG_BIN_DIR"
        return 0
    fi
    local dir newest=""
    # sort -V so that 9.6 < 15 < 16.
    while read -r dir; do
        [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ] && newest="$dir"
    done < <(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V)
    [ -n "$newest" ] || fail "no PostgreSQL server in /usr/lib/postgresql/*/bin: install Debian's postgresql package"
    printf '%s\n' "$newest"
}

# as_cluster_owner COMMAND... : run as the cluster's owner, from / so that
# the owner never needs access to the caller's working directory.
as_cluster_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# port_is_free PORT : nothing accepts connections on 127.0.0.1:PORT.
port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# remove_test_cluster DIR : stop its server (if any) and delete it.
remove_test_cluster() {
    local dir="$1"
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_cluster_owner "$PG_BIN_DIR/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

# reclaim_abandoned_test_clusters : a run killed with SIGKILL cannot run its
# exit trap; its cluster records the run's PID, so a later run can tell that
# nobody uses it any more and remove it. Clusters of live runs are left alone.
reclaim_abandoned_test_clusters() {
    local dir owner
    for dir in "$TEST_PG_DIR_PREFIX"*; do
        [ -f "$dir/owner.pid" ] || continue
        # Only root may remove another user's cluster.
        [ "$(id -u)" -eq 0 ] || [ -O "$dir" ] || continue
        owner="$(cat "$dir/owner.pid" 2>/dev/null || true)"
        [ -n "$owner" ] && [ -d "/proc/$owner" ] && continue
        step "test database: removing $dir, left by an interrupted run"
        remove_test_cluster "$dir"
    done
}

# start_test_cluster : create and start the cluster; sets and exports
# TEST_PG_DIR, TEST_DATABASE_URL and PG_BIN_DIR. Call stop_test_cluster
# from an EXIT trap set before this.
start_test_cluster() {
    PG_BIN_DIR="$(pg_bin_dir)"
    export PG_BIN_DIR
    reclaim_abandoned_test_clusters

    TEST_PG_DIR="$(mktemp -d "${TEST_PG_DIR_PREFIX}XXXXXX")"
    printf '%s\n' "$$" >"$TEST_PG_DIR/owner.pid"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || fail "no 'postgres' user: Debian's postgresql package creates it (reinstall it)"
        chown postgres: "$TEST_PG_DIR"
    fi
    local data="$TEST_PG_DIR/data" log="$TEST_PG_DIR/postgres.log"

    # --no-sync: nothing here needs to survive a power cut.
    if ! as_cluster_owner "$PG_BIN_DIR/initdb" -D "$data" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C --no-sync >"$TEST_PG_DIR/initdb.log" 2>&1; then
        tail -n 20 "$TEST_PG_DIR/initdb.log" >&2
        fail "initdb failed"
    fi
    # Trust, but only over the private socket directory and loopback.
    as_cluster_owner tee "$data/pg_hba.conf" >/dev/null <<EOF
local all all trust
host all all 127.0.0.1/32 trust
EOF
    # Speed over durability: the cluster is deleted after the run.
    as_cluster_owner tee -a "$data/postgresql.conf" >/dev/null <<EOF

# scripts/test
listen_addresses = '127.0.0.1'
unix_socket_directories = '$TEST_PG_DIR'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

    # The probe and the bind can race with another run starting at the same
    # moment, so a start that fails on a taken port moves on to the next.
    local port="$TEST_PG_FIRST_PORT" last=$((TEST_PG_FIRST_PORT + TEST_PG_PORT_TRIES))
    while :; do
        [ "$port" -lt "$last" ] || fail "no free TCP port in $TEST_PG_FIRST_PORT..$((last - 1))"
        if ! port_is_free "$port"; then
            port=$((port + 1))
            continue
        fi
        rm -f "$log"
        if as_cluster_owner "$PG_BIN_DIR/pg_ctl" -D "$data" -l "$log" -o "-p $port" -w -t 60 start >/dev/null 2>&1; then
            break
        fi
        if grep -q "Address already in use" "$log" 2>/dev/null; then
            port=$((port + 1))
            continue
        fi
        tail -n 20 "$log" >&2 || true
        fail "the test PostgreSQL did not start (log above: $log)"
    done

    TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    export TEST_DATABASE_URL TEST_PG_DIR
    step "test database: PostgreSQL $("$PG_BIN_DIR/postgres" --version | awk '{ print $3 }') at $TEST_DATABASE_URL ($TEST_PG_DIR)"
}

# stop_test_cluster : stop and delete this run's cluster; safe to call
# more than once and before start_test_cluster.
stop_test_cluster() {
    [ -n "${TEST_PG_DIR:-}" ] && [ -d "$TEST_PG_DIR" ] || return 0
    remove_test_cluster "$TEST_PG_DIR"
    step "test database: stopped and removed"
}
