#!/usr/bin/env bash
# Recovery of a 4-node gang against a single-node job, in the same run of this script: RUNS
# demos of each with 4 interruptions without notice, then RUNS with 4 with notice, on a spot-only
# pool of six nodes in one region (pool.yaml). Each interruption takes one node: for the gang, a
# seeded member (rank 0 or another). Prints the table that
# docs/benchmarks.md quotes. Usage: Benchmarks/gang-recovery/run.sh [RUNS] (default 2; about
# 8 minutes on 2 cores; CI runs 1 with 2 interruptions each).
# SPOTWISE_BIN=PATH runs that spotwise binary (e.g. a copy of an older agent, to compare in the
# same session) instead of building and running .build/debug/spotwise. After the table, the
# agents' CPU time from /proc (Benchmarks/agent-cpu.py: the method is in its header).
set -euo pipefail
if [ -n "${SPOTWISE_BIN:-}" ]; then
    bin=$(realpath "$SPOTWISE_BIN") # before the cd: a relative path is the caller's
    [ -x "$bin" ] || { echo "SPOTWISE_BIN=$SPOTWISE_BIN: not an executable" >&2; exit 1; }
fi
cd "$(dirname "$0")/../.."
runs=${1:-2}
interruptions=${2:-4}
out=$(mktemp -d)
cpu=$(mktemp -d) # apart from $out: aggregate.py reads every *.json there
if [ -z "${SPOTWISE_BIN:-}" ]; then
    swift build --product spotwise >/dev/null
    bin=.build/debug/spotwise
fi
echo "spotwise binary: $bin" >&2
# The gang: jobs/digits-ddp.yaml with four nodes (made here, so it never drifts from the example).
sed -e 's/^name: digits-ddp$/name: digits-ddp4/' -e 's/^  nodes: 2$/  nodes: 4/' \
    -e 's/model: digits-ddp-classifier/model: digits-ddp4-classifier/' jobs/digits-ddp.yaml > "$out/digits-ddp4.yaml"
grep -q "^  nodes: 4$" "$out/digits-ddp4.yaml" || { echo "jobs/digits-ddp.yaml changed shape: fix run.sh" >&2; exit 1; }
for job in jobs/digits.yaml "$out/digits-ddp4.yaml"; do
    name=$(basename "$job" .yaml)
    for i in $(seq 1 "$runs"); do
        for notice in 0 "$interruptions"; do
            python3 Benchmarks/agent-cpu.py --json "$cpu/$name-$i-$notice.json" -- \
                "$bin" demo --job "$job" --pool Benchmarks/gang-recovery/pool.yaml \
                --state-dir "$out/$name-$i-$notice" --interruptions "$interruptions" \
                --without-notice "$((interruptions - notice))" --seed "$i" --speed 2 \
                --json "$out/$name-$i-$notice.json" >/dev/null
            echo "$name run $i ($notice of $interruptions with notice): done" >&2
        done
    done
done
python3 Benchmarks/gang-recovery/aggregate.py "$out"
echo
if [ "$runs" -gt 0 ]; then
    python3 Benchmarks/agent-cpu.py --sum --label "digits, single node" "$cpu"/digits-[0-9]*.json
    python3 Benchmarks/agent-cpu.py --sum --label "digits-ddp4, gang of 4" "$cpu"/digits-ddp4-*.json
    python3 Benchmarks/agent-cpu.py --sum --label "all runs" "$cpu"/*.json
fi
