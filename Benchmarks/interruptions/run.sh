#!/usr/bin/env bash
# Steps lost per interruption and recovery time, over many interruptions of the local demo:
# RUNS demos with 10 interruptions each, all without notice, then NOTICE_RUNS demos with 10
# interruptions all with notice, on a spot-only pool (pool.yaml). Prints the table that
# docs/benchmarks.md quotes. Usage: Benchmarks/interruptions/run.sh [RUNS] [NOTICE_RUNS]
# (defaults 5 and 2: 50 interruptions without notice, 20 with; about 10 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
notice_runs=${2:-2}
out=$(mktemp -d)
swift build --product spotwise >/dev/null
for i in $(seq 1 "$runs"); do
    .build/debug/spotwise demo --state-dir "$out/no-notice-$i" --pool Benchmarks/interruptions/pool.yaml \
        --interruptions 10 --without-notice 10 --seed "$i" --speed 2 --json "$out/no-notice-$i.json" >/dev/null
    echo "run $i without notice: done" >&2
done
for i in $(seq 1 "$notice_runs"); do
    .build/debug/spotwise demo --state-dir "$out/notice-$i" --pool Benchmarks/interruptions/pool.yaml \
        --interruptions 10 --without-notice 0 --seed "$((100 + i))" --speed 2 --json "$out/notice-$i.json" >/dev/null
    echo "run $i with notice: done" >&2
done
python3 Benchmarks/interruptions/aggregate.py "$out"/*.json
