"""should_checkpoint: every N steps, on a request, on a notice; never at or past the total."""
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
