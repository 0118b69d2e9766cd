#!/usr/bin/env python3
"""Data-parallel digits MLP: 1 to N processes (ranks), gradients summed over TCP through rank 0.

Each step every rank draws the same global batch (same seeded RNG on every rank), takes its slice
(`index[rank::world]`), computes the gradient sum of its slice, and sends it to rank 0, which adds
the ranks' sums in rank order, divides by the batch size and sends the mean back: every rank
applies the same update, so all replicas stay byte-identical, and the result is byte-identical
with or without interruptions for a fixed world size.

A notice to any rank (SIGTERM) or a checkpoint request (SIGUSR1) travels with the gradients, so
the whole gang checkpoints at the same step; each rank writes its own shard (`shard-R.npz` in its
`SPOTWISE_CHECKPOINT_DIR/step-K/`) and SIGTERM exits 143 after it. A rank that loses its peers
exits 75: the gang restarts from the newest checkpoint complete for every rank.

Contract: the digits trainer's (jobs/digits/train.py) plus SPOTWISE_RANK, SPOTWISE_WORLD_SIZE,
MASTER_ADDR, MASTER_PORT (torchrun's names). A resumed rank reads its own shard, or rank 0's
when the world size changed (elastic restarts).
"""
import io
import json
import os
import pickle
import shutil
import signal
import socket
import struct
import sys
import time

checkpoint_requested = False
stop_requested = False


def on_usr1(signum, frame):
    global checkpoint_requested
    checkpoint_requested = True


def on_term(signum, frame):
    global checkpoint_requested, stop_requested
    checkpoint_requested = True
    stop_requested = True


signal.signal(signal.SIGUSR1, on_usr1)
signal.signal(signal.SIGTERM, on_term)
# A parent may have started us with these blocked (Foundation's Process passes its threads' mask):
# a notice that never arrives would cost the gang its work.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGUSR1})

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "digits"))
from digits_model import (  # noqa: E402
    BATCH, LEARNING_RATE, MOMENTUM, STEP_DELAY, TOTAL_STEPS, X_train, evaluate, forward, fresh_state, report,
    y_train)

RANK = int(os.environ.get("SPOTWISE_RANK", "0"))
WORLD = int(os.environ.get("SPOTWISE_WORLD_SIZE", "1"))
MASTER_ADDR = os.environ.get("MASTER_ADDR", "127.0.0.1")
MASTER_PORT = int(os.environ.get("MASTER_PORT", "29500"))
PEER_LOST = 75

checkpoint_dir = os.environ.get("SPOTWISE_CHECKPOINT_DIR", "checkpoints-local-%d" % RANK)
resume_dir = os.environ.get("SPOTWISE_RESUME_DIR")
every = int(os.environ.get("SPOTWISE_CHECKPOINT_EVERY", "50"))
output_dir = os.environ.get("SPOTWISE_OUTPUT_DIR", "output")


# --- the gang: rank 0 serves, the others connect ---------------------------------------------


def send_message(connection, value):
    data = pickle.dumps(value, protocol=4)
    connection.sendall(struct.pack(">Q", len(data)) + data)


def receive_exactly(connection, count):
    buffer = io.BytesIO()
    while buffer.tell() < count:
        chunk = connection.recv(min(1 << 20, count - buffer.tell()))
        if not chunk:
            raise ConnectionError("a peer of the gang went away")
        buffer.write(chunk)
    return buffer.getvalue()


def receive_message(connection):
    (length,) = struct.unpack(">Q", receive_exactly(connection, 8))
    return pickle.loads(receive_exactly(connection, length))


class Gang:
    def __init__(self):
        self.peers = []  # rank 0: connections to ranks 1..WORLD-1, in rank order
        self.master = None  # other ranks: the connection to rank 0
        if WORLD == 1:
            return
        if RANK == 0:
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((MASTER_ADDR, MASTER_PORT))
            server.listen(WORLD)
            server.settimeout(120)
            joined = {}
            while len(joined) < WORLD - 1:
                connection, _ = server.accept()
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                rank = receive_message(connection)["rank"]
                joined[rank] = connection
            server.close()
            self.peers = [joined[r] for r in range(1, WORLD)]
        else:
            deadline = time.time() + 120
            while True:
                try:
                    self.master = socket.create_connection((MASTER_ADDR, MASTER_PORT), timeout=120)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.1)
            self.master.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            send_message(self.master, {"rank": RANK})

    def all_reduce(self, payload):
        """Sums the ranks' gradient sums in rank order and ORs their flags; every rank gets the result."""
        if WORLD == 1:
            return payload
        if RANK != 0:
            send_message(self.master, payload)
            return receive_message(self.master)
        total = {"grads": {k: v.copy() for k, v in payload["grads"].items()}, "loss": payload["loss"],
                 "checkpoint": payload["checkpoint"], "stop": payload["stop"]}
        for peer in self.peers:
            part = receive_message(peer)
            for k in total["grads"]:
                total["grads"][k] = total["grads"][k] + part["grads"][k]
            total["loss"] += part["loss"]
            total["checkpoint"] = total["checkpoint"] or part["checkpoint"]
            total["stop"] = total["stop"] or part["stop"]
        for peer in self.peers:
            send_message(peer, total)
        return total


# --- training -------------------------------------------------------------------------------


def save(state, step):
    temporary = os.path.join(checkpoint_dir, "step-%d.tmp" % step)
    final = os.path.join(checkpoint_dir, "step-%d" % step)
    shutil.rmtree(temporary, ignore_errors=True)
    os.makedirs(temporary)
    with open(os.path.join(temporary, "shard-%d.pkl" % RANK), "wb") as f:
        pickle.dump({"step": step, "world": WORLD, "rank": RANK, "params": state["params"],
                     "velocity": state["velocity"], "rng": state["rng"]}, f, protocol=4)
    os.replace(temporary, final)
    report({"step": step, "total_steps": TOTAL_STEPS, "checkpoint": "step-%d" % step})


def load(directory):
    own = os.path.join(directory, "shard-%d.pkl" % RANK)
    path = own if os.path.exists(own) else os.path.join(directory, "shard-0.pkl")
    with open(path, "rb") as f:
        saved = pickle.load(f)
    return {"step": saved["step"], "params": saved["params"], "velocity": saved["velocity"], "rng": saved["rng"]}


def local_gradient_sum(params, xb, yb):
    """The gradient of the summed (not mean) loss over this rank's slice, and that loss sum."""
    if len(yb) == 0:
        return {k: np.zeros_like(v) for k, v in params.items()}, 0.0
    hidden, probs = forward(params, xb)
    loss = float(-np.log(probs[np.arange(len(yb)), yb] + 1e-12).sum())
    delta = probs.copy()
    delta[np.arange(len(yb)), yb] -= 1
    grads = {"w2": hidden.T @ delta, "b2": delta.sum(axis=0)}
    back = (delta @ params["w2"].T) * (hidden > 0)
    grads["w1"] = xb.T @ back
    grads["b1"] = back.sum(axis=0)
    return grads, loss


def main():
    global checkpoint_requested
    state = load(resume_dir) if resume_dir else fresh_state()
    start = state["step"]
    print("digits-ddp rank %d/%d: %s at step %d of %d" % (RANK, WORLD, "resuming" if resume_dir else "starting",
                                                          start, TOTAL_STEPS), flush=True)
    report({"pid": os.getpid(), "step": start, "total_steps": TOTAL_STEPS})
    try:
        gang = Gang()
        while state["step"] < TOTAL_STEPS:
            rng = np.random.RandomState()
            rng.set_state(state["rng"])
            index = rng.randint(0, len(X_train), BATCH)
            state["rng"] = rng.get_state()
            mine = index[RANK::WORLD]
            grads, loss = local_gradient_sum(state["params"], X_train[mine], y_train[mine])
            total = gang.all_reduce({"grads": grads, "loss": loss, "checkpoint": checkpoint_requested,
                                     "stop": stop_requested})
            for k in state["params"]:
                mean = total["grads"][k] / BATCH
                state["velocity"][k] = MOMENTUM * state["velocity"][k] - LEARNING_RATE * mean
                state["params"][k] = state["params"][k] + state["velocity"][k]
            state["step"] += 1
            step = state["step"]
            if STEP_DELAY:
                time.sleep(STEP_DELAY)
            if step % 10 == 0 or step == start + 1:
                report({"step": step, "total_steps": TOTAL_STEPS, "metrics": {"loss": total["loss"] / BATCH}})
            if (step % every == 0 or total["checkpoint"]) and step < TOTAL_STEPS:
                save(state, step)
                checkpoint_requested = False
                if total["stop"]:
                    print("digits-ddp rank %d: the gang checkpointed step %d on a notice; exiting" % (RANK, step),
                          flush=True)
                    sys.exit(143)
    except (ConnectionError, OSError) as error:
        print("digits-ddp rank %d: %s; exiting for a gang restart" % (RANK, error), flush=True)
        sys.exit(PEER_LOST)
    os.makedirs(output_dir, exist_ok=True)
    if RANK == 0:
        np.savez(os.path.join(output_dir, "model.npz"), **state["params"])
        metrics = evaluate(state["params"])
        with open(os.path.join(output_dir, "metrics.json"), "w") as f:
            json.dump(metrics, f, sort_keys=True)
        report({"step": TOTAL_STEPS, "total_steps": TOTAL_STEPS, "metrics": metrics})
        print("digits-ddp: done at step %d: accuracy %.4f auc %.4f" % (TOTAL_STEPS, metrics["accuracy"],
                                                                        metrics["auc"]), flush=True)
    else:
        with open(os.path.join(output_dir, "replica-%d.sha256" % RANK), "w") as f:
            import hashlib
            digest = hashlib.sha256(b"".join(state["params"][k].tobytes() for k in sorted(state["params"])))
            f.write(digest.hexdigest() + "\n")


if __name__ == "__main__":
    main()
