"""Checkpoints and the output directory on real files: atomic publishing, what is refused, and
the state helpers."""
import os

import pytest

import spotwise
from conftest import read_lines


def make_run(contract, total=None):
    env, paths = contract
    return spotwise.Run(environ=env, total_steps=total), paths


def test_a_checkpoint_is_published_whole_then_announced(contract):
    run, paths = make_run(contract, total=100)
    with run.checkpoint(10) as checkpoint:
        checkpoint.save_pickle("state.pkl", {"rng": [1, 2, 3]})
        checkpoint.save_json("meta.json", {"a": 1})
        checkpoint.save_bytes("nested/blob.bin", b"\x00\x01")
        assert (paths["checkpoints"] / "step-10.tmp").is_dir()
        assert not (paths["checkpoints"] / "step-10").exists()
        assert read_lines(paths["progress"]) == []
    assert sorted(os.listdir(paths["checkpoints"])) == ["step-10"]
    reader = spotwise.CheckpointReader(str(paths["checkpoints"] / "step-10"))
    assert reader.load_pickle("state.pkl") == {"rng": [1, 2, 3]}
    assert reader.load_json("meta.json") == {"a": 1}
    assert reader.load_bytes("nested/blob.bin") == b"\x00\x01"
    assert read_lines(paths["progress"]) == [{"step": 10, "total_steps": 100, "checkpoint": "step-10"}]


def test_an_exception_in_the_block_publishes_nothing(contract):
    run, paths = make_run(contract)
    with pytest.raises(RuntimeError):
        with run.checkpoint(10) as checkpoint:
            checkpoint.save_bytes("a", b"1")
            raise RuntimeError("disk full")
    assert os.listdir(paths["checkpoints"]) == []
    assert read_lines(paths["progress"]) == []


def test_links_are_refused_before_publishing(contract, tmp_path):
    run, paths = make_run(contract)
    (tmp_path / "elsewhere").write_text("x")
    with pytest.raises(ValueError, match="symlink"):
        with run.checkpoint(10) as checkpoint:
            os.symlink(tmp_path / "elsewhere", checkpoint.path("link"))
    with pytest.raises(ValueError, match="hard links"):
        with run.checkpoint(20) as checkpoint:
            os.link(tmp_path / "elsewhere", checkpoint.path("hard"))
    assert os.listdir(paths["checkpoints"]) == []


@pytest.mark.parametrize("name", ["../escape", "/abs", "a//b", "./a", "a\\b", "", spotwise.METADATA_FILE])
def test_names_outside_the_directory_are_refused(contract, name):
    run, _ = make_run(contract)
    with pytest.raises(ValueError):
        with run.checkpoint(1) as checkpoint:
            checkpoint.path(name)


@pytest.mark.parametrize("step", [-1, 2147483648, 1.5, "3", True])
def test_steps_outside_the_stores_range_are_refused(contract, step):
    run, _ = make_run(contract)
    with pytest.raises((ValueError, TypeError)):
        run.checkpoint(step)
    with pytest.raises((ValueError, TypeError)):
        run.report(step)


def test_writing_a_step_again_replaces_it(tmp_path):
    run = spotwise.Run(environ={"SPOTWISE_CHECKPOINT_DIR": str(tmp_path)})
    for content in (b"first", b"second"):
        with run.checkpoint(5) as checkpoint:
            checkpoint.save_bytes("a", content)
    assert sorted(os.listdir(tmp_path)) == ["step-5"]
    assert (tmp_path / "step-5" / "a").read_bytes() == b"second"


def test_copy_takes_files_and_directories(contract, tmp_path):
    run, paths = make_run(contract)
    source = tmp_path / "tokenizer"
    source.mkdir()
    (source / "vocab.txt").write_text("a b c")
    (tmp_path / "config.yaml").write_text("k: v")
    with run.checkpoint(3) as checkpoint:
        checkpoint.copy("tokenizer", str(source))
        checkpoint.copy("config.yaml", str(tmp_path / "config.yaml"))
    step = paths["checkpoints"] / "step-3"
    assert (step / "tokenizer" / "vocab.txt").read_text() == "a b c"
    assert (step / "config.yaml").read_text() == "k: v"


def test_numpy_arrays_round_trip(contract):
    np = pytest.importorskip("numpy")
    run, paths = make_run(contract)
    weights = {"w": np.arange(6, dtype=np.float64).reshape(2, 3), "b": np.zeros(3, dtype=np.float32)}
    with run.checkpoint(4) as checkpoint:
        checkpoint.save_arrays("weights.npz", **weights)
        checkpoint.save_array("mask.npy", np.array([True, False]))
    reader = spotwise.CheckpointReader(str(paths["checkpoints"] / "step-4"))
    loaded = reader.load_arrays("weights.npz")
    assert sorted(loaded) == ["b", "w"]
    assert all(loaded[k].tobytes() == weights[k].tobytes() and loaded[k].dtype == weights[k].dtype for k in weights)
    assert reader.load_array("mask.npy").tolist() == [True, False]


def test_the_model_and_final_metrics_go_to_the_output_directory(contract):
    run, paths = make_run(contract, total=920)
    run.save_model("model.pkl", {"coef": [1.0, 2.0]})
    run.save_model("model.bin", b"raw")
    metrics = run.finish({"auc": 0.99, "accuracy": 1})
    assert metrics == {"auc": 0.99, "accuracy": 1.0}
    assert (paths["output"] / "metrics.json").read_text() == '{"accuracy": 1.0, "auc": 0.99}'
    assert (paths["output"] / "model.bin").read_bytes() == b"raw"
    assert read_lines(paths["progress"])[-1] == {"step": 920, "total_steps": 920,
                                                 "metrics": {"auc": 0.99, "accuracy": 1.0}}
    assert sorted(os.listdir(paths["output"])) == ["metrics.json", "model.bin", "model.pkl"]


def test_the_model_as_numpy_arrays(contract):
    np = pytest.importorskip("numpy")
    run, paths = make_run(contract)
    run.save_model("model.npz", w=np.ones(2))
    run.save_model("model.npy", np.ones(3))
    with np.load(paths["output"] / "model.npz") as model:
        assert model["w"].tolist() == [1.0, 1.0]
    assert np.load(paths["output"] / "model.npy").tolist() == [1.0, 1.0, 1.0]


def test_final_metrics_must_be_finite_numbers(contract):
    run, paths = make_run(contract)
    with pytest.raises(ValueError, match="loss"):
        run.finish({"auc": 0.9, "loss": float("nan")})
    with pytest.raises(TypeError):
        run.finish({"auc": "high"})
    assert not (paths["output"] / "metrics.json").exists()


def test_a_directory_that_cannot_be_listed_fails_the_checkpoint(contract, monkeypatch):
    """os.walk skips a directory it cannot list unless told otherwise: the checkpoint would be
    published without its files. (Root lists anything, so the failure is made by hand.)"""
    run, paths = make_run(contract)
    scandir = os.scandir

    def unreadable(path="."):
        if not isinstance(path, int) and os.path.basename(os.fspath(path)) == "shards":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return scandir(path)

    with pytest.raises(PermissionError, match="shards"):
        with run.checkpoint(10) as checkpoint:
            checkpoint.save_bytes("shards/0.bin", b"0")
            checkpoint.save_bytes("state.bin", b"s")
            monkeypatch.setattr(os, "scandir", unreadable)
    monkeypatch.undo()
    assert os.listdir(paths["checkpoints"]) == []
    assert read_lines(paths["progress"]) == []


def _no_hang(seconds):
    """Fails the test with TimeoutError instead of hanging it (a FIFO's open blocks)."""
    import signal

    def expired(signum, frame):
        raise TimeoutError("the checkpoint's publish hung")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    return lambda: (signal.alarm(0), signal.signal(signal.SIGALRM, previous))


@pytest.mark.parametrize("kind", ["FIFO", "socket"])
def test_anything_but_files_and_directories_is_refused(contract, kind):
    import socket
    run, paths = make_run(contract)
    restore = _no_hang(5)
    server = None
    try:
        with pytest.raises(ValueError, match="'nested/special' is a %s, not a regular file or directory" % kind):
            with run.checkpoint(10) as checkpoint:
                checkpoint.save_bytes("state.bin", b"s")
                path = os.path.join(os.path.dirname(checkpoint.path("nested/x")), "special")
                if kind == "FIFO":
                    os.mkfifo(path)
                else:
                    server = socket.socket(socket.AF_UNIX)
                    server.bind(path)
    finally:
        restore()
        if server is not None:
            server.close()
    assert os.listdir(paths["checkpoints"]) == []


def test_final_metrics_are_fsynced_under_a_name_of_their_own(contract, tmp_path, monkeypatch):
    """metrics.json is durable before it is renamed into place, and the temporary file is never
    a fixed name: a stale metrics.json.tmp (here a symlink out of the directory) is not written
    through."""
    run, paths = make_run(contract)
    victim = tmp_path / "victim"
    os.symlink(victim, paths["output"] / "metrics.json.tmp")
    synced = []
    fsync = os.fsync

    def recording(fd):
        synced.append(os.fstat(fd).st_ino)
        return fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    run.finish({"auc": 0.5})
    monkeypatch.undo()
    assert not victim.exists()
    assert (paths["output"] / "metrics.json").read_text() == '{"auc": 0.5}'
    assert os.stat(paths["output"] / "metrics.json").st_ino in synced
    assert os.stat(paths["output"]).st_ino in synced  # the rename too
    assert sorted(os.listdir(paths["output"])) == ["metrics.json", "metrics.json.tmp"]
    assert oct(os.stat(paths["output"] / "metrics.json").st_mode & 0o777) == oct(0o644)
