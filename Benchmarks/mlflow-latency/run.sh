#!/usr/bin/env bash
# MLflow routes' latency against the native routes of the same content (docs/benchmarks.md):
# starts .build/debug/spotwise coordinator over STATE_DIR (a demo's state) on a free loopback
# port and runs latency.py. Build first (a release build gives the figures in the docs:
# swift build -c release --product spotwise; SPOTWISE=.build/release/spotwise).
# Usage: Benchmarks/mlflow-latency/run.sh STATE_DIR [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
state=${1:?usage: Benchmarks/mlflow-latency/run.sh STATE_DIR [ROUNDS]}
spotwise=${SPOTWISE:-.build/debug/spotwise}
log=$(mktemp)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$spotwise" coordinator --state-dir "$state" --bind "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.2; done
SPOTWISE_URL="http://127.0.0.1:$port" SPOTWISE_READONLY_TOKEN=$(cat "$state/readonly.token") \
    python3 Benchmarks/mlflow-latency/latency.py "${2:-300}"
