"""Spotwise's trainer library: the trainer contract (docs/job-spec.md, docs/worker-protocol.md)
in a few calls. Pure Python 3.9+, no dependencies; numpy is used when a trainer saves arrays.

    import spotwise                          # first: installs the SIGUSR1/SIGTERM handlers
    run = spotwise.init(total_steps=1000)    # the contract's environment, checked
    ...
    if run.should_checkpoint(step):
        with run.checkpoint(step) as ckpt:   # published as step-K/ atomically; exits 143 after a notice
            ckpt.save_pickle("state.pkl", state)

Importing it installs the signal handlers at once, so import it before heavy imports (numpy,
torch): a notice may come while they load. The handlers only set flags; nothing is interrupted.
See docs/trainer-sdk.md.
"""
from . import _signals
from ._errors import ContractError
from ._files import METADATA_FILE, CheckpointReader, CheckpointWriter, StateWriter, check_step, latest_checkpoint
from ._run import EXIT_NOTICE, EXIT_PEER_LOST, Requests, Run
from ._version import __version__

__all__ = [
    "ContractError", "CheckpointReader", "CheckpointWriter", "EXIT_NOTICE", "EXIT_PEER_LOST", "METADATA_FILE",
    "Requests", "Run", "StateWriter", "__version__", "context", "init", "install_signal_handlers",
    "latest_checkpoint",
]

_signals.install()

_current = None


def install_signal_handlers():
    """Installs the handlers if importing could not (spotwise first imported off the main
    thread); call it from the main thread. True once they are installed."""
    return _signals.install()


def init(total_steps=None):
    """This process's `Run`, created on the first call from the environment (a `ContractError`
    names a missing or malformed variable), which also writes `{"pid": PID}` on the progress
    file so that the agent's signals reach this process. Later calls return the same `Run`;
    `total_steps`, when given, is sent with every progress line.

    In a process that multiprocessing started (a DataLoader's or a Pool's worker, which with
    spawn and forkserver re-imports the trainer's `__main__`) the `Run` only reads the contract:
    no pid is announced (the agent would signal the worker instead of the trainer) and no signal
    handlers are installed."""
    global _current
    if _current is None:
        trainer = not _signals.in_child_process()
        if trainer and not _signals.install():
            raise RuntimeError("spotwise cannot install its signal handlers (%s); import spotwise in the main thread"
                               " or call spotwise.install_signal_handlers() there first" % _signals.flags.install_error)
        run = Run(total_steps=total_steps)
        if trainer:
            run.announce()
        _current = run
    elif total_steps is not None:
        _current.total_steps = check_step(total_steps)
    return _current


def context():
    """The same `Run` as `init()` (for modules that only read it: hyperparameters, rank)."""
    return init()
