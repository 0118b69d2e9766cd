"""should_checkpoint: every N steps, on a request, on a notice; never at or past the total."""
import pytest

import spotwise


def local(every, tmp_path, total=None):
    return spotwise.Run(environ={"SPOTWISE_CHECKPOINT_EVERY": str(every),
                                 "SPOTWISE_CHECKPOINT_DIR": str(tmp_path / "c")}, total_steps=total)


def test_every_n_steps_and_never_the_last(tmp_path):
    run = local(5, tmp_path, total=20)
    assert [step for step in range(0, 25) if run.should_checkpoint(step)] == [0, 5, 10, 15]


def test_zero_means_only_when_asked(tmp_path):
    run = local(0, tmp_path)
    assert not any(run.should_checkpoint(step) for step in range(1, 100))
    run.request_checkpoint()
    assert run.should_checkpoint(3)


def test_a_request_is_served_by_the_checkpoint_after_it_and_one_during_it_is_kept(tmp_path):
    run = local(100, tmp_path)
    run.request_checkpoint()
    assert run.checkpoint_requested and run.should_checkpoint(3)
    with run.checkpoint(3) as checkpoint:
        checkpoint.save_bytes("a", b"1")
        run.request_checkpoint()  # as SIGUSR1 arriving mid-write: that state is not in this checkpoint
    assert run.checkpoint_requested and run.should_checkpoint(4)
    with run.checkpoint(4) as checkpoint:
        checkpoint.save_bytes("a", b"2")
    assert not run.checkpoint_requested and not run.should_checkpoint(5)


def test_a_notice_asks_for_a_checkpoint_and_then_exits_143(tmp_path):
    run = local(100, tmp_path)
    run.request_stop()
    assert run.stop_requested and run.should_checkpoint(9)
    try:
        with run.checkpoint(9) as checkpoint:
            checkpoint.save_bytes("a", b"1")
    except SystemExit as exit:
        assert exit.code == 143
    else:
        raise AssertionError("no exit after a checkpoint on a notice")
    assert (tmp_path / "c" / "step-9" / "a").read_bytes() == b"1"


def test_exit_on_stop_can_be_left_to_the_trainer(tmp_path):
    run = local(100, tmp_path)
    run.request_stop()
    with run.checkpoint(9, exit_on_stop=False) as checkpoint:
        checkpoint.save_bytes("a", b"1")
    assert run.stop_requested


def test_a_gangs_combined_requests_decide_over_the_local_flags(tmp_path):
    run = local(100, tmp_path)
    run.request_checkpoint()
    snapshot = run.requests()
    assert snapshot == (True, False)
    assert not run.should_checkpoint(3, spotwise.Requests(False, False))  # the gang says no
    assert run.should_checkpoint(3, spotwise.Requests(True, False))


def gang_member(tmp_path, every=10):
    """Rank 1 of 2, by hand (its peer is the test's Requests)."""
    return spotwise.Run(environ={"SPOTWISE_CHECKPOINT_EVERY": str(every), "SPOTWISE_RANK": "1",
                                 "SPOTWISE_WORLD_SIZE": "2", "SPOTWISE_CHECKPOINT_DIR": str(tmp_path / "c")})


def _exit_code(block):
    try:
        block()
    except SystemExit as exit:
        return exit.code
    return None


def test_a_notice_after_a_gangs_decision_is_left_to_the_next_combine(tmp_path):
    """The gang decided on step 10 (due) without a stop; a notice during the write must not make
    this rank alone exit after it: it goes into the next step's requests, and every rank stops
    after step 11."""
    run = gang_member(tmp_path)
    decided = run.requests() | spotwise.Requests(False, False)
    assert run.should_checkpoint(10, decided)

    def step_10():
        with run.checkpoint(10) as checkpoint:
            checkpoint.save_bytes("a", b"10")
            run.request_stop()  # as SIGTERM during the write
    assert _exit_code(step_10) is None
    assert run.stop_requested and run.checkpoint_requested
    decided = run.requests() | spotwise.Requests(False, False)
    assert decided == (True, True) and run.should_checkpoint(11, decided)

    def step_11():
        with run.checkpoint(11) as checkpoint:
            checkpoint.save_bytes("a", b"11")
    assert _exit_code(step_11) == 143
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["step-10", "step-11"]


def test_a_gangs_stop_exits_after_the_step_even_without_a_notice_here(tmp_path):
    run = gang_member(tmp_path)
    assert run.should_checkpoint(4, run.requests() | spotwise.Requests(True, True))

    def step_4():
        with run.checkpoint(4) as checkpoint:
            checkpoint.save_bytes("a", b"4")
    assert _exit_code(step_4) == 143


@pytest.mark.parametrize("own_requests", [False, True])
def test_one_process_exits_on_a_notice_during_the_write(tmp_path, own_requests):
    """One process has no peer to wait for: the flag as it is at the publish decides, whether it
    asked should_checkpoint alone or passed its own requests (as the PyTorch pattern does)."""
    run = local(10, tmp_path)
    assert run.should_checkpoint(10, run.requests() if own_requests else None)

    def step_10():
        with run.checkpoint(10) as checkpoint:
            checkpoint.save_bytes("a", b"10")
            run.request_stop()
    assert _exit_code(step_10) == 143


def test_a_decision_for_another_step_does_not_hold_back_a_notice(tmp_path):
    run = gang_member(tmp_path)
    assert not run.should_checkpoint(3, spotwise.Requests(False, False))
    run.request_stop()

    def step_5():  # checkpointed without asking should_checkpoint for it
        with run.checkpoint(5) as checkpoint:
            checkpoint.save_bytes("a", b"5")
    assert _exit_code(step_5) == 143
