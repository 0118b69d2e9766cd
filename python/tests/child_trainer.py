"""A trainer for the tests' real signals (tests/test_signals.py, tests/test_gang.py); talks to the
test on stdout (one line per event) and waits on stdin where a test must act at a precise point."""
import json
import os
import pickle
import socket
import struct
import sys
import time

import spotwise

mode = sys.argv[1]
run = spotwise.init(total_steps=1000)


def say(*words):
    print(*words, flush=True)


def wait_until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            say("timeout")
            sys.exit(3)
        time.sleep(0.005)


if mode == "wait-request":
    # Told when it is ready; reports what the flags say once a signal has arrived.
    say("ready")
    wait_until(lambda: run.checkpoint_requested)
    say(json.dumps({"should": run.should_checkpoint(7), "stop": run.stop_requested}))
    with run.checkpoint(7) as checkpoint:  # after a notice this exits 143
        checkpoint.save_json("state.json", {"step": 7})
    say(json.dumps({"after": run.checkpoint_requested, "should_next": run.should_checkpoint(8)}))

elif mode == "slow-write":
    # step-10 complete, then step-20 written in two halves with the test acting in between.
    with run.checkpoint(10) as checkpoint:
        checkpoint.save_bytes("data.bin", b"A" * 100000)
        checkpoint.save_pickle("state.pkl", {"step": 10})
    with run.checkpoint(20) as checkpoint:
        with open(checkpoint.path("data.bin"), "wb") as f:
            f.write(b"B" * 50000)
            f.flush()
            say("writing")
            line = sys.stdin.readline()  # a signal here must not interrupt the read or the write
            say("resumed", line.strip(), "stop" if run.stop_requested else "no-stop")
            f.write(b"B" * 50000)
        checkpoint.save_pickle("state.pkl", {"step": 20})
    say("published-and-continued")

elif mode == "broken-stdout":
    # stdout is a pipe nobody reads any more when the notice's checkpoint is published.
    say("ready")
    read_end, write_end = os.pipe()
    os.dup2(write_end, sys.stdout.fileno())
    os.close(read_end)
    os.close(write_end)
    run.request_stop()
    with run.checkpoint(7) as checkpoint:  # exits 143, even though its message cannot be written
        checkpoint.save_json("state.json", {"step": 7})
    sys.stderr.write("not-exited\n")

elif mode == "masked":
    # Started with both signals blocked: importing spotwise unblocked them.
    say("ready")
    wait_until(lambda: run.stop_requested)
    say("notice")

elif mode in ("gang", "gang-late-notice"):
    # A gang member: each step, its requests go to the peer over a socket (fd argv[2]) and the
    # combined ones decide; the test sends SIGTERM to one rank only, at step argv[3]: before the
    # step's requests are taken ("gang"), or after they were combined, as a notice landing
    # during the all-reduce or the checkpoint write ("gang-late-notice").
    peer = socket.socket(fileno=int(sys.argv[2]))
    notice_at = int(sys.argv[3])
    late = mode == "gang-late-notice"

    def exchange(value):
        data = pickle.dumps(value)
        try:
            peer.sendall(struct.pack(">I", len(data)) + data)
            size = struct.unpack(">I", peer.recv(4, socket.MSG_WAITALL))[0]
            return pickle.loads(peer.recv(size, socket.MSG_WAITALL))
        except (OSError, struct.error, EOFError, pickle.UnpicklingError):
            say("peer-lost")
            run.exit_peer_lost()

    for step in range(1, 1000):
        if step == notice_at and not late:
            say("at", step)  # the test signals the noticed rank now
            sys.stdin.readline()
        mine = run.requests()
        combined = mine | exchange(mine)
        if step == notice_at and late:
            say("combined", step)  # the test signals the noticed rank now
            sys.stdin.readline()
        if run.should_checkpoint(step, combined):
            with run.checkpoint(step) as checkpoint:
                checkpoint.save_pickle("shard-%d.pkl" % checkpoint.rank, {"step": step, "rank": run.rank})
    say("finished")
else:
    raise SystemExit("unknown mode " + mode)
