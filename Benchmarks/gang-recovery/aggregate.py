#!/usr/bin/env python3
"""Aggregates the gang recovery benchmark: per job (single node, gang of 4) and notice, steps lost,
recovery split (detection, placement, restore, start) and how many gang members were kept."""
import glob
import json
import os
import statistics
import sys


def mean(values):
    values = [v for v in values if v is not None]
    return statistics.mean(values) if values else None


def cell(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


directory = sys.argv[1]
rows = {}
for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
    with open(path) as f:
        summary = json.load(f)
    assert summary["job"]["state"] == "succeeded", (path, summary["job"]["state"])
    job = os.path.basename(path).rsplit("-", 2)[0]  # run.sh names files JOBFILE-RUN-NOTICES.json
    for report in summary["interruptions"]:
        rows.setdefault((job, report["with_notice"]), []).append(report)

print("| job | interruptions | n | steps lost mean | detection s | placement s | restore s | start s |"
      " recovery s | members kept / new |")
print("|---|---|---|---|---|---|---|---|---|---|")
baseline = {}
for (job, notice), group in sorted(rows.items(), key=lambda item: (item[0][0] != "digits", item[0])):
    parts = {k: mean([r.get(k) for r in group]) for k in ("detection_s", "placement_s", "restore_s", "start_s")}
    recovery = sum(v for v in parts.values() if v is not None)
    if job == "digits":
        baseline[notice] = recovery
    ratio = f" ({recovery / baseline[notice]:.2f}x)" if job != "digits" and baseline.get(notice) else ""
    kept = sum(r.get("members_kept") or 0 for r in group)
    new = sum(r.get("members_new") or 0 for r in group)
    members = f"{kept} / {new}" if job != "digits" else "-"
    print(f"| {job} | {'with notice' if notice else 'without notice'} | {len(group)} | "
          f"{cell(mean([r.get('steps_lost') for r in group]), 1)} | {cell(parts['detection_s'])} | "
          f"{cell(parts['placement_s'])} | {cell(parts['restore_s'])} | {cell(parts['start_s'])} | "
          f"{recovery:.2f}{ratio} | {members} |")
print("\n(means; recovery = detection + placement + restore + start; the ratio is against the single-node"
      " job in the same run)")
