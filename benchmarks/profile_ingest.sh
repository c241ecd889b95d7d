#!/usr/bin/env bash
# Where the server's CPU goes while it ingests: starts the release server on
# a fresh, migrated database, records it with `perf record -e cpu-clock -g`
# (software clock: a VM may have no hardware counters) while
# tetcore-loadgen sends NODES x MESSAGES messages of the catalogue's mix
# without system.network_state as fast as the server takes them, then
# prints the share of each library (`perf report --sort dso`) and the
# hottest symbols.
#
#   swift build -c release --product tetcore-analytics --product tetcore-loadgen
#   ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/profile_ingest.sh flat 100 4000
#
# Arguments: wire form (flat or wrapped), nodes, messages per node. The
# recording stays in $PERF_DATA (default perf-ingest.data). SERVER_BINARY
# and LOADGEN_BINARY pick other builds.
set -euo pipefail
cd "$(dirname "$0")/.."
wire="${1:-flat}" nodes="${2:-100}" messages="${3:-4000}"
: "${ADMIN_DATABASE_URL:?set ADMIN_DATABASE_URL}"
server_binary="${SERVER_BINARY:-.build/release/tetcore-analytics}"
loadgen_binary="${LOADGEN_BINARY:-.build/release/tetcore-loadgen}"
data="${PERF_DATA:-perf-ingest.data}"
db="profile_$$"
url="${ADMIN_DATABASE_URL%/*}/$db"
mix="$(mktemp --suffix=.json)"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    psql -qX "$ADMIN_DATABASE_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
    rm -f "$mix"
}
trap cleanup EXIT

psql -qX "$ADMIN_DATABASE_URL" -c "CREATE DATABASE $db"
DATABASE_URL="$url" LOG_LEVEL=warning "$server_binary" migrate
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
DATABASE_URL="$url" PORT="$port" HOST=127.0.0.1 LOG_LEVEL=warning CLIENT_TIMEOUT_S=60 \
    INGEST_MAX_BYTES_PER_S=1099511627776 "$server_binary" serve &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
python3 -c 'import json; print(json.dumps([m for m in json.load(open("telemetry_messages.json")) if m["msg"] != "system.network_state"]))' >"$mix"
kinds="$(python3 -c 'import json, sys; print(",".join(m["msg"] for m in json.load(open(sys.argv[1])) if m["msg"] != "system.connected"))' "$mix")"

perf record -e cpu-clock -F 2000 -g -p "$server" -o "$data" 2>/dev/null &
recorder=$!
sleep 0.5
"$loadgen_binary" --url "ws://127.0.0.1:$port" --nodes "$nodes" --messages-per-node "$messages" --rate max \
    --mix "$mix" --kinds "$kinds" --wire "$wire" --json >/dev/null
sleep 3 # the last batches commit
kill -INT "$recorder"
wait "$recorder" || true

perf report -i "$data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12
perf report -i "$data" --no-children --stdio -g none --percent-limit 1 2>/dev/null | grep -v '^#' | grep -v '^$' | head -30
