"""Processes a trainer starts (a DataLoader's workers, a multiprocessing.Pool) are not the
trainer: they do not announce their pid (the agent would signal them instead) and do not keep the
trainer's signal handlers (a worker that ignores SIGTERM hangs Pool.terminate())."""
import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import child_env, read_lines

POOL_TRAINER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pool_trainer.py")


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_only_the_trainer_announces_its_pid_and_keeps_the_handlers(contract, method):
    env, paths = contract
    trainer = subprocess.Popen([sys.executable, POOL_TRAINER, method], env=child_env(env), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = trainer.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(trainer.pid, signal.SIGKILL)  # the workers and the fork server too
        trainer.communicate()
        pytest.fail("the trainer hung: its pool's workers ignored SIGTERM (Pool.terminate)")
    assert trainer.returncode == 0, err
    seen = json.loads(out)
    assert seen["pid"] == trainer.pid and seen["default_handlers"] == [False, False]
    workers = seen["workers"]
    assert {worker["pid"] for worker in workers}.isdisjoint({trainer.pid})
    assert all(worker["default_handlers"] == [True, True] for worker in workers), workers
    assert all(worker["hparams"] == {"lr": 0.1} for worker in workers)  # init() still reads the contract
    assert [line for line in read_lines(paths["progress"]) if "pid" in line] == [
        {"pid": trainer.pid, "total_steps": 10}]
