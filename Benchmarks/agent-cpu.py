#!/usr/bin/env python3
"""CPU time of the worker agents (`spotwise worker ...`) while a command runs, from /proc.

Usage:
  Benchmarks/agent-cpu.py [--interval S] [--json FILE] -- COMMAND [ARGS...]
      Runs COMMAND (stdio inherited), samples /proc every S seconds (default 0.5) while it runs,
      exits with its exit status. With --json, writes the totals there and prints nothing;
      otherwise prints the CPU line on stdout.
  Benchmarks/agent-cpu.py --sum [--label TEXT] FILE...
      Adds up the totals of several --json files and prints one CPU line.

Method. Every S seconds the sampler reads /proc/PID/stat of every process, builds the parent
tree, and picks the agents: processes below COMMAND whose argv is `.../spotwise worker ...`
(argv[0] named `spotwise`, argv[1] `worker`, as LocalProvisioner spawns them). An agent, once
seen, is followed until it is gone even if it is reparented. Each agent is keyed by (pid, start
time), so a reused pid is a new agent. For each it keeps the last-seen utime+stime (fields 14
and 15 of /proc/PID/stat: every thread of the agent, but not its children: the trainer's CPU,
and the trainer's reaped children's (cutime/cstime), are not counted) and its lifetime, from
its start time (field 22) to the last sample that saw it alive. The totals are the sums over
agents: agent processes seen, CPU seconds, alive minutes, and CPU seconds per alive minute.

Split: at each sample an agent with at least one live child process (its trainer, spawned by
`sh -c`) counts as "with a trainer", one with none as idle; the CPU and wall time since that
agent's previous sample go to the state seen at this sample (for its first sample: everything
since it started, usually idle: start-up and registration). So "with a trainer" approximates
attempt time: restoring a checkpoint before the trainer starts, and the reporting after it
exits, count as idle when no child is alive at the sample.

Limits: an agent killed (SIGKILL from the simulated market, or at the end of the demo) loses
what it did after the last sample that saw it, at most one interval (< 0.5 s by default) of
both CPU and lifetime; an agent that lives less than one interval may not be seen at all. Ticks
are 1/CLK_TCK s (10 ms here). The sampler's own CPU is reported, so its cost on a loaded
machine is visible; it does not count in the agents' figures.
"""
import json
import os
import resource
import signal
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def read_stat(pid):
    """(ppid, utime+stime ticks, start ticks) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    # fields[0] is field 3 of proc(5) (state), so field N is fields[N - 3].
    if fields[0] == "Z":
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[19])


def is_agent(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return len(argv) > 1 and os.path.basename(argv[0]) == b"spotwise" and argv[1] == b"worker"


def uptime():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


class Sampler:
    def __init__(self, root):
        self.root = root
        self.agents = {}  # (pid, start ticks) -> record
        self.checked = {}  # (pid, start ticks) -> is an agent (argv read once per process)

    def sample(self):
        now = uptime()
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = read_stat(int(entry))
                if stat:
                    stats[int(entry)] = stat
        children = {}
        for pid, (ppid, _, _) in stats.items():
            children.setdefault(ppid, []).append(pid)
        below = set()
        queue = list(children.get(self.root, []))
        while queue:
            pid = queue.pop()
            below.add(pid)
            queue += children.get(pid, [])
        for pid, (_, ticks, start) in stats.items():
            key = (pid, start)
            if key not in self.agents:
                if pid not in below:
                    continue
                if key not in self.checked:
                    self.checked[key] = is_agent(pid)
                if not self.checked[key]:
                    continue
                self.agents[key] = {"ticks": 0, "seen_s": start / TICK,
                                    "busy_ticks": 0, "busy_s": 0.0, "idle_ticks": 0, "idle_s": 0.0}
            agent = self.agents[key]
            state = "busy" if children.get(pid) else "idle"
            agent[state + "_ticks"] += ticks - agent["ticks"]
            agent[state + "_s"] += now - agent["seen_s"]
            agent["ticks"], agent["seen_s"] = ticks, now

    def totals(self):
        total = {"agents": len(self.agents)}
        for field in ("busy", "idle"):
            total[field + "_cpu_s"] = sum(a[field + "_ticks"] for a in self.agents.values()) / TICK
            total[field + "_wall_s"] = sum(a[field + "_s"] for a in self.agents.values())
        self_usage = resource.getrusage(resource.RUSAGE_SELF)
        total["sampler_cpu_s"] = self_usage.ru_utime + self_usage.ru_stime
        return total


def per_minute(cpu, wall):
    return f"{cpu / (wall / 60):.3f}" if wall > 0 else "-"


def line(total, label=""):
    cpu = total["busy_cpu_s"] + total["idle_cpu_s"]
    wall = total["busy_wall_s"] + total["idle_wall_s"]
    return (f"agent CPU{' (' + label + ')' if label else ''}: {total['agents']} agent processes, "
            f"{cpu:.2f} CPU s over {wall / 60:.2f} agent-minutes alive = {per_minute(cpu, wall)} CPU s "
            f"per agent-minute; with a trainer {total['busy_cpu_s']:.2f} s over "
            f"{total['busy_wall_s'] / 60:.2f} min = {per_minute(total['busy_cpu_s'], total['busy_wall_s'])}"
            f" s/min; idle {total['idle_cpu_s']:.2f} s over {total['idle_wall_s'] / 60:.2f} min = "
            f"{per_minute(total['idle_cpu_s'], total['idle_wall_s'])} s/min "
            f"(/proc every {total.get('interval_s', 0.5)} s; sampler's own CPU {total['sampler_cpu_s']:.2f} s)")


def run(argv):
    interval, json_path = 0.5, None
    while argv and argv[0] != "--":
        option = argv.pop(0)
        if option == "--interval":
            interval = float(argv.pop(0))
        elif option == "--json":
            json_path = argv.pop(0)
        else:
            sys.exit(f"agent-cpu.py: unknown option {option} (see the header)")
    command = argv[1:]
    if not command:
        sys.exit("agent-cpu.py: no command after --")
    child = subprocess.Popen(command)
    # Ctrl-C reaches the command through the process group; the sampler waits for it to end.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    sampler = Sampler(child.pid)
    while child.poll() is None:
        sampler.sample()
        deadline = time.monotonic() + interval
        while child.poll() is None and time.monotonic() < deadline:
            time.sleep(min(0.05, interval))
    total = sampler.totals()
    total["interval_s"] = interval
    if json_path:
        with open(json_path, "w") as f:
            json.dump(total, f, indent=2)
    else:
        print(line(total))
    return child.returncode if child.returncode >= 0 else 128 - child.returncode


def add_up(argv):
    label = ""
    if argv[:1] == ["--label"]:
        label, argv = argv[1], argv[2:]
    total = {}
    for path in argv:
        with open(path) as f:
            one = json.load(f)
        for key, value in one.items():
            total[key] = value if key == "interval_s" else total.get(key, 0) + value
    if not total:
        sys.exit("agent-cpu.py --sum: no files")
    print(line(total, label))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == ["--sum"]:
        add_up(arguments[1:])
    else:
        sys.exit(run(arguments))
