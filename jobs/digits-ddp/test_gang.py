#!/usr/bin/env python3
"""The data-parallel trainer resumes exactly as a gang: 2 ranks interrupted twice by a notice to
one rank (the whole gang checkpoints at the same step and exits) end with byte-identical final
weights to an uninterrupted 2-rank run, and the replicas agree. Run by TrainerContractTests."""
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINER = os.path.join(HERE, "train.py")
HPARAMS = json.dumps({"learning_rate": 0.1, "epochs": 10, "batch_size": 64, "seed": 7})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def newest_step(progress):
    if not os.path.exists(progress):
        return 0
    steps = [json.loads(line).get("step", 0) for line in open(progress) if line.strip()]
    return max(steps or [0])


def newest_checkpoint(directory):
    steps = [int(n[5:]) for n in os.listdir(directory) if n.startswith("step-") and not n.endswith(".tmp")]
    return max(steps) if steps else None


def run_gang(base, world, resume_step=None, notice_rank=None, notice_after=None):
    port = free_port()
    processes = []
    for rank in range(world):
        rank_dir = os.path.join(base, "rank-%d" % rank)
        os.makedirs(rank_dir, exist_ok=True)
        env = dict(os.environ, SPOTWISE_HPARAMS=HPARAMS, SPOTWISE_CHECKPOINT_EVERY="40",
                   SPOTWISE_CHECKPOINT_DIR=os.path.join(rank_dir, "ckpt"),
                   SPOTWISE_OUTPUT_DIR=os.path.join(rank_dir, "out"),
                   SPOTWISE_PROGRESS=os.path.join(rank_dir, "progress.jsonl"), SPOTWISE_RANK=str(rank),
                   SPOTWISE_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        env.pop("SPOTWISE_RESUME_DIR", None)
        if resume_step is not None:
            env["SPOTWISE_RESUME_DIR"] = os.path.join(rank_dir, "ckpt", "step-%d" % resume_step)
        if notice_rank is not None:
            env["DIGITS_STEP_DELAY_MS"] = "3"
        processes.append(subprocess.Popen([sys.executable, TRAINER], env=env, stdout=subprocess.DEVNULL))
    if notice_rank is not None:
        progress = os.path.join(base, "rank-%d" % notice_rank, "progress.jsonl")
        deadline = time.time() + 120
        while newest_step(progress) < notice_after and time.time() < deadline:
            time.sleep(0.01)
        processes[notice_rank].send_signal(signal.SIGTERM)
    return [p.wait(timeout=300) for p in processes]


def weights(base):
    with np.load(os.path.join(base, "rank-0", "out", "model.npz")) as w:
        return {k: w[k].copy() for k in sorted(w.files)}


def main():
    root = tempfile.mkdtemp(prefix="digits-ddp-")
    try:
        straight = os.path.join(root, "straight")
        codes = run_gang(straight, 2)
        assert codes == [0, 0], "uninterrupted gang exited %s" % codes
        expected = weights(straight)
        digest = hashlib.sha256(b"".join(expected[k].tobytes() for k in sorted(expected))).hexdigest()
        replica = open(os.path.join(straight, "rank-1", "out", "replica-1.sha256")).read().strip()
        assert replica == digest, "rank 1's replica differs from rank 0's"

        # Three ranks (uneven slices of the 64-example batch): every replica ends identical to rank 0.
        three = os.path.join(root, "three")
        assert run_gang(three, 3) == [0, 0, 0]
        mine = weights(three)
        own = hashlib.sha256(b"".join(mine[k].tobytes() for k in sorted(mine))).hexdigest()
        for rank in (1, 2):
            assert open(os.path.join(three, "rank-%d" % rank, "out", "replica-%d.sha256" % rank)).read().strip() == own

        gang = os.path.join(root, "interrupted")
        resume = None
        stops = []
        for notice_rank, after in ((1, 55), (0, 150)):
            codes = run_gang(gang, 2, resume_step=resume, notice_rank=notice_rank, notice_after=after)
            assert codes == [143, 143], "a notice to rank %d: the gang exited %s" % (notice_rank, codes)
            steps = [newest_checkpoint(os.path.join(gang, "rank-%d" % r, "ckpt")) for r in range(2)]
            assert steps[0] == steps[1], "the ranks checkpointed different steps: %s" % steps
            assert steps[0] >= after, "checkpointed step %s before the notice at %d" % (steps[0], after)
            resume = steps[0]
            stops.append(resume)
        codes = run_gang(gang, 2, resume_step=resume)
        assert codes == [0, 0], "the resumed gang exited %s" % codes
        got = weights(gang)
        for k in expected:
            assert got[k].tobytes() == expected[k].tobytes(), "weights %s differ after resuming" % k
        print("digits-ddp gang: 2 ranks, notices at steps %s, final weights byte-identical (sha256 %s)"
              % (stops, digest[:16]))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
