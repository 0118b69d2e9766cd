"""A trainer that starts a multiprocessing.Pool (tests/test_children.py), as a DataLoader starts
its workers: with spawn and forkserver the workers re-import this module, init() included; with
fork they are copies of the trainer. Only the trainer is the agent's: its pid on the progress
file, its signal handlers. Prints what the trainer and its workers saw, as one JSON line."""
import json
import multiprocessing
import os
import signal
import sys

import spotwise

run = spotwise.init(total_steps=10)  # at module level, as trainers often do


def handlers():
    return [signal.getsignal(number) is signal.SIG_DFL for number in (signal.SIGTERM, signal.SIGUSR1)]


def work(i):
    return {"pid": os.getpid(), "default_handlers": handlers(), "hparams": spotwise.init().hparams}


if __name__ == "__main__":
    context = multiprocessing.get_context(sys.argv[1])
    with context.Pool(2) as pool:  # leaving the block terminates the workers: SIGTERM
        results = pool.map(work, range(8), chunksize=1)
    with context.Pool(1) as pool:  # a worker that calls init() itself
        results += pool.map(work, range(1))
    print(json.dumps({"pid": os.getpid(), "default_handlers": handlers(), "workers": results}), flush=True)
