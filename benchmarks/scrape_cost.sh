#!/usr/bin/env bash
# What a /metrics scrape costs under full ingest load: runs
# benchmarks/ingest.py (release server, nodes sending as fast as it reads),
# scrapes the server it started every 100 ms with curl, and prints the
# scrape time (median, p99, max) and size of the scrapes taken while rows
# were being written: a scrape counts only when tetcore_rows_written_total
# in its own body is above the previous scrape's, so the server's idle
# moments (start-up, ingest.py's COPY phases, the end) are left out.
#
#   swift build -c release --product tetcore-analytics
#   ADMIN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benchmarks/scrape_cost.sh --nodes 200 --messages 2500
#
# Arguments go to ingest.py.
set -euo pipefail
cd "$(dirname "$0")/.."

samples="$(mktemp)"
body="$(mktemp)"
trap '[ -n "${KEEP_SAMPLES:-}" ] && cp "$samples" "$KEEP_SAMPLES"; rm -f "$samples" "$body"' EXIT
python3 benchmarks/ingest.py "$@" &
bench=$!

# The server is ingest.py's child; its port is the one it listens on.
port=""
for _ in $(seq 1200); do
    server="$(pgrep -P "$bench" tetcore-analyt || true)"
    if [ -n "$server" ]; then
        port="$(ss -ltnpH | grep "pid=$server," | awk '{print $4}' | sed 's/.*://' | head -n1 || true)"
        [ -n "$port" ] && break
    fi
    sleep 0.05
done
[ -n "$port" ] || { echo "error: the benchmark's server did not start listening" >&2; exit 1; }

# Scrapes while the server runs; each sample is "time size rows_written"
# (a scrape refused as the server exits has size 0 and is dropped).
while kill -0 "$server" 2>/dev/null && kill -0 "$bench" 2>/dev/null; do
    timing="$(curl -s -o "$body" -w '%{time_total} %{size_download}' "http://127.0.0.1:$port/metrics" || true)"
    rows="$(awk '$1 == "tetcore_rows_written_total" { print $2 }' "$body" 2>/dev/null || true)"
    echo "$timing ${rows:-0}" >>"$samples"
    sleep 0.1
done
wait "$bench"

# Only the scrapes that saw rows committed since the scrape before.
awk '$2 > 0 { if (NR > 1 && $3 + 0 > previous + 0) print; previous = $3 }' "$samples" | sort -n | awk '
    { t[NR] = $1; b = $2 }
    END {
        if (NR == 0) { print "no scrape"; exit 1 }
        p99 = int(NR * 0.99); if (p99 < 1) p99 = 1
        printf "scrapes while rows were written: %d; time median %.1f ms, p99 %.1f ms, max %.1f ms; %d bytes\n",
               NR, t[int((NR + 1) / 2)] * 1000, t[p99] * 1000, t[NR] * 1000, b
    }'
