"""The contract's two signals, as flags (docs/worker-protocol.md, docs/job-spec.md).

SIGUSR1 asks for a checkpoint at the next step boundary; SIGTERM (a notice: spot interruption,
a gang member's notice, the coordinator's stop) asks for a checkpoint and exit. The handlers only
count and set flags, so a signal never interrupts a write: the trainer acts on the flags at its
next step boundary (`Run.should_checkpoint`).

The handlers are the trainer's alone. A process that multiprocessing starts (a DataLoader's
workers, a Pool's) is not the trainer: it installs none (spawn and forkserver re-import the
trainer's `__main__`, spotwise included), and a forked child is given the defaults back, so that
`Pool.terminate()`'s SIGTERM ends its workers rather than setting a flag nobody reads.
"""
import os
import signal
import sys
import threading

SIGNAL_CHECKPOINT = signal.SIGUSR1
SIGNAL_NOTICE = signal.SIGTERM


class _Flags:
    """Process-wide: signals are delivered to the process, not to a `Run`."""

    def __init__(self):
        # Requests counted (SIGUSR1 and SIGTERM each add one) and served (a checkpoint published
        # after the trainer looked at the flags serves every request counted by then).
        self.requested = 0
        self.served = 0
        self.stop = False
        self.installed = False
        self.install_error = None

    @property
    def checkpoint_pending(self):
        return self.requested > self.served


flags = _Flags()


def _on_checkpoint(signum, frame):
    flags.requested += 1


def _on_notice(signum, frame):
    flags.requested += 1
    flags.stop = True


def in_child_process():
    """Whether multiprocessing started this process (any start method): not the trainer.

    A started child has a parent process (Python 3.8+). spawn and forkserver import the parent's
    `__main__` before that is set, with `current_process()._inheriting` set: that is where a
    trainer's module-level `import spotwise` and `spotwise.init()` run again (the fork server
    itself imports `__main__` the same way)."""
    process = sys.modules.get("multiprocessing.process")
    if process is None:  # multiprocessing never imported: nothing started this process
        return False
    if process.parent_process() is not None:
        return True
    return bool(getattr(process.current_process(), "_inheriting", False))


def _after_fork_in_child():
    """A forked child (a fork-started worker) is not the trainer: the default handlers back."""
    if not flags.installed:
        return
    flags.installed = False
    try:
        signal.signal(SIGNAL_CHECKPOINT, signal.SIG_DFL)
        signal.signal(SIGNAL_NOTICE, signal.SIG_DFL)
    except (ValueError, OSError):  # not the main thread: nothing else to do in an at-fork hook
        pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def install():
    """Installs the handlers and unblocks both signals in this thread. Idempotent. Only the main
    thread may install signal handlers: from another thread this records why and returns False
    (call `spotwise.install_signal_handlers()` from the main thread). A child process started by
    multiprocessing installs none and returns False (see `in_child_process`)."""
    if flags.installed:
        return True
    if in_child_process():
        flags.install_error = "this process was started by multiprocessing (a worker), not the trainer"
        return False
    if threading.current_thread() is not threading.main_thread():
        flags.install_error = "spotwise was first imported outside the main thread"
        return False
    signal.signal(SIGNAL_CHECKPOINT, _on_checkpoint)
    signal.signal(SIGNAL_NOTICE, _on_notice)
    # A parent may have started us with these blocked (Foundation's Process passes its threads'
    # mask): a notice that never arrives would cost the attempt its work.
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {SIGNAL_CHECKPOINT, SIGNAL_NOTICE})
    flags.installed = True
    flags.install_error = None
    return True
