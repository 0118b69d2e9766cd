#!/usr/bin/env python3
"""Aggregates `spotwise demo --json` summaries: steps lost and recovery split, by notice."""
import json
import statistics
import sys


def describe(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-", "-", "-"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"{statistics.mean(values):.2f}", f"{statistics.median(values):.2f}", f"{p95:.2f}"


reports, every = [], None
for path in sys.argv[1:]:
    with open(path) as f:
        summary = json.load(f)
    assert summary["job"]["state"] == "succeeded", (path, summary["job"]["state"])
    reports += summary["interruptions"]
print("| interruptions | n | steps lost mean / p50 / p95 | max | detection s | placement s | restore s | start s |")
print("|---|---|---|---|---|---|---|---|")
for notice in (False, True):
    group = [r for r in reports if r["with_notice"] == notice]
    if not group:
        continue
    lost = [r.get("steps_lost") for r in group]
    mean, median, p95 = describe(lost)
    cells = [" / ".join(describe([r.get(k) for r in group])[:2]) for k in ("detection_s", "placement_s", "restore_s", "start_s")]
    print(f"| {'with notice' if notice else 'without notice'} | {len(group)} | {mean} / {median} / {p95} | "
          f"{max(v for v in lost if v is not None)} | " + " | ".join(cells) + " |")
print("\n(detection, placement, restore, start: mean / p50 seconds)")
