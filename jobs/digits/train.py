#!/usr/bin/env python3
"""A small MLP on scikit-learn's bundled handwritten digits, following Spotwise's trainer contract.

Deterministic: the same hyperparameters give byte-identical final weights whether or not the run
was interrupted and resumed, because weights, optimizer state, the RNG state and the step are all
checkpointed, and every batch is drawn from the checkpointed RNG.

Contract (docs/job-spec.md): SPOTWISE_CHECKPOINT_DIR (write step-K/ here, then report it on the
progress file), SPOTWISE_RESUME_DIR (restored checkpoint, unset on a fresh start),
SPOTWISE_CHECKPOINT_EVERY, SPOTWISE_PROGRESS (JSON lines), SPOTWISE_OUTPUT_DIR (final model and
metrics.json), SPOTWISE_HPARAMS (JSON). SIGUSR1: checkpoint at the next step and go on. SIGTERM:
checkpoint at the next step and exit with 143 (the attempt did not finish; the job resumes).
"""
import json
import os
import pickle
import shutil
import signal
import sys
import time

# Signals first: a notice may come while numpy and scikit-learn are still importing.
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

import numpy as np  # noqa: E402

from digits_model import (  # noqa: E402
    BATCH, LEARNING_RATE, MOMENTUM, STEP_DELAY, TOTAL_STEPS, X_train, evaluate, forward, fresh_state, report,
    steps_per_epoch, y_train)

# Tests only: die at this step without checkpointing, as a node killed without notice would.
CRASH_AT = int(os.environ.get("DIGITS_CRASH_AT_STEP", "0"))

checkpoint_dir = os.environ.get("SPOTWISE_CHECKPOINT_DIR", "checkpoints-local")
resume_dir = os.environ.get("SPOTWISE_RESUME_DIR")
every = int(os.environ.get("SPOTWISE_CHECKPOINT_EVERY", "50"))
output_dir = os.environ.get("SPOTWISE_OUTPUT_DIR", "output")


def save(state, step):
    temporary = os.path.join(checkpoint_dir, "step-%d.tmp" % step)
    final = os.path.join(checkpoint_dir, "step-%d" % step)
    shutil.rmtree(temporary, ignore_errors=True)  # a torn earlier try
    os.makedirs(temporary)
    np.savez(os.path.join(temporary, "weights.npz"), **state["params"])
    np.savez(os.path.join(temporary, "optimizer.npz"), **state["velocity"])
    with open(os.path.join(temporary, "state.pkl"), "wb") as f:
        pickle.dump({"step": step, "rng": state["rng"]}, f, protocol=4)
    os.replace(temporary, final)
    report({"step": step, "total_steps": TOTAL_STEPS, "checkpoint": "step-%d" % step})


def load(directory):
    with np.load(os.path.join(directory, "weights.npz")) as w:
        params = {k: w[k].copy() for k in w.files}
    with np.load(os.path.join(directory, "optimizer.npz")) as v:
        velocity = {k: v[k].copy() for k in v.files}
    with open(os.path.join(directory, "state.pkl"), "rb") as f:
        extra = pickle.load(f)
    return {"step": extra["step"], "params": params, "velocity": velocity, "rng": extra["rng"]}


def train_step(state):
    rng = np.random.RandomState()
    rng.set_state(state["rng"])
    index = rng.randint(0, len(X_train), BATCH)
    state["rng"] = rng.get_state()
    xb, yb = X_train[index], y_train[index]
    params, velocity = state["params"], state["velocity"]
    hidden, probs = forward(params, xb)
    loss = -np.log(probs[np.arange(len(yb)), yb] + 1e-12).mean()
    delta = probs.copy()
    delta[np.arange(len(yb)), yb] -= 1
    delta /= len(yb)
    grads = {"w2": hidden.T @ delta, "b2": delta.sum(axis=0)}
    back = (delta @ params["w2"].T) * (hidden > 0)
    grads["w1"] = xb.T @ back
    grads["b1"] = back.sum(axis=0)
    for k in params:
        velocity[k] = MOMENTUM * velocity[k] - LEARNING_RATE * grads[k]
        params[k] = params[k] + velocity[k]
    state["step"] += 1
    return float(loss)


def main():
    global checkpoint_requested
    state = load(resume_dir) if resume_dir else fresh_state()
    start = state["step"]
    print("digits-mlp: %s at step %d of %d" % ("resuming" if resume_dir else "starting", start, TOTAL_STEPS), flush=True)
    # The pid: the agent signals this process even when `run` reaches it through a wrapper shell.
    report({"pid": os.getpid(), "step": start, "total_steps": TOTAL_STEPS})
    while state["step"] < TOTAL_STEPS:
        loss = train_step(state)
        step = state["step"]
        if STEP_DELAY:
            time.sleep(STEP_DELAY)
        if step == CRASH_AT:
            os._exit(137)
        if step % 10 == 0 or step == start + 1:  # the first step of a (re)start shows recovery time
            report({"step": step, "total_steps": TOTAL_STEPS, "metrics": {"loss": loss}})
        if step % steps_per_epoch == 0 and (step // steps_per_epoch) % 10 == 0:
            print("epoch %d step %d loss %.4f" % (step // steps_per_epoch, step, loss), flush=True)
        if (step % every == 0 or checkpoint_requested) and step < TOTAL_STEPS:
            save(state, step)
            checkpoint_requested = False
            if stop_requested:
                print("digits-mlp: checkpointed step %d on SIGTERM; exiting" % step, flush=True)
                sys.exit(143)
    os.makedirs(output_dir, exist_ok=True)
    np.savez(os.path.join(output_dir, "model.npz"), **state["params"])
    metrics = evaluate(state["params"])
    with open(os.path.join(output_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, sort_keys=True)
    report({"step": TOTAL_STEPS, "total_steps": TOTAL_STEPS, "metrics": metrics})
    print("digits-mlp: done at step %d: accuracy %.4f auc %.4f" % (TOTAL_STEPS, metrics["accuracy"], metrics["auc"]), flush=True)


if __name__ == "__main__":
    main()
