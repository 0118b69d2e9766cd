"""Progress lines: exactly what the agent's ProgressReader decodes (Sources/WorkerAgent)."""
import os

import pytest

import spotwise
from conftest import OUTER_GANG, read_lines


def test_progress_lines(contract):
    env, paths = contract
    run = spotwise.Run(environ=env, total_steps=920)
    run.announce()
    run.report(1, loss=2.5)
    run.report(10, {"val/loss": 1.0}, acc=0.5)
    run.report(11)
    raw = paths["progress"].read_text()
    assert raw == ('{"pid": %d, "total_steps": 920}\n'
                   '{"step": 1, "total_steps": 920, "metrics": {"loss": 2.5}}\n'
                   '{"step": 10, "total_steps": 920, "metrics": {"val/loss": 1.0, "acc": 0.5}}\n'
                   '{"step": 11, "total_steps": 920}\n' % os.getpid())


def test_without_a_total_the_line_has_none(contract):
    env, paths = contract
    spotwise.Run(environ=env).report(3, loss=1)
    assert read_lines(paths["progress"]) == [{"step": 3, "metrics": {"loss": 1.0}}]


def test_numpy_scalars_are_numbers_and_non_finite_values_are_left_out(contract):
    np = pytest.importorskip("numpy")
    env, paths = contract
    run = spotwise.Run(environ=env)
    run.report(5, loss=np.float32(0.25), n=np.int64(3), bad=float("nan"), worse=np.float64("inf"))
    assert read_lines(paths["progress"]) == [{"step": 5, "metrics": {"loss": 0.25, "n": 3.0}}]


@pytest.mark.parametrize("value", ["0.5", True, None, [1.0]])
def test_a_metric_that_is_not_a_number_is_an_error(contract, value):
    env, paths = contract
    with pytest.raises(TypeError, match="metrics are numbers"):
        spotwise.Run(environ=env).report(1, loss=value)
    assert read_lines(paths["progress"]) == []


def test_without_a_progress_file_lines_go_nowhere(tmp_path):
    run = spotwise.Run(environ={"SPOTWISE_CHECKPOINT_DIR": str(tmp_path / "c"),
                                "SPOTWISE_OUTPUT_DIR": str(tmp_path / "o")})
    run.report(1, loss=1.0)
    with run.checkpoint(1) as checkpoint:
        checkpoint.save_bytes("a", b"")
    assert sorted(os.listdir(tmp_path)) == ["c"]


def test_init_announces_the_pid_once(contract, monkeypatch):
    env, paths = contract
    for name in [n for n in os.environ if n.startswith("SPOTWISE_") or n in OUTER_GANG]:  # pytest under an agent
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    run = spotwise.init(total_steps=50)
    assert spotwise.init() is run and spotwise.context() is run
    spotwise.init(total_steps=60)
    assert run.total_steps == 60
    assert read_lines(paths["progress"]) == [{"pid": os.getpid(), "total_steps": 50}]
