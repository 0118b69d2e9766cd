#!/usr/bin/env python3
"""The trainer resumes exactly: a run interrupted 5 times at random steps (some killed without
notice, some stopped with SIGTERM as a notice would) ends with byte-identical final weights to an
uninterrupted run. Run by the Swift test suite (TrainerContractTests); prints its seed."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINER = os.path.join(HERE, "train.py")
HPARAMS = json.dumps({"learning_rate": 0.1, "epochs": 20, "batch_size": 64, "seed": 7})


def newest_complete(checkpoints):
    if not os.path.isdir(checkpoints):
        return None  # killed before its first checkpoint: start over, as the agent would
    steps = [int(n[5:]) for n in os.listdir(checkpoints) if n.startswith("step-") and not n.endswith(".tmp")]
    return os.path.join(checkpoints, "step-%d" % max(steps)) if steps else None


def run(workdir, resume=None, crash_at=None, sigterm_after=None):
    env = dict(os.environ, SPOTWISE_HPARAMS=HPARAMS, SPOTWISE_CHECKPOINT_EVERY="25",
               SPOTWISE_CHECKPOINT_DIR=os.path.join(workdir, "ckpt"), SPOTWISE_OUTPUT_DIR=os.path.join(workdir, "out"),
               SPOTWISE_PROGRESS=os.path.join(workdir, "progress.jsonl"))
    env.pop("SPOTWISE_RESUME_DIR", None)
    if resume:
        env["SPOTWISE_RESUME_DIR"] = resume
    if crash_at:
        env["DIGITS_CRASH_AT_STEP"] = str(crash_at)
    if sigterm_after is not None:
        env["DIGITS_STEP_DELAY_MS"] = "2"
    os.makedirs(workdir, exist_ok=True)
    progress = os.path.join(workdir, "progress.jsonl")
    before = os.path.getsize(progress) if os.path.exists(progress) else 0
    process = subprocess.Popen([sys.executable, TRAINER], env=env, stdout=subprocess.DEVNULL)
    if sigterm_after is not None:
        # The notice comes once training runs (its first progress line), some time into it.
        while process.poll() is None and (not os.path.exists(progress) or os.path.getsize(progress) == before):
            time.sleep(0.01)
        time.sleep(sigterm_after)
        process.send_signal(signal.SIGTERM)
    return process.wait()


def weights(workdir):
    with np.load(os.path.join(workdir, "out", "model.npz")) as model:
        return {k: model[k].tobytes() for k in sorted(model.files)}


def main():
    seed = int(os.environ.get("SEED", random.randrange(1 << 30)))
    print("seed", seed)
    rng = random.Random(seed)
    base = tempfile.mkdtemp(prefix="digits-resume-")
    try:
        straight = os.path.join(base, "straight")
        assert run(straight) == 0
        interrupted = os.path.join(base, "interrupted")
        total = 20 * 23
        kinds = []
        for i in range(5):
            resume = newest_complete(os.path.join(interrupted, "ckpt")) if i else None
            if i % 2 == 0:
                done = int(os.path.basename(resume)[5:]) if resume else 0
                status = run(interrupted, resume=resume, crash_at=rng.randrange(done + 1, max(done + 2, total - 1)))
                assert status == 137, status
                kinds.append("killed")
            else:
                status = run(interrupted, resume=resume, sigterm_after=rng.uniform(0.02, 0.15))
                # -15: the notice came while a run that had just finished was shutting down.
                finished = os.path.exists(os.path.join(interrupted, "out", "model.npz"))
                assert status == 143 or (status in (0, -15) and finished), status
                kinds.append("sigterm")
        assert run(interrupted, resume=newest_complete(os.path.join(interrupted, "ckpt"))) == 0
        same = weights(straight) == weights(interrupted)
        print("interruptions:", ", ".join(kinds), "| identical final weights:", same)
        sys.exit(0 if same else 1)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
