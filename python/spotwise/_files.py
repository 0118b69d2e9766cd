"""Directories of state: what a checkpoint or the output directory is written with, and what a
restored checkpoint is read with. Framework-neutral: numpy arrays (when numpy imports), pickled
objects, JSON, bytes and arbitrary files; `path(name)` for anything else (`torch.save`)."""
import json
import os
import pickle
import re
import shutil


#: Written into every checkpoint the library publishes: step, rank and world size.
METADATA_FILE = "spotwise-checkpoint.json"
#: The step directories the agent commits: `step-K` (K from 0 to 2147483647, checkpoints/FORMAT.md).
MAX_STEP = 2147483647
_STEP_NAME = re.compile(r"step-([0-9]+)")
PICKLE_PROTOCOL = 4


def check_step(step):
    """The step as an int from 0 to 2147483647 (the store's range), or a clear error."""
    if isinstance(step, bool):
        raise TypeError("a step is a whole number, not %r" % (step,))
    try:
        value = step.__index__()
    except (AttributeError, TypeError):
        raise TypeError("a step is a whole number, not %r" % (step,)) from None
    if not 0 <= value <= MAX_STEP:
        raise ValueError("step %d is out of range: steps are 0 to %d (checkpoints/FORMAT.md)" % (value, MAX_STEP))
    return value


def check_name(name):
    """A relative, `/`-separated path inside a state directory, by the manifest's rules: no empty,
    `.` or `..` component, no NUL, no backslash (checkpoints/FORMAT.md)."""
    if not isinstance(name, str) or not name:
        raise ValueError("a file name in a state directory is a non-empty text, not %r" % (name,))
    if name.startswith("/") or "\\" in name or "\x00" in name:
        raise ValueError("%r is not a relative '/'-separated path without backslashes or NUL" % name)
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise ValueError("%r has an empty, '.' or '..' component" % name)
    return name


def step_of(directory_name):
    """K for a directory named `step-K`; None for anything else (`step-K.tmp` included)."""
    match = _STEP_NAME.fullmatch(directory_name)
    if not match:
        return None
    step = int(match.group(1))
    return step if step <= MAX_STEP else None


def latest_checkpoint(directory):
    """The newest published checkpoint in `directory` (the `step-K` with the highest K), or None.

    A `step-K` directory exists only once it is complete (the library publishes it by rename),
    so staging directories (`step-K.tmp`) and anything else are left out, as are symlinks."""
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return None
    best = None
    for name in names:
        step = step_of(name)
        path = os.path.join(directory, name)
        if step is None or os.path.islink(path) or not os.path.isdir(path):
            continue
        if best is None or step > best[0]:
            best = (step, path)
    return best[1] if best else None


def _numpy():
    try:
        import numpy
    except ImportError:
        raise ImportError("numpy is not importable: save arrays with save_pickle or path() instead") from None
    return numpy


def fsync_path(path, directory=False):
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StateWriter:
    """Writes files into a directory: a checkpoint's staging directory or the output directory."""

    def __init__(self, directory):
        self.directory = directory

    def path(self, name):
        """The absolute path of `name` inside the directory (its parent directories created), for
        whatever writes files itself: `torch.save(model.state_dict(), ckpt.path("model.pt"))`."""
        full = os.path.join(self.directory, *check_name(name).split("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        return full

    def save_arrays(self, name, **arrays):
        """numpy arrays by name into one `.npz` (`numpy.savez`); read back with `load_arrays`."""
        path = self.path(name)
        with open(path, "wb") as f:  # a file object: savez would otherwise append '.npz'
            _numpy().savez(f, **arrays)
        return path

    def save_array(self, name, array):
        """One numpy array (`numpy.save`); read back with `load_array`."""
        path = self.path(name)
        with open(path, "wb") as f:
            _numpy().save(f, array, allow_pickle=False)
        return path

    def save_pickle(self, name, value, protocol=PICKLE_PROTOCOL):
        """Any picklable object (RNG states, counters, scikit-learn estimators)."""
        path = self.path(name)
        with open(path, "wb") as f:
            pickle.dump(value, f, protocol=protocol)
        return path

    def save_json(self, name, value):
        path = self.path(name)
        with open(path, "w") as f:
            json.dump(value, f, sort_keys=True)
        return path

    def save_bytes(self, name, data):
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def copy(self, name, source):
        """Copies a file or a whole directory (its contents, not links) in as `name`."""
        path = self.path(name)
        if os.path.isdir(source):
            shutil.copytree(source, path, symlinks=False, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, path)
        return path


class CheckpointWriter(StateWriter):
    """The staging directory of one checkpoint (`Run.checkpoint(step)`), with the step, rank and
    world size it is written for (a gang's rank names its shard with `rank`)."""

    def __init__(self, directory, step, rank, world_size):
        super().__init__(directory)
        self.step = step
        self.rank = rank
        self.world_size = world_size

    def path(self, name):
        if name == METADATA_FILE:
            raise ValueError("%s is the library's own file in every checkpoint" % METADATA_FILE)
        return super().path(name)


class CheckpointReader:
    """A checkpoint to resume from (`Run.restore()`): its files by name, and what the library
    recorded when it wrote it (`step`, `rank`, `world_size`; None for a checkpoint written
    without the library, except `step` when the directory is named `step-K`)."""

    def __init__(self, directory):
        self.directory = directory
        metadata = {}
        try:
            with open(os.path.join(directory, METADATA_FILE)) as f:
                metadata = json.load(f)
        except (OSError, ValueError):
            pass
        if not isinstance(metadata, dict):
            metadata = {}
        step = metadata.get("step")
        self.step = step if isinstance(step, int) else step_of(os.path.basename(os.path.normpath(directory)))
        self.rank = metadata.get("rank")
        self.world_size = metadata.get("world_size")

    def __repr__(self):
        return "CheckpointReader(%r, step=%r)" % (self.directory, self.step)

    def path(self, name):
        return os.path.join(self.directory, *check_name(name).split("/"))

    def exists(self, name):
        return os.path.exists(self.path(name))

    def load_arrays(self, name):
        """A `.npz` as a dict of name to array (copies: the file is closed on return)."""
        with _numpy().load(self.path(name), allow_pickle=False) as data:
            return {k: data[k].copy() for k in data.files}

    def load_array(self, name):
        return _numpy().load(self.path(name), allow_pickle=False)

    def load_pickle(self, name):
        with open(self.path(name), "rb") as f:
            return pickle.load(f)

    def load_json(self, name):
        with open(self.path(name)) as f:
            return json.load(f)

    def load_bytes(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()
