"""docs/trainer-sdk.md's PyTorch pattern (python/examples/pytorch_train.py) resumes exactly: a
run stopped by a notice and resumed ends with the weights of an uninterrupted run, on one node and
as a gang of 2 (gloo). Marked `torch` and left out by default (pyproject.toml's addopts), since
the library does not need torch and CI does not install it (its wheels pull CUDA): run it where
torch is installed with `python3 -m pytest -m torch python/tests`."""
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import child_env, read_lines

pytestmark = pytest.mark.torch

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "pytorch_train.py")
HPARAMS = '{"steps": 400, "seed": 3}'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(base, world, resume_step=None, port=None):
    processes = []
    for rank in range(world):
        own = base / ("rank-%d" % rank)
        own.mkdir(parents=True, exist_ok=True)
        env = {"SPOTWISE_JOB_ID": "job-torch", "SPOTWISE_ATTEMPT": "1", "SPOTWISE_HPARAMS": HPARAMS,
               "SPOTWISE_CHECKPOINT_EVERY": "50", "SPOTWISE_CHECKPOINT_DIR": str(own / "ckpt"),
               "SPOTWISE_OUTPUT_DIR": str(own / "out"), "SPOTWISE_PROGRESS": str(own / "progress.jsonl")}
        if world > 1:
            env.update(SPOTWISE_RANK=str(rank), RANK=str(rank), SPOTWISE_WORLD_SIZE=str(world),
                       WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), LOCAL_RANK="0")
        if resume_step is not None:
            env["SPOTWISE_RESUME_DIR"] = str(own / "ckpt" / ("step-%d" % resume_step))
        processes.append(subprocess.Popen([sys.executable, EXAMPLE], env=child_env(env), stdout=subprocess.DEVNULL))
    return processes


def weights(base):
    import torch

    state = torch.load(base / "rank-0" / "out" / "model.pt", weights_only=True)
    return {k: v.numpy().tobytes() for k, v in state.items()}


def steps_reported(path):
    return max([line.get("step", 0) for line in read_lines(path)] or [0]) if path.exists() else 0


@pytest.mark.parametrize("world", [1, 2])
def test_a_notice_and_a_resume_end_with_the_uninterrupted_weights(tmp_path, world):
    straight = tmp_path / "straight"
    assert [p.wait(timeout=120) for p in start(straight, world, port=free_port())] == [0] * world
    interrupted = tmp_path / "interrupted"
    processes = start(interrupted, world, port=free_port())
    progress = interrupted / ("rank-%d" % (world - 1)) / "progress.jsonl"
    deadline = time.time() + 60
    while steps_reported(progress) < 60 and time.time() < deadline:  # past the step-50 checkpoint
        time.sleep(0.005)
    processes[-1].send_signal(signal.SIGTERM)  # the last rank's node got the notice
    codes = [p.wait(timeout=120) for p in processes]
    if codes == [0] * world:
        pytest.skip("the run finished before the notice came")
    assert codes == [143] * world
    stopped = [max(int(n[5:]) for n in os.listdir(interrupted / ("rank-%d" % r) / "ckpt") if not n.endswith(".tmp"))
               for r in range(world)]
    assert len(set(stopped)) == 1 and stopped[0] > 50, stopped
    resumed = start(interrupted, world, resume_step=stopped[0], port=free_port())
    assert [p.wait(timeout=120) for p in resumed] == [0] * world
    assert weights(interrupted) == weights(straight)
