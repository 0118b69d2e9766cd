"""The contract's two signals, as flags (docs/worker-protocol.md, docs/job-spec.md).

SIGUSR1 asks for a checkpoint at the next step boundary; SIGTERM (a notice: spot interruption,
a gang member's notice, the coordinator's stop) asks for a checkpoint and exit. The handlers only
count and set flags, so a signal never interrupts a write: the trainer acts on the flags at its
next step boundary (`Run.should_checkpoint`).
"""
import signal
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


def install():
    """Installs the handlers and unblocks both signals in this thread. Idempotent. Only the main
    thread may install signal handlers: from another thread this records why and returns False
    (call `spotwise.install_signal_handlers()` from the main thread)."""
    if flags.installed:
        return True
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
