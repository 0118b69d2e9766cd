"""The library under test is this checkout's (python/), installed or not. Importing spotwise
installs its SIGTERM/SIGUSR1 handlers in pytest itself; they are put back to the defaults so that
pytest stays stoppable, and the tests that need real signals run trainers as child processes."""
import os
import signal
import subprocess
import sys

import pytest

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, PYTHON_DIR)

import spotwise  # noqa: E402
from spotwise import _signals  # noqa: E402

signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.signal(signal.SIGUSR1, signal.SIG_DFL)

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child_trainer.py")


@pytest.fixture(autouse=True)
def fresh_flags():
    """Every test starts with no request and no notice, and no process-wide Run."""
    flags = _signals.flags
    flags.requested = flags.served = 0
    flags.stop = False
    spotwise._current = None
    yield
    flags.requested = flags.served = 0
    flags.stop = False
    spotwise._current = None


@pytest.fixture
def contract(tmp_path):
    """A contract environment as an agent would set it (single node), in tmp_path."""
    paths = {"checkpoints": tmp_path / "checkpoints", "output": tmp_path / "output",
             "progress": tmp_path / "progress.jsonl"}
    paths["checkpoints"].mkdir()
    paths["output"].mkdir()
    paths["progress"].touch()
    env = {"SPOTWISE_JOB_ID": "job-test", "SPOTWISE_ATTEMPT": "1", "SPOTWISE_HPARAMS": '{"lr": 0.1}',
           "SPOTWISE_CHECKPOINT_EVERY": "10", "SPOTWISE_CHECKPOINT_DIR": str(paths["checkpoints"]),
           "SPOTWISE_OUTPUT_DIR": str(paths["output"]), "SPOTWISE_PROGRESS": str(paths["progress"])}
    return env, paths


#: Set by torchrun or an agent around pytest itself: never passed on to the tests' child trainers.
OUTER_GANG = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def child_env(env):
    """The environment of a child trainer: the contract's variables and this checkout's library
    (the outer process's own contract and gang variables left out)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SPOTWISE_") and k not in OUTER_GANG}
    base.update(env)
    base["PYTHONPATH"] = PYTHON_DIR + os.pathsep + base.get("PYTHONPATH", "")
    return base


def start_child(mode, env, *args, **popen):
    """tests/child_trainer.py MODE ARGS with `env`; stdin and stdout are pipes (line protocol)."""
    return subprocess.Popen([sys.executable, CHILD, mode, *map(str, args)], env=child_env(env),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, **popen)


def read_lines(path):
    import json
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
