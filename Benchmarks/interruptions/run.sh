#!/usr/bin/env bash
# Steps lost per interruption and recovery time, over many interruptions of the local demo:
# RUNS demos with 10 interruptions each, all without notice, then NOTICE_RUNS demos with 10
# interruptions all with notice, on a spot-only pool (pool.yaml). Prints the table that
# docs/benchmarks.md quotes. Usage: Benchmarks/interruptions/run.sh [RUNS] [NOTICE_RUNS]
# (defaults 5 and 2: 50 interruptions without notice, 20 with; about 10 minutes on 2 cores).
# SPOTWISE_BIN=PATH runs that spotwise binary (e.g. a copy of an older agent, to compare in the
# same session) instead of building and running .build/debug/spotwise. After the table, the
# agents' CPU time from /proc (Benchmarks/agent-cpu.py: the method is in its header).
set -euo pipefail
if [ -n "${SPOTWISE_BIN:-}" ]; then
    bin=$(realpath "$SPOTWISE_BIN") # before the cd: a relative path is the caller's
    [ -x "$bin" ] || { echo "SPOTWISE_BIN=$SPOTWISE_BIN: not an executable" >&2; exit 1; }
fi
cd "$(dirname "$0")/../.."
runs=${1:-5}
notice_runs=${2:-2}
out=$(mktemp -d)
mkdir "$out/cpu"
if [ -z "${SPOTWISE_BIN:-}" ]; then
    swift build --product spotwise >/dev/null
    bin=.build/debug/spotwise
fi
echo "spotwise binary: $bin" >&2
for i in $(seq 1 "$runs"); do
    python3 Benchmarks/agent-cpu.py --json "$out/cpu/no-notice-$i.json" -- \
        "$bin" demo --state-dir "$out/no-notice-$i" --pool Benchmarks/interruptions/pool.yaml \
        --interruptions 10 --without-notice 10 --seed "$i" --speed 2 --json "$out/no-notice-$i.json" >/dev/null
    echo "run $i without notice: done" >&2
done
for i in $(seq 1 "$notice_runs"); do
    python3 Benchmarks/agent-cpu.py --json "$out/cpu/notice-$i.json" -- \
        "$bin" demo --state-dir "$out/notice-$i" --pool Benchmarks/interruptions/pool.yaml \
        --interruptions 10 --without-notice 0 --seed "$((100 + i))" --speed 2 --json "$out/notice-$i.json" >/dev/null
    echo "run $i with notice: done" >&2
done
python3 Benchmarks/interruptions/aggregate.py "$out"/*.json
echo
if [ "$runs" -gt 0 ]; then
    python3 Benchmarks/agent-cpu.py --sum --label "without notice" "$out"/cpu/no-notice-*.json
fi
if [ "$notice_runs" -gt 0 ]; then
    python3 Benchmarks/agent-cpu.py --sum --label "with notice" "$out"/cpu/notice-*.json
fi
python3 Benchmarks/agent-cpu.py --sum --label "all runs" "$out"/cpu/*.json
