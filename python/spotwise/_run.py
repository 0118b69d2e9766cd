"""The trainer's side of the contract: what the agent tells it (environment), what it tells the
agent (progress lines, `step-K/` directories, `metrics.json`, exit codes)."""
import json
import math
import os
import shutil
import stat
import sys
import tempfile
from collections import namedtuple

from . import _signals
from ._errors import ContractError
from ._files import (
    METADATA_FILE, CheckpointReader, CheckpointWriter, StateWriter, check_step, fsync_path, latest_checkpoint)

#: Exit status after checkpointing on a notice (SIGTERM): the attempt did not finish, the job resumes.
EXIT_NOTICE = 143
#: Exit status of a gang member that lost a peer: the gang restarts from its newest checkpoint.
EXIT_PEER_LOST = 75

# Defaults when not under an agent (no SPOTWISE_JOB_ID): running `python train.py` by hand.
LOCAL_CHECKPOINT_DIR = "checkpoints-local"
LOCAL_OUTPUT_DIR = "output"
LOCAL_CHECKPOINT_EVERY = 50
LOCAL_MASTER_ADDR = "127.0.0.1"
LOCAL_MASTER_PORT = 29500


class Requests(namedtuple("Requests", "checkpoint stop")):
    """A snapshot of the signals' flags: a checkpoint was asked for (SIGUSR1 or SIGTERM), a stop
    was asked for (SIGTERM). A gang combines its members' with `|` so that every rank decides
    alike (`Run.requests()`, `Run.should_checkpoint(step, requests)`). Picklable."""

    __slots__ = ()

    def __or__(self, other):
        return Requests(bool(self.checkpoint or other.checkpoint), bool(self.stop or other.stop))


def _get(environ, name, required):
    """The variable's value; None when unset or empty, which is an error when `required`."""
    value = environ.get(name)
    if value is None or value == "":
        if required:
            raise ContractError(
                "%s is not set: the agent sets it for every attempt (SPOTWISE_JOB_ID is set, so this runs under "
                "an agent); see docs/job-spec.md, \"The trainer's environment\"" % name)
        return None
    return value


def _integer(name, text, low, high=None):
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise ContractError("%s=%r is not a whole number" % (name, text)) from None
    if value < low or (high is not None and value > high):
        bound = "from %d to %d" % (low, high) if high is not None else "at least %d" % low
        raise ContractError("%s=%d is out of range: it is %s" % (name, value, bound))
    return value


class Run:
    """One attempt of a trainer: the contract's environment, parsed and checked, and what the
    trainer does through it. Use `spotwise.init()` (one per process) rather than building one,
    except in tests (`Run(environ={...})`)."""

    def __init__(self, environ=None, total_steps=None):
        env = os.environ if environ is None else environ
        self.job_id = env.get("SPOTWISE_JOB_ID") or None
        #: Whether an agent started this process (SPOTWISE_JOB_ID is set): every contract
        #: variable is then required; without one, local defaults stand in (see docs/trainer-sdk.md).
        self.under_agent = self.job_id is not None
        agent = self.under_agent

        attempt = _get(env, "SPOTWISE_ATTEMPT", agent)
        self.attempt = _integer("SPOTWISE_ATTEMPT", attempt, 1) if attempt is not None else None

        hparams = _get(env, "SPOTWISE_HPARAMS", agent)
        if hparams is None:
            self.hparams = {}
        else:
            try:
                self.hparams = json.loads(hparams)
            except ValueError as error:
                raise ContractError("SPOTWISE_HPARAMS is not valid JSON (%s): %r" % (error, hparams[:200])) from None
            if not isinstance(self.hparams, dict):
                raise ContractError("SPOTWISE_HPARAMS is JSON but not an object of name to value: %r" % hparams[:200])

        every = _get(env, "SPOTWISE_CHECKPOINT_EVERY", agent)
        #: Checkpoint every this many steps (0: only when asked by a signal).
        self.checkpoint_every = (_integer("SPOTWISE_CHECKPOINT_EVERY", every, 0) if every is not None
                                 else LOCAL_CHECKPOINT_EVERY)

        self.world_size, self.rank = self._gang(env, agent)
        self.local_rank = _integer("LOCAL_RANK", env["LOCAL_RANK"], 0) if env.get("LOCAL_RANK") else 0
        self.master_addr = self.master_port = None
        if self.world_size > 1:
            addr = _get(env, "MASTER_ADDR", agent)
            port = _get(env, "MASTER_PORT", agent)
            self.master_addr = addr if addr is not None else LOCAL_MASTER_ADDR
            self.master_port = _integer("MASTER_PORT", port, 1, 65535) if port is not None else LOCAL_MASTER_PORT

        checkpoint_dir = _get(env, "SPOTWISE_CHECKPOINT_DIR", agent)
        if checkpoint_dir is None:  # a gang's ranks on one machine must not share one
            checkpoint_dir = LOCAL_CHECKPOINT_DIR + ("-%d" % self.rank if self.world_size > 1 else "")
        self.checkpoint_dir = os.path.abspath(checkpoint_dir)
        output_dir = _get(env, "SPOTWISE_OUTPUT_DIR", agent)
        self.output_dir = os.path.abspath(output_dir if output_dir is not None else LOCAL_OUTPUT_DIR)
        progress = _get(env, "SPOTWISE_PROGRESS", agent)
        #: The progress file (JSON lines); None outside an agent unless set (then lines go nowhere).
        self.progress_path = os.path.abspath(progress) if progress is not None else None

        resume = env.get("SPOTWISE_RESUME_DIR") or None
        if resume is not None:
            if not os.path.isdir(resume):
                raise ContractError("SPOTWISE_RESUME_DIR=%r is not a directory" % resume)
            resume = os.path.abspath(resume)
        elif not agent and self.world_size == 1:
            # By hand, a rerun resumes from the newest checkpoint it left (under an agent the
            # agent decides; a gang needs one step that every rank has, which only it knows).
            resume = latest_checkpoint(self.checkpoint_dir)
        #: The checkpoint to resume from, or None for a fresh start.
        self.resume_dir = resume

        #: Known total of steps, sent with every progress line (the heartbeat's total_steps); a
        #: step at or past it is never checkpointed (the run is about to save its model).
        self.total_steps = None if total_steps is None else check_step(total_steps)
        self._mark = None  # the request count at the last look at the flags
        self._decision = None  # (step, stop): what a gang's combined requests decided for that step

    @staticmethod
    def _gang(env, agent):
        """(world size, rank): SPOTWISE_WORLD_SIZE and SPOTWISE_RANK, or torchrun's WORLD_SIZE and RANK.

        Under an agent only SPOTWISE_WORLD_SIZE makes a gang (the agent sets it, with WORLD_SIZE,
        for `resources.nodes` > 1): a WORLD_SIZE past 1 without it is a launcher's inside a
        single-node job (torchrun --nproc-per-node), whose processes would share one checkpoint
        directory and progress file."""
        values = {}
        for key, names in (("world", ("SPOTWISE_WORLD_SIZE", "WORLD_SIZE")), ("rank", ("SPOTWISE_RANK", "RANK"))):
            found = [(name, env[name]) for name in names if env.get(name)]
            parsed = [(name, _integer(name, text, 1 if key == "world" else 0)) for name, text in found]
            if len(parsed) == 2 and parsed[0][1] != parsed[1][1]:
                raise ContractError("%s=%d and %s=%d disagree" % (parsed[0] + parsed[1]))
            values[key] = parsed[0] if parsed else None
        world = values["world"][1] if values["world"] else 1
        if agent and world > 1 and not env.get("SPOTWISE_WORLD_SIZE"):
            raise ContractError(
                "WORLD_SIZE=%d is set without SPOTWISE_WORLD_SIZE: Spotwise runs one trainer process per node; the "
                "agent sets SPOTWISE_WORLD_SIZE for a gang of nodes (resources.nodes > 1). A launcher inside a "
                "single-node job (torchrun --nproc-per-node=%d; RANK=%s, LOCAL_RANK=%s here) starts processes that "
                "would share one checkpoint directory and progress file: make the trainer itself the job's command, "
                "one process per node (docs/trainer-sdk.md, docs/distributed.md)"
                % (world, world, env.get("RANK") or "unset", env.get("LOCAL_RANK") or "unset"))
        if values["rank"] is None:
            if world > 1:
                raise ContractError("SPOTWISE_RANK is not set, but SPOTWISE_WORLD_SIZE=%d: each member of a gang needs "
                                    "its rank" % world)
            return world, 0
        name, rank = values["rank"]
        if rank >= world:
            raise ContractError("%s=%d is out of range: SPOTWISE_WORLD_SIZE is %d (ranks 0 to %d)"
                                % (name, rank, world, world - 1))
        return world, rank

    def __repr__(self):
        return "Run(job_id=%r, attempt=%r, rank=%d/%d, resume_dir=%r)" % (
            self.job_id, self.attempt, self.rank, self.world_size, self.resume_dir)

    # --- what the trainer asks ---------------------------------------------------------------

    @property
    def is_gang(self):
        return self.world_size > 1

    @property
    def is_primary(self):
        """Rank 0: the member whose metrics and model count."""
        return self.rank == 0

    @property
    def stop_requested(self):
        """A notice came (SIGTERM, or a peer's notice passed on with `should_checkpoint(step,
        requests)` or `request_stop()`): checkpoint at the next step and exit 143."""
        return _signals.flags.stop

    @property
    def checkpoint_requested(self):
        """A checkpoint was asked for (SIGUSR1 or SIGTERM) and none was published since."""
        return _signals.flags.checkpoint_pending

    def request_checkpoint(self):
        """As SIGUSR1: a checkpoint at the next step (a peer asked for one)."""
        _signals.flags.requested += 1

    def request_stop(self):
        """As SIGTERM: checkpoint at the next step, then exit 143 (a peer got a notice)."""
        _signals.flags.requested += 1
        _signals.flags.stop = True

    def requests(self):
        """A snapshot of the flags (`Requests`), for a gang to combine over its members before
        deciding: pass the combined one to `should_checkpoint(step, requests)`."""
        self._mark = _signals.flags.requested
        return Requests(_signals.flags.checkpoint_pending, _signals.flags.stop)

    def should_checkpoint(self, step, requests=None):
        """Whether to checkpoint after `step`: every `checkpoint_every` steps, or when asked
        (SIGUSR1, a notice), but never at or past `total_steps`. A gang passes its members'
        combined `requests()` so that every rank decides alike; a stop among them becomes this
        rank's too, and in a gang `checkpoint(step)` then exits 143 after this step exactly when
        the combination says stop: a notice that lands after `requests()` (during the all-reduce
        or the write) is left for the next step's combination, so that no rank leaves alone. One
        process (world size 1) exits on a notice that came before the publish, as without
        `requests`."""
        step = check_step(step)
        self._decision = None
        if requests is None:
            requests = self.requests()
        else:
            if requests.stop and not _signals.flags.stop:
                _signals.flags.stop = True
            if self.is_gang:
                self._decision = (step, bool(requests.stop))
        if self.total_steps is not None and step >= self.total_steps:
            return False
        due = self.checkpoint_every > 0 and step % self.checkpoint_every == 0
        return bool(due or requests.checkpoint)

    # --- what the trainer tells the agent ----------------------------------------------------

    def _write_line(self, line):
        if self.progress_path is None:
            return
        data = (json.dumps(line, allow_nan=False) + "\n").encode("utf-8")
        fd = os.open(self.progress_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)  # one write: the agent never sees half a line from us
        finally:
            os.close(fd)

    def announce(self, step=None):
        """Writes `{"pid": PID}` (with the step and total when known) on the progress file, so
        the agent's signals reach this process even when `run` starts it through a wrapper that
        does not exec (pyenv, conda). `spotwise.init()` does this once."""
        line = {"pid": os.getpid()}
        if step is not None:
            line["step"] = check_step(step)
        if self.total_steps is not None:
            line["total_steps"] = self.total_steps
        self._write_line(line)

    def report(self, step, metrics=None, /, **more):
        """A progress line: `{"step": K, "total_steps": N, "metrics": {...}}`. Metric values are
        numbers (numpy and torch scalars too); a non-finite one is left out (the agent would
        drop the whole line), and a value that is not a number is an error."""
        line = {"step": check_step(step)}
        if self.total_steps is not None:
            line["total_steps"] = self.total_steps
        values = _numbers(dict(metrics or {}, **more), finite_only=True)
        if values:
            line["metrics"] = values
        self._write_line(line)

    def checkpoint(self, step, exit_on_stop=True):
        """A context manager: write the checkpoint of `step` into the `StateWriter` it gives;
        on a clean exit of the block it is published as `step-K/` atomically (files and
        directory fsynced, then renamed) and announced on the progress file. An exception in
        the block publishes nothing. After a notice it then exits 143 (`exit_on_stop`)."""
        return _Checkpoint(self, check_step(step), exit_on_stop)

    def restore(self):
        """The checkpoint to resume from as a `CheckpointReader`, or None on a fresh start."""
        return CheckpointReader(self.resume_dir) if self.resume_dir else None

    @property
    def output(self):
        """A `StateWriter` on the output directory (created): the model's files go there."""
        os.makedirs(self.output_dir, exist_ok=True)
        return StateWriter(self.output_dir)

    def save_model(self, name, value=None, **arrays):
        """Saves the model into the output directory (the artifact the registry keeps):
        `save_model("model.npz", **arrays)` (numpy.savez), `save_model("model.npy", array)`,
        `save_model("model.bin", b"...")`, or any other value pickled. For framework formats
        write to `run.output.path(name)` (`torch.save(model.state_dict(), ...)`)."""
        out = self.output
        if arrays:
            if value is not None:
                raise TypeError("save_model takes a value or named arrays, not both")
            return out.save_arrays(name, **arrays)
        if value is None:
            raise TypeError("save_model needs a value or named arrays")
        if isinstance(value, (bytes, bytearray, memoryview)):
            return out.save_bytes(name, bytes(value))
        if type(value).__module__ == "numpy" and type(value).__name__ == "ndarray":
            return out.save_array(name, value)
        return out.save_pickle(name, value)

    def finish(self, metrics, step=None):
        """Writes the final metrics (`metrics.json` in the output directory: name to number,
        what the registry's gate judges) and reports them at `step` (default `total_steps`)."""
        values = _numbers(dict(metrics), finite_only=False)
        bad = sorted(k for k, v in values.items() if not math.isfinite(v))
        if bad:
            raise ValueError("final metrics must be finite numbers; not %s" % ", ".join(bad))
        out = self.output
        fd, temporary = tempfile.mkstemp(prefix=".metrics.json.", suffix=".tmp", dir=out.directory)
        try:
            with os.fdopen(fd, "w") as f:
                os.fchmod(f.fileno(), 0o644)  # as open() would make it; mkstemp's is 0600
                json.dump(values, f, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, out.path("metrics.json"))
        except BaseException:
            if os.path.lexists(temporary):
                os.unlink(temporary)
            raise
        fsync_path(out.directory, directory=True)
        step = self.total_steps if step is None else step
        if step is not None:
            line = {"step": check_step(step)}
            if self.total_steps is not None:
                line["total_steps"] = self.total_steps
            line["metrics"] = values
            self._write_line(line)
        return values

    def exit_after_notice(self, message=None):
        """Exits 143: checkpointed on a notice; the job resumes from it elsewhere."""
        _exit(EXIT_NOTICE, message)

    def exit_peer_lost(self, message=None):
        """Exits 75: a gang member lost a peer; the gang restarts from its newest checkpoint."""
        _exit(EXIT_PEER_LOST, message)


def _exit(code, message):
    if message:
        try:
            print(message, flush=True)  # stdout, as the trainer's own lines: the agent ships both
        except (OSError, ValueError):  # a broken pipe, a closed stdout: the exit status is what counts
            _discard_stdout()
    raise SystemExit(code)


def _discard_stdout():
    """Points stdout's descriptor at /dev/null, so that the interpreter's flush at exit does not
    fail again on what is left in its buffer (which would make the status 120)."""
    try:
        target = sys.stdout.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, target)
        finally:
            os.close(null)
    except (AttributeError, OSError, ValueError):  # no stdout, or one without a descriptor
        pass


def _numbers(metrics, finite_only):
    values = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise ValueError("a metric name is a non-empty text, not %r" % (name,))
        if isinstance(value, (bool, str, bytes)) or not hasattr(value, "__float__"):
            raise TypeError("metric %r is %r; metrics are numbers" % (name, value))
        number = float(value)
        if finite_only and not math.isfinite(number):
            continue
        values[name] = number
    return values


class _Checkpoint:
    def __init__(self, run, step, exit_on_stop):
        self.run = run
        self.step = step
        self.exit_on_stop = exit_on_stop
        self.name = "step-%d" % step
        self.final = os.path.join(run.checkpoint_dir, self.name)
        self.staging = self.final + ".tmp"

    def __enter__(self):
        os.makedirs(self.run.checkpoint_dir, exist_ok=True)
        shutil.rmtree(self.staging, ignore_errors=True)  # a torn earlier try
        os.mkdir(self.staging)
        # The flags the decision was taken on: requests counted later get a checkpoint of their own.
        self.mark = self.run._mark if self.run._mark is not None else _signals.flags.requested
        self.run._mark = None
        # A gang's decision to stop after this step (its combined requests), or None: one
        # process decides alone, on the flag as it is when the checkpoint is published.
        decision, self.run._decision = self.run._decision, None
        self.stop = decision[1] if decision is not None and decision[0] == self.step else None
        return CheckpointWriter(self.staging, self.step, self.run.rank, self.run.world_size)

    def __exit__(self, kind, error, traceback):
        if kind is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            return False
        try:
            self._publish()
        except BaseException:
            shutil.rmtree(self.staging, ignore_errors=True)
            raise
        flags = _signals.flags
        flags.served = max(flags.served, self.mark)
        if self.exit_on_stop and (flags.stop if self.stop is None else self.stop):
            _exit(EXIT_NOTICE, "spotwise: checkpointed step %d on a notice; exiting %d" % (self.step, EXIT_NOTICE))
        return False

    def _publish(self):
        with open(os.path.join(self.staging, METADATA_FILE), "w") as f:
            json.dump({"format": 1, "step": self.step, "rank": self.run.rank, "world_size": self.run.world_size}, f,
                      sort_keys=True)
        # Every file durable before the rename that publishes them; the agent refuses links. A
        # directory that cannot be listed fails the checkpoint (os.walk would skip it).
        for root, directories, files in os.walk(self.staging, topdown=False, onerror=_raise):
            for name in files + directories:
                path = os.path.join(root, name)
                info = os.lstat(path)
                relative = os.path.relpath(path, self.staging)
                if stat.S_ISLNK(info.st_mode):
                    raise ValueError("checkpoint file %r is a symlink; the agent commits regular files only" % relative)
                if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                    # a FIFO would block the fsync's open; the agent commits neither
                    raise ValueError("checkpoint entry %r is a %s, not a regular file or directory; the agent commits "
                                     "regular files only" % (relative, _kind(info.st_mode)))
                if name in files:
                    if info.st_nlink > 1:
                        raise ValueError("checkpoint file %r has %d hard links; the agent commits files with one"
                                         % (relative, info.st_nlink))
                    fsync_path(path)
            fsync_path(root, directory=True)
        replaced = None
        if os.path.lexists(self.final):  # by hand, a rerun from an earlier step writes it again
            replaced = self.final + ".replaced.tmp"
            shutil.rmtree(replaced, ignore_errors=True)
            os.rename(self.final, replaced)
        os.rename(self.staging, self.final)
        fsync_path(self.run.checkpoint_dir, directory=True)
        if replaced:
            shutil.rmtree(replaced, ignore_errors=True)
        line = {"step": self.step}
        if self.run.total_steps is not None:
            line["total_steps"] = self.run.total_steps
        line["checkpoint"] = self.name
        self.run._write_line(line)


def _raise(error):
    raise error


def _kind(mode):
    for test, kind in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device")):
        if test(mode):
            return kind
    return "special file (mode %o)" % stat.S_IFMT(mode)
