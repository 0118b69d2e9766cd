"""Gangs: the rank environment, each rank's shard, and every rank deciding alike."""
import json
import os
import signal
import socket

import pytest

import spotwise
from conftest import read_lines, start_child


def gang_env(tmp_path, rank, world=2):
    base = tmp_path / ("rank-%d" % rank)
    base.mkdir(exist_ok=True)
    return {"SPOTWISE_JOB_ID": "job-gang", "SPOTWISE_ATTEMPT": "3", "SPOTWISE_HPARAMS": "{}",
            "SPOTWISE_CHECKPOINT_EVERY": "50", "SPOTWISE_CHECKPOINT_DIR": str(base / "ckpt"),
            "SPOTWISE_OUTPUT_DIR": str(base / "out"), "SPOTWISE_PROGRESS": str(base / "progress.jsonl"),
            "SPOTWISE_RANK": str(rank), "SPOTWISE_WORLD_SIZE": str(world), "RANK": str(rank),
            "WORLD_SIZE": str(world), "MASTER_ADDR": "10.0.0.5", "MASTER_PORT": "23456", "LOCAL_RANK": "0"}


def test_the_rank_environment(tmp_path):
    run = spotwise.Run(environ=gang_env(tmp_path, 1, world=3))
    assert (run.rank, run.world_size, run.master_addr, run.master_port) == (1, 3, "10.0.0.5", 23456)
    assert run.is_gang and not run.is_primary and run.attempt == 3 and run.job_id == "job-gang"


def test_by_hand_torchrun_names_alone_are_enough(tmp_path):
    env = gang_env(tmp_path, 1)
    del env["SPOTWISE_RANK"], env["SPOTWISE_WORLD_SIZE"], env["SPOTWISE_JOB_ID"]
    run = spotwise.Run(environ=env)
    assert (run.rank, run.world_size) == (1, 2)


@pytest.mark.parametrize("rank", [0, 1])
def test_under_an_agent_torchrun_inside_a_single_node_job_is_refused(contract, rank):
    """torchrun --nproc-per-node=2 inside a single-node job: both processes would share one
    checkpoint directory and progress file (and collide on step-K.tmp). The agent sets
    SPOTWISE_WORLD_SIZE only for a gang; without it a WORLD_SIZE past 1 is torchrun's."""
    env, _ = contract
    env.update({"RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": "29500"})
    with pytest.raises(spotwise.ContractError, match="^WORLD_SIZE=2 is set without SPOTWISE_WORLD_SIZE: "
                                                     "Spotwise runs one trainer process per node"):
        spotwise.Run(environ=env)


def test_under_an_agent_torchrun_with_one_process_is_one_node(contract):
    env, _ = contract
    env.update({"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"})
    run = spotwise.Run(environ=env)
    assert (run.rank, run.world_size, run.is_gang) == (0, 1, False)


@pytest.mark.parametrize("change, named", [
    ({"SPOTWISE_RANK": None, "RANK": None}, "SPOTWISE_RANK is not set"),
    ({"SPOTWISE_RANK": "2", "RANK": "2"}, "SPOTWISE_RANK=2 is out of range"),
    ({"RANK": "0"}, "SPOTWISE_RANK=1 and RANK=0 disagree"),
    ({"MASTER_PORT": None}, "MASTER_PORT is not set"),
    ({"MASTER_ADDR": None}, "MASTER_ADDR is not set"),
    ({"MASTER_PORT": "70000"}, "MASTER_PORT=70000 is out of range"),
    ({"SPOTWISE_WORLD_SIZE": "0", "WORLD_SIZE": "0"}, "SPOTWISE_WORLD_SIZE=0 is out of range"),
])
def test_bad_gang_environments_name_the_variable(tmp_path, change, named):
    env = gang_env(tmp_path, 1)
    for name, value in change.items():
        if value is None:
            env.pop(name)
        else:
            env[name] = value
    with pytest.raises(spotwise.ContractError, match=named):
        spotwise.Run(environ=env)


def test_each_rank_writes_its_own_shard(tmp_path):
    for rank in range(2):
        run = spotwise.Run(environ=gang_env(tmp_path, rank))
        with run.checkpoint(50) as checkpoint:
            checkpoint.save_pickle("shard-%d.pkl" % checkpoint.rank, {"rank": rank})
        step = tmp_path / ("rank-%d" % rank) / "ckpt" / "step-50"
        assert sorted(os.listdir(step)) == ["shard-%d.pkl" % rank, spotwise.METADATA_FILE]
        reader = spotwise.CheckpointReader(str(step))
        assert (reader.step, reader.rank, reader.world_size) == (50, rank, 2)
        assert read_lines(tmp_path / ("rank-%d" % rank) / "progress.jsonl")[-1] == {"step": 50, "checkpoint": "step-50"}


def test_a_gang_is_never_resumed_from_a_guess(tmp_path):
    """By hand, one process resumes from its newest step; a gang only from SPOTWISE_RESUME_DIR
    (the agent picks a step every rank has)."""
    env = gang_env(tmp_path, 0)
    del env["SPOTWISE_JOB_ID"]
    (tmp_path / "rank-0" / "ckpt" / "step-50").mkdir(parents=True)
    assert spotwise.Run(environ=env).resume_dir is None


def test_requests_combine_and_a_peers_notice_stops_this_rank(tmp_path):
    run = spotwise.Run(environ=gang_env(tmp_path, 0))
    mine = run.requests()
    assert mine == spotwise.Requests(False, False)
    peer = spotwise.Requests(checkpoint=True, stop=True)
    assert mine | peer == (True, True)
    assert run.should_checkpoint(7, mine | peer) and run.stop_requested


def test_a_notice_to_one_rank_makes_the_whole_gang_checkpoint_the_same_step_and_exit_143(tmp_path):
    left, right = socket.socketpair()
    children = []
    for rank, sock in enumerate((left, right)):
        children.append(start_child("gang", gang_env(tmp_path, rank), sock.fileno(), 73, pass_fds=(sock.fileno(),)))
    left.close()
    right.close()
    for child in children:
        assert child.stdout.readline().split() == ["at", "73"]
    children[1].send_signal(signal.SIGTERM)  # rank 1's node got the notice
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    codes = [child.wait(timeout=30) for child in children]
    assert codes == [143, 143]
    for rank in range(2):
        ckpt = tmp_path / ("rank-%d" % rank) / "ckpt"
        assert sorted(os.listdir(ckpt)) == ["step-50", "step-73"]
        assert json.loads((ckpt / "step-73" / spotwise.METADATA_FILE).read_text())["rank"] == rank
        assert (ckpt / "step-73" / ("shard-%d.pkl" % rank)).exists()
        lines = read_lines(tmp_path / ("rank-%d" % rank) / "progress.jsonl")
        assert [line["checkpoint"] for line in lines if "checkpoint" in line] == ["step-50", "step-73"]


def test_a_notice_after_the_requests_were_combined_still_stops_every_rank_after_the_same_step(tmp_path):
    """SIGTERM to rank 1 after the step's requests were combined (during the all-reduce or the
    write) on a step due anyway: the gang decided 'go on', so both ranks publish step 50 and go on;
    the notice is in rank 1's next requests, and both checkpoint step 51 and exit 143. Deciding on
    the live flag, rank 1 alone exited after step 50 and rank 0 lost its peer (75)."""
    left, right = socket.socketpair()
    children = []
    for rank, sock in enumerate((left, right)):
        children.append(start_child("gang-late-notice", gang_env(tmp_path, rank), sock.fileno(), 50,
                                    pass_fds=(sock.fileno(),)))
    left.close()
    right.close()
    for child in children:
        assert child.stdout.readline().split() == ["combined", "50"]
    children[1].send_signal(signal.SIGTERM)  # lands in rank 1's read: its handler runs before "go" is read
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    outputs = [child.communicate(timeout=30)[0] for child in children]
    assert [child.returncode for child in children] == [143, 143], outputs
    for rank in range(2):
        ckpt = tmp_path / ("rank-%d" % rank) / "ckpt"
        assert sorted(os.listdir(ckpt)) == ["step-50", "step-51"]
        lines = read_lines(tmp_path / ("rank-%d" % rank) / "progress.jsonl")
        assert [line["checkpoint"] for line in lines if "checkpoint" in line] == ["step-50", "step-51"]
