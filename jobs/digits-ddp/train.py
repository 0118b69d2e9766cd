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

Contract: the digits trainer's (jobs/digits/train.py, through the `spotwise` library) plus the
gang's rank, world size, MASTER_ADDR and MASTER_PORT (`run.rank`, `run.world_size`, ...). A
resumed rank reads its own shard, or rank 0's when the world size changed (elastic restarts).
"""
import hashlib
import io
import os
import pickle
import socket
import struct
import sys
import time

# This checkout's library (python/ at the repository root), else the installed one.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "python"))
import spotwise  # noqa: E402  (first: its signal handlers are in place while numpy and scikit-learn load)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "digits"))
from digits_model import (  # noqa: E402
    BATCH, LEARNING_RATE, MOMENTUM, STEP_DELAY, TOTAL_STEPS, X_train, evaluate, forward, fresh_state, y_train)

run = spotwise.init(total_steps=TOTAL_STEPS)
RANK, WORLD = run.rank, run.world_size


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
            server.bind((run.master_addr, run.master_port))
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
                    self.master = socket.create_connection((run.master_addr, run.master_port), timeout=120)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.1)
            self.master.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            send_message(self.master, {"rank": RANK})

    def all_reduce(self, payload):
        """Sums the ranks' gradient sums in rank order and ORs their requests; every rank gets the result."""
        if WORLD == 1:
            return payload
        if RANK != 0:
            send_message(self.master, payload)
            return receive_message(self.master)
        total = {"grads": {k: v.copy() for k, v in payload["grads"].items()}, "loss": payload["loss"],
                 "requests": payload["requests"]}
        for peer in self.peers:
            part = receive_message(peer)
            for k in total["grads"]:
                total["grads"][k] = total["grads"][k] + part["grads"][k]
            total["loss"] += part["loss"]
            total["requests"] = total["requests"] | part["requests"]
        for peer in self.peers:
            send_message(peer, total)
        return total


# --- training -------------------------------------------------------------------------------


def save(checkpoint, state):
    checkpoint.save_pickle("shard-%d.pkl" % RANK, {"step": state["step"], "world": WORLD, "rank": RANK,
                                                   "params": state["params"], "velocity": state["velocity"],
                                                   "rng": state["rng"]})


def load(checkpoint):
    own = "shard-%d.pkl" % RANK
    saved = checkpoint.load_pickle(own if checkpoint.exists(own) else "shard-0.pkl")
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
    resumed = run.restore()
    state = load(resumed) if resumed else fresh_state()
    start = state["step"]
    print("digits-ddp rank %d/%d: %s at step %d of %d" % (RANK, WORLD, "resuming" if resumed else "starting",
                                                          start, TOTAL_STEPS), flush=True)
    try:
        gang = Gang()
        while state["step"] < TOTAL_STEPS:
            rng = np.random.RandomState()
            rng.set_state(state["rng"])
            index = rng.randint(0, len(X_train), BATCH)
            state["rng"] = rng.get_state()
            mine = index[RANK::WORLD]
            grads, loss = local_gradient_sum(state["params"], X_train[mine], y_train[mine])
            # The signals' flags travel with the gradients, so that every rank decides alike.
            total = gang.all_reduce({"grads": grads, "loss": loss, "requests": run.requests()})
            for k in state["params"]:
                mean = total["grads"][k] / BATCH
                state["velocity"][k] = MOMENTUM * state["velocity"][k] - LEARNING_RATE * mean
                state["params"][k] = state["params"][k] + state["velocity"][k]
            state["step"] += 1
            step = state["step"]
            if STEP_DELAY:
                time.sleep(STEP_DELAY)
            if step % 10 == 0 or step == start + 1:
                run.report(step, loss=total["loss"] / BATCH)
            if run.should_checkpoint(step, total["requests"]):  # a peer's notice stops this rank too
                with run.checkpoint(step) as checkpoint:  # this rank's shard; after a notice, exits 143
                    save(checkpoint, state)
    except (ConnectionError, OSError) as error:
        run.exit_peer_lost("digits-ddp rank %d: %s; exiting for a gang restart" % (RANK, error))  # 75
    if RANK == 0:
        run.save_model("model.npz", **state["params"])
        metrics = run.finish(evaluate(state["params"]))
        print("digits-ddp: done at step %d: accuracy %.4f auc %.4f" % (TOTAL_STEPS, metrics["accuracy"],
                                                                        metrics["auc"]), flush=True)
    else:
        digest = hashlib.sha256(b"".join(state["params"][k].tobytes() for k in sorted(state["params"])))
        run.output.save_bytes("replica-%d.sha256" % RANK, (digest.hexdigest() + "\n").encode())


if __name__ == "__main__":
    main()
