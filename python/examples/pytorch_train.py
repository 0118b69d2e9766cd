#!/usr/bin/env python3
"""The PyTorch pattern of docs/trainer-sdk.md, runnable: a small regression net that resumes to
bit-identical weights, on one node or as a gang (torch.distributed with gloo, DDP). Its test is
python/tests/test_pytorch_pattern.py (skipped where torch is not installed).

A checkpoint holds the model's and the optimizer's state dicts and the step (torch.save, loaded
with weights_only=True), and the state of every RNG the run draws from (torch's, numpy's and
Python's; pickled). The data order is derived from the step, so it needs no state. In a gang
every rank publishes its own step-K (the agent commits a step only once every rank's shard is
in): DDP keeps the replicas and their optimizers identical, so each rank saves its own copy, and
a rank that resumes from rank 0's shard (the gang grew) gets a complete state.
"""
import random

import spotwise  # first: the signal handlers are in place while torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

run = spotwise.init()
STEPS = int(run.hparams.get("steps", 200))
run.total_steps = STEPS
if run.is_gang:  # the agent sets MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE: env:// reads them
    dist.init_process_group("gloo", init_method="env://", rank=run.rank, world_size=run.world_size)

torch.manual_seed(run.hparams.get("seed", 0))
model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
optimizer = torch.optim.AdamW(model.parameters(), lr=run.hparams.get("lr", 1e-2))
step = 0

restored = run.restore()
if restored:
    state = torch.load(restored.path("state.pt"), weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    step = state["step"]
    rng = restored.load_pickle("rng.pkl")
    torch.set_rng_state(rng["torch"])
    np.random.set_state(rng["numpy"])
    random.setstate(rng["python"])
net = torch.nn.parallel.DistributedDataParallel(model) if run.is_gang else model

while step < STEPS:
    batch = torch.Generator().manual_seed(step * run.world_size + run.rank)  # the data order, from the step
    x = torch.randn(16, 8, generator=batch)
    y = x.sum(dim=1, keepdim=True) + 0.1 * torch.randn(16, 1)  # torch's own RNG: checkpointed below
    loss = torch.nn.functional.mse_loss(net(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    step += 1
    if step % 10 == 0:
        run.report(step, loss=loss.item())
    requests = run.requests()
    if run.is_gang:  # every rank decides alike: the flags' maximum over the gang
        flags = torch.tensor([requests.checkpoint, requests.stop], dtype=torch.uint8)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        requests = spotwise.Requests(*(bool(flag) for flag in flags.tolist()))
    if run.should_checkpoint(step, requests):
        with run.checkpoint(step) as checkpoint:  # after a notice: exits 143 once published
            torch.save({"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict()},
                       checkpoint.path("state.pt"))
            checkpoint.save_pickle("rng.pkl", {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                                               "python": random.getstate()})

if run.is_primary:
    torch.save(model.state_dict(), run.output.path("model.pt"))
    run.finish({"loss": loss.item()})
if run.is_gang:
    dist.destroy_process_group()
