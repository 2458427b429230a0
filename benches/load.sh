#!/usr/bin/env bash
# Load benchmark of the HTTP service with wrk (Debian: apt-get install wrk):
# POST /api/orchestration/plan and GET /api/orchestration/blueprints against a
# release build on loopback, with a temporary database. Bounded: 15 s each.
# Usage: benches/load.sh [connections] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${1:-32}
seconds=${2:-15}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
cargo build --release --quiet
dir=$(mktemp -d)
port=18181
DECKHAND_API_TOKEN=load-bench target/release/deckhand serve --bind "127.0.0.1:$port" --db "$dir/deckhand.db" --data-dir "$dir/data" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
echo "== POST /api/orchestration/plan (install authentik with TLS), $connections connections, ${seconds}s"
wrk -t1 -c"$connections" -d"${seconds}s" --latency -s benches/plan.lua "http://127.0.0.1:$port/api/orchestration/plan"
echo "== GET /api/orchestration/blueprints, $connections connections, ${seconds}s"
wrk -t1 -c"$connections" -d"${seconds}s" --latency -H 'Authorization: Bearer load-bench' "http://127.0.0.1:$port/api/orchestration/blueprints"
