#!/usr/bin/env bash
# What a /metrics scrape costs under full ingest load: runs
# benchmarks/ingest.py (release server, nodes sending as fast as it reads),
# scrapes the server it started every 100 ms with curl while the load
# lasts, and prints the scrape time (median, p99, max) and size.
#
#   swift build -c release --product tetcore-analytics
#   ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/scrape_cost.sh --nodes 200 --messages 2500
#
# Arguments go to ingest.py.
set -euo pipefail
cd "$(dirname "$0")/.."

samples="$(mktemp)"
trap '[ -n "${KEEP_SAMPLES:-}" ] && cp "$samples" "$KEEP_SAMPLES"; rm -f "$samples"' EXIT
python3 benchmarks/ingest.py "$@" &
bench=$!

# The server is ingest.py's child; its port is the one it listens on.
port=""
for _ in $(seq 300); do
    server="$(pgrep -P "$bench" tetcore-analyt || true)"
    if [ -n "$server" ]; then
        port="$(ss -ltnpH | grep "pid=$server," | awk '{print $4}' | sed 's/.*://' | head -n1)"
        [ -n "$port" ] && break
    fi
    sleep 0.05
done
[ -n "$port" ] || { echo "error: the benchmark's server did not start listening" >&2; exit 1; }

# Scrapes while the server runs: sending, then draining the backlog; a
# scrape refused as it exits is dropped (size 0).
sleep 2.5
while kill -0 "$server" 2>/dev/null && kill -0 "$bench" 2>/dev/null; do
    curl -s -o /dev/null -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$port/metrics" >>"$samples" || true
    sleep 0.1
done
wait "$bench"

awk '$2 > 0' "$samples" | sort -n | awk '
    { t[NR] = $1; b = $2 }
    END {
        if (NR == 0) { print "no scrape"; exit 1 }
        p99 = int(NR * 0.99); if (p99 < 1) p99 = 1
        printf "scrapes under load: %d; time median %.1f ms, p99 %.1f ms, max %.1f ms; %d bytes\n",
               NR, t[int((NR + 1) / 2)] * 1000, t[p99] * 1000, t[NR] * 1000, b
    }'
