"""Real signals to real child trainers (tests/child_trainer.py)."""
import json
import os
import pickle
import signal
import subprocess
import time

import spotwise
from conftest import read_lines, start_child


def finish(child, timeout=30):
    out, _ = child.communicate(timeout=timeout)
    return child.returncode, out.splitlines()


def test_sigusr1_makes_should_checkpoint_true_and_the_published_checkpoint_serves_it(contract):
    env, paths = contract
    env["SPOTWISE_CHECKPOINT_EVERY"] = "1000"  # step 7 is not on the schedule
    child = start_child("wait-request", env)
    assert child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGUSR1)
    code, lines = finish(child)
    assert code == 0, lines
    assert json.loads(lines[0]) == {"should": True, "stop": False}
    assert json.loads(lines[1]) == {"after": False, "should_next": False}  # served: step 8 is not due
    assert (paths["checkpoints"] / "step-7" / "state.json").exists()
    progress = read_lines(paths["progress"])
    assert progress[0] == {"pid": child.pid, "total_steps": 1000}
    assert progress[-1] == {"step": 7, "total_steps": 1000, "checkpoint": "step-7"}


def test_sigterm_checkpoints_at_the_next_step_and_exits_143(contract):
    env, paths = contract
    env["SPOTWISE_CHECKPOINT_EVERY"] = "1000"
    child = start_child("wait-request", env)
    assert child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGTERM)
    code, lines = finish(child)
    assert code == spotwise.EXIT_NOTICE == 143
    assert json.loads(lines[0]) == {"should": True, "stop": True}
    assert "checkpointed step 7 on a notice" in lines[1]
    assert json.load(open(paths["checkpoints"] / "step-7" / "state.json")) == {"step": 7}
    assert read_lines(paths["progress"])[-1]["checkpoint"] == "step-7"


def test_signals_blocked_by_the_parent_are_unblocked_at_import(contract):
    env, _ = contract
    block = lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGUSR1})  # noqa: E731
    child = start_child("masked", env, preexec_fn=block)
    assert child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGTERM)
    code, lines = finish(child)
    assert (code, lines) == (0, ["notice"])


def _slow_write_to_the_middle(contract):
    env, paths = contract
    child = start_child("slow-write", env)
    assert child.stdout.readline().strip() == "writing"  # step-10 is published; step-20 half written
    staging = paths["checkpoints"] / "step-20.tmp"
    assert (paths["checkpoints"] / "step-10").is_dir() and staging.is_dir()
    child.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert child.poll() is None, "SIGTERM interrupted the trainer in the middle of a write"
    assert not (paths["checkpoints"] / "step-20").exists()
    return child, paths


def test_sigterm_during_a_checkpoint_write_never_leaves_a_torn_step_and_the_previous_one_resumes(contract):
    """The agent kills the trainer when the notice window ends: if that lands in a write, there
    is no step-20/ at all, and step-10 is whole and is what a rerun resumes from."""
    child, paths = _slow_write_to_the_middle(contract)
    child.kill()
    child.wait(timeout=10)
    checkpoints = paths["checkpoints"]
    assert sorted(os.listdir(checkpoints)) == ["step-10", "step-20.tmp"]
    assert spotwise.latest_checkpoint(str(checkpoints)) == str(checkpoints / "step-10")
    assert all(line.get("checkpoint") != "step-20" for line in read_lines(paths["progress"]))
    # A rerun by hand resumes from step-10 (under an agent, SPOTWISE_RESUME_DIR says so).
    run = spotwise.Run(environ={"SPOTWISE_CHECKPOINT_DIR": str(checkpoints)})
    restored = run.restore()
    assert restored.step == 10 and restored.load_pickle("state.pkl") == {"step": 10}
    assert restored.load_bytes("data.bin") == b"A" * 100000
    with run.checkpoint(20) as checkpoint:  # the torn staging directory is replaced
        checkpoint.save_bytes("data.bin", b"C")
    assert sorted(os.listdir(checkpoints / "step-20")) == ["data.bin", spotwise.METADATA_FILE]


def test_sigterm_during_a_checkpoint_write_lets_it_finish_then_exits_143(contract):
    child, paths = _slow_write_to_the_middle(contract)
    child.stdin.write("go\n")
    child.stdin.flush()
    code, lines = finish(child)
    assert code == 143, lines
    assert lines[0] == "resumed go stop"  # the read went on after the handler; the notice is seen
    assert "published-and-continued" not in lines
    step = paths["checkpoints"] / "step-20"
    assert (step / "data.bin").read_bytes() == b"B" * 100000
    assert pickle.loads((step / "state.pkl").read_bytes()) == {"step": 20}
    assert json.loads((step / spotwise.METADATA_FILE).read_text()) == {"format": 1, "rank": 0, "step": 20,
                                                                       "world_size": 1}
    assert not (paths["checkpoints"] / "step-20.tmp").exists()
    checkpoints = [line["checkpoint"] for line in read_lines(paths["progress"]) if "checkpoint" in line]
    assert checkpoints == ["step-10", "step-20"]


def test_a_broken_stdout_still_exits_143(contract):
    """The exit message goes to stdout; when nobody reads it any more (a pipe closed), the
    checkpoint is still published and the exit status is still 143, not a traceback's 1 or 120."""
    env, paths = contract
    child = start_child("broken-stdout", env, stderr=subprocess.PIPE)
    out, err = child.communicate(timeout=30)
    assert out.splitlines() == ["ready"]
    assert child.returncode == 143, err
    assert "Traceback" not in err and "not-exited" not in err, err
    assert json.load(open(paths["checkpoints"] / "step-7" / "state.json")) == {"step": 7}
