#!/usr/bin/env python3
"""A small MLP on scikit-learn's bundled handwritten digits, following Spotwise's trainer contract
through the `spotwise` library (docs/trainer-sdk.md).

Deterministic: the same hyperparameters give byte-identical final weights whether or not the run
was interrupted and resumed, because weights, optimizer state, the RNG state and the step are all
checkpointed, and every batch is drawn from the checkpointed RNG.

The library does the contract (docs/job-spec.md): SIGUSR1 checkpoints at the next step and goes
on; SIGTERM checkpoints at the next step and exits 143 (the attempt did not finish; the job
resumes); `step-K/` is published atomically and reported; the model and metrics.json go to the
output directory.
"""
import os
import sys
import time

# This checkout's library (python/ at the repository root), else the installed one.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "python"))
import spotwise  # noqa: E402  (first: its signal handlers are in place while numpy and scikit-learn load)

import numpy as np  # noqa: E402

from digits_model import (  # noqa: E402
    BATCH, LEARNING_RATE, MOMENTUM, STEP_DELAY, TOTAL_STEPS, X_train, evaluate, forward, fresh_state,
    steps_per_epoch, y_train)

# Tests only: die at this step without checkpointing, as a node killed without notice would.
CRASH_AT = int(os.environ.get("DIGITS_CRASH_AT_STEP", "0"))

run = spotwise.init(total_steps=TOTAL_STEPS)


def save(checkpoint, state):
    checkpoint.save_arrays("weights.npz", **state["params"])
    checkpoint.save_arrays("optimizer.npz", **state["velocity"])
    checkpoint.save_pickle("state.pkl", {"step": state["step"], "rng": state["rng"]})


def load(checkpoint):
    extra = checkpoint.load_pickle("state.pkl")
    return {"step": extra["step"], "params": checkpoint.load_arrays("weights.npz"),
            "velocity": checkpoint.load_arrays("optimizer.npz"), "rng": extra["rng"]}


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
    resumed = run.restore()
    state = load(resumed) if resumed else fresh_state()
    start = state["step"]
    print("digits-mlp: %s at step %d of %d" % ("resuming" if resumed else "starting", start, TOTAL_STEPS), flush=True)
    while state["step"] < TOTAL_STEPS:
        loss = train_step(state)
        step = state["step"]
        if STEP_DELAY:
            time.sleep(STEP_DELAY)
        if step == CRASH_AT:
            os._exit(137)
        if step % 10 == 0 or step == start + 1:  # the first step of a (re)start shows recovery time
            run.report(step, loss=loss)
        if step % steps_per_epoch == 0 and (step // steps_per_epoch) % 10 == 0:
            print("epoch %d step %d loss %.4f" % (step // steps_per_epoch, step, loss), flush=True)
        if run.should_checkpoint(step):  # every N steps, or asked by a signal; never the last step
            with run.checkpoint(step) as checkpoint:  # published as step-K/; after a notice, exits 143
                save(checkpoint, state)
    run.save_model("model.npz", **state["params"])
    metrics = run.finish(evaluate(state["params"]))
    print("digits-mlp: done at step %d: accuracy %.4f auc %.4f" % (TOTAL_STEPS, metrics["accuracy"], metrics["auc"]), flush=True)


if __name__ == "__main__":
    main()
