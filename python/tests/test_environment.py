"""The contract's environment: parsed, checked, and every error naming its variable."""
import os
import re

import pytest

import spotwise

REQUIRED = ["SPOTWISE_ATTEMPT", "SPOTWISE_HPARAMS", "SPOTWISE_CHECKPOINT_EVERY", "SPOTWISE_CHECKPOINT_DIR",
            "SPOTWISE_OUTPUT_DIR", "SPOTWISE_PROGRESS"]


def test_the_context(contract, tmp_path):
    env, paths = contract
    resume = tmp_path / "resume"
    resume.mkdir()
    env["SPOTWISE_RESUME_DIR"] = str(resume)
    run = spotwise.Run(environ=env)
    assert (run.job_id, run.attempt, run.hparams, run.checkpoint_every) == ("job-test", 1, {"lr": 0.1}, 10)
    assert (run.rank, run.world_size, run.master_addr, run.master_port) == (0, 1, None, None)
    assert run.checkpoint_dir == str(paths["checkpoints"]) and run.output_dir == str(paths["output"])
    assert run.resume_dir == str(resume) and run.under_agent and not run.is_gang


@pytest.mark.parametrize("name", REQUIRED)
def test_under_an_agent_a_missing_variable_is_named(contract, name):
    env, _ = contract
    del env[name]
    with pytest.raises(spotwise.ContractError, match="^%s is not set" % name):
        spotwise.Run(environ=env)


@pytest.mark.parametrize("name", REQUIRED)
def test_an_empty_variable_is_a_missing_one(contract, name):
    env, _ = contract
    env[name] = ""
    with pytest.raises(spotwise.ContractError, match=name):
        spotwise.Run(environ=env)


@pytest.mark.parametrize("text, says", [
    ("{lr: 0.1}", "SPOTWISE_HPARAMS is not valid JSON"),
    ('{"lr": 0.1', "SPOTWISE_HPARAMS is not valid JSON"),
    ("[1, 2]", "SPOTWISE_HPARAMS is JSON but not an object"),
    ('"text"', "SPOTWISE_HPARAMS is JSON but not an object"),
])
def test_malformed_hyperparameters(contract, text, says):
    env, _ = contract
    env["SPOTWISE_HPARAMS"] = text
    with pytest.raises(spotwise.ContractError, match=re.escape(says)):
        spotwise.Run(environ=env)


@pytest.mark.parametrize("name, value, says", [
    ("SPOTWISE_CHECKPOINT_EVERY", "ten", "SPOTWISE_CHECKPOINT_EVERY='ten' is not a whole number"),
    ("SPOTWISE_CHECKPOINT_EVERY", "-5", "SPOTWISE_CHECKPOINT_EVERY=-5 is out of range"),
    ("SPOTWISE_ATTEMPT", "0", "SPOTWISE_ATTEMPT=0 is out of range"),
    ("SPOTWISE_RESUME_DIR", "/nonexistent/resume", "SPOTWISE_RESUME_DIR='/nonexistent/resume' is not a directory"),
])
def test_malformed_values_are_named(contract, name, value, says):
    env, _ = contract
    env[name] = value
    with pytest.raises(spotwise.ContractError, match=re.escape(says)):
        spotwise.Run(environ=env)


def test_by_hand_local_defaults_stand_in(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = spotwise.Run(environ={})
    assert (run.job_id, run.attempt, run.hparams, run.checkpoint_every) == (None, None, {}, 50)
    assert run.checkpoint_dir == str(tmp_path / "checkpoints-local")
    assert run.output_dir == str(tmp_path / "output") and run.progress_path is None and run.resume_dir is None


def test_resume_detection_picks_the_newest_published_step(tmp_path):
    checkpoints = tmp_path / "c"
    for name in ["step-9", "step-10", "step-100.tmp", "step-x", "step-", "stepping-500"]:
        (checkpoints / name).mkdir(parents=True)
    (checkpoints / "step-200").write_text("a file, not a checkpoint")
    os.symlink(checkpoints / "step-9", checkpoints / "step-300")
    newest = str(checkpoints / "step-10")
    assert spotwise.latest_checkpoint(str(checkpoints)) == newest
    assert spotwise.latest_checkpoint(str(tmp_path / "missing")) is None
    # By hand a rerun resumes there; under an agent only SPOTWISE_RESUME_DIR counts.
    by_hand = spotwise.Run(environ={"SPOTWISE_CHECKPOINT_DIR": str(checkpoints)})
    assert by_hand.resume_dir == newest and by_hand.restore().step == 10
    agent = {"SPOTWISE_JOB_ID": "j", "SPOTWISE_ATTEMPT": "2", "SPOTWISE_HPARAMS": "{}",
             "SPOTWISE_CHECKPOINT_EVERY": "5", "SPOTWISE_CHECKPOINT_DIR": str(checkpoints),
             "SPOTWISE_OUTPUT_DIR": str(tmp_path / "o"), "SPOTWISE_PROGRESS": str(tmp_path / "p")}
    assert spotwise.Run(environ=agent).resume_dir is None
    assert spotwise.Run(environ=dict(agent, SPOTWISE_RESUME_DIR=str(checkpoints / "step-9"))).restore().step == 9


def test_a_restored_checkpoint_knows_its_step_from_the_library_file(tmp_path):
    run = spotwise.Run(environ={"SPOTWISE_CHECKPOINT_DIR": str(tmp_path / "c")})
    with run.checkpoint(42) as checkpoint:
        checkpoint.save_bytes("a", b"1")
    restored = tmp_path / "resume"  # the agent restores into a directory of its own naming
    os.rename(tmp_path / "c" / "step-42", restored)
    reader = spotwise.CheckpointReader(str(restored))
    assert (reader.step, reader.rank, reader.world_size) == (42, 0, 1)
    assert spotwise.CheckpointReader(str(tmp_path)).step is None  # written without the library


def test_the_version_is_the_projects():
    here = os.path.dirname(os.path.abspath(__file__))
    swift = os.path.join(here, "..", "..", "Sources", "SpotwiseCore", "Values", "SpotwiseVersion.swift")
    if not os.path.exists(swift):
        pytest.skip("not in the Spotwise repository")
    assert re.search(r'current = "([^"]+)"', open(swift).read()).group(1) == spotwise.__version__


def test_child_trainers_do_not_inherit_the_outer_gang_variables(monkeypatch):
    """tests/conftest.py's child_env: a pytest run under torchrun or a gang (RANK, WORLD_SIZE,
    ...) must not turn the tests' single-node child trainers into gang members."""
    from conftest import child_env
    for name, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "10.0.0.9",
                        "MASTER_PORT": "29400", "SPOTWISE_RANK": "1"}.items():
        monkeypatch.setenv(name, value)
    env = child_env({"SPOTWISE_JOB_ID": "job-test", "MASTER_PORT": "23456"})
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "SPOTWISE_RANK"):
        assert name not in env
    assert env["SPOTWISE_JOB_ID"] == "job-test" and env["MASTER_PORT"] == "23456"  # the test's own stay
