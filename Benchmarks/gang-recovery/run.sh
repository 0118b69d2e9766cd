#!/usr/bin/env bash
# Recovery of a 4-node gang against a single-node job, in the same run of this script: RUNS
# demos of each with 4 interruptions without notice, then RUNS with 4 with notice, on a spot-only
# pool of six nodes in one region (pool.yaml). Each interruption takes one node: for the gang, a
# seeded member (rank 0 or another). Prints the table that
# docs/benchmarks.md quotes. Usage: Benchmarks/gang-recovery/run.sh [RUNS] (default 2; about
# 8 minutes on 2 cores; CI runs 1 with 2 interruptions each).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-2}
interruptions=${2:-4}
out=$(mktemp -d)
swift build --product spotwise >/dev/null
# The gang: jobs/digits-ddp.yaml with four nodes (made here, so it never drifts from the example).
sed -e 's/^name: digits-ddp$/name: digits-ddp4/' -e 's/^  nodes: 2$/  nodes: 4/' \
    -e 's/model: digits-ddp-classifier/model: digits-ddp4-classifier/' jobs/digits-ddp.yaml > "$out/digits-ddp4.yaml"
grep -q "^  nodes: 4$" "$out/digits-ddp4.yaml" || { echo "jobs/digits-ddp.yaml changed shape: fix run.sh" >&2; exit 1; }
for job in jobs/digits.yaml "$out/digits-ddp4.yaml"; do
    name=$(basename "$job" .yaml)
    for i in $(seq 1 "$runs"); do
        for notice in 0 "$interruptions"; do
            .build/debug/spotwise demo --job "$job" --pool Benchmarks/gang-recovery/pool.yaml \
                --state-dir "$out/$name-$i-$notice" --interruptions "$interruptions" \
                --without-notice "$((interruptions - notice))" --seed "$i" --speed 2 \
                --json "$out/$name-$i-$notice.json" >/dev/null
            echo "$name run $i ($notice of $interruptions with notice): done" >&2
        done
    done
done
python3 Benchmarks/gang-recovery/aggregate.py "$out"
