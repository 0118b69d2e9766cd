"""What the digits trainers share (train.py, and ../digits-ddp/train.py): hyperparameters, the
fixed data split, the MLP's initial state, forward pass and evaluation.

Imported after a trainer has imported spotwise (which installs the signal handlers): numpy and
scikit-learn take a while to import, and a notice may come meanwhile.
"""
import os

import numpy as np
import spotwise
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

hp = spotwise.context().hparams
LEARNING_RATE = float(hp.get("learning_rate", 0.1))
EPOCHS = int(hp.get("epochs", 40))
BATCH = int(hp.get("batch_size", 64))
SEED = int(hp.get("seed", 7))
HIDDEN = int(hp.get("hidden", 64))
MOMENTUM = float(hp.get("momentum", 0.9))
# Slows each step so that a demo's interruptions land mid-run; results do not depend on it.
STEP_DELAY = float(os.environ.get("DIGITS_STEP_DELAY_MS", "0")) / 1000.0

# Data: a fixed, seeded split (the split never depends on the training RNG).
_digits = load_digits()
_X = (_digits.data / 16.0).astype(np.float64)
_y = _digits.target.astype(np.int64)
_order = np.random.RandomState(12345).permutation(len(_X))
_X, _y = _X[_order], _y[_order]
_split = int(len(_X) * 0.8)
X_train, y_train, X_test, y_test = _X[:_split], _y[:_split], _X[_split:], _y[_split:]
CLASSES = 10
steps_per_epoch = (len(X_train) + BATCH - 1) // BATCH
TOTAL_STEPS = EPOCHS * steps_per_epoch


def fresh_state():
    rng = np.random.RandomState(SEED)
    w1 = rng.normal(0, np.sqrt(2.0 / 64), (64, HIDDEN))
    w2 = rng.normal(0, np.sqrt(2.0 / HIDDEN), (HIDDEN, CLASSES))
    params = {"w1": w1, "b1": np.zeros(HIDDEN), "w2": w2, "b2": np.zeros(CLASSES)}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    return {"step": 0, "params": params, "velocity": velocity, "rng": rng.get_state()}


def forward(params, xb):
    hidden = np.maximum(0, xb @ params["w1"] + params["b1"])
    logits = hidden @ params["w2"] + params["b2"]
    logits = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return hidden, probs


def evaluate(params):
    _, probs = forward(params, X_test)
    accuracy = float((probs.argmax(axis=1) == y_test).mean())
    auc = float(roc_auc_score(y_test, probs, multi_class="ovr", average="macro"))
    return {"accuracy": accuracy, "auc": auc}
