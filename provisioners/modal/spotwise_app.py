"""Spotwise on Modal: deploy once with `modal deploy provisioners/modal/spotwise_app.py`.

It exposes one authenticated web endpoint that the coordinator calls (Sources/Provisioners/Modal):

    POST {"action": "spawn", "name": ..., "gpu": "A100", "timeout_seconds": N, "env": {...}}
         -> {"call_id": "fc-..."}
    POST {"action": "status", "call_id": "fc-..."}
         -> {"state": "running" | "succeeded" | "failed" | "cancelled", "detail": "..."}
    POST {"action": "cancel", "call_id": "fc-..."}  -> {"state": "cancelled"}

with `Authorization: Bearer <token>`, the token kept in the Modal secret `spotwise`
(`modal secret create spotwise SPOTWISE_MODAL_TOKEN=...`). The training function runs
`spotwise worker` (the image of provisioners/Dockerfile) with the environment the coordinator
sends. Modal preempts with an interrupt signal and a short grace period: the function forwards it
to the worker as SIGTERM, which the agent treats as a termination notice with a 30 s window
(checkpoint, report, leave); Modal then restarts the function on the same input, and the new
worker registers again and resumes from the newest committed checkpoint.
"""

import hmac
import os
import signal
import subprocess

import modal

IMAGE = os.environ.get("SPOTWISE_WORKER_IMAGE", "ghcr.io/example/spotwise-worker:latest")
GPUS = ("T4", "L4", "A10G", "A100", "A100-80GB", "H100")

app = modal.App("spotwise")
image = modal.Image.from_registry(IMAGE)
web_image = modal.Image.debian_slim().pip_install("fastapi[standard]")
secret = modal.Secret.from_name("spotwise")

with web_image.imports():
    from fastapi import Header
    from fastapi.responses import JSONResponse


@app.function(image=image, secrets=[secret], timeout=24 * 3600, gpu="T4")
def train(env: dict) -> int:
    """Runs one attempt's worker; the GPU type is set per call with `with_options`."""
    environment = dict(os.environ)
    environment.update({str(k): str(v) for k, v in env.items()})
    environment["SPOTWISE_PROVIDER"] = "modal"
    environment["SPOTWISE_NOTICE_SECONDS"] = "30"
    worker = subprocess.Popen(["/usr/local/bin/spotwise-worker-entrypoint"], env=environment)

    def forward(signum, frame):  # Modal's preemption interrupt -> the agent's notice
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    return worker.wait()


@app.function(image=web_image, secrets=[secret])
@modal.fastapi_endpoint(method="POST")
def api(body: dict, authorization: str = Header(default="")):
    status, answer = handle(body, authorization)
    return JSONResponse(status_code=status, content=answer)


def _authorized(authorization: str) -> bool:
    expected = "Bearer " + os.environ.get("SPOTWISE_MODAL_TOKEN", "")
    return len(expected) > len("Bearer ") and hmac.compare_digest(authorization or "", expected)


def handle(body: dict, authorization: str) -> tuple[int, dict]:
    """The endpoint's logic, apart from Modal so that it reads plainly."""
    if not _authorized(authorization):
        return 401, {"error": "unauthorized", "message": "a Bearer token from the spotwise secret is required"}
    action = body.get("action")
    if action == "spawn":
        gpu = body.get("gpu", "T4")
        if gpu not in GPUS:
            return 400, {"error": "invalid_gpu", "message": f"gpu must be one of {', '.join(GPUS)}"}
        env = body.get("env") or {}
        if not isinstance(env, dict):
            return 400, {"error": "invalid_env", "message": "env is an object of name to text"}
        timeout = int(body.get("timeout_seconds", 24 * 3600))
        call = train.with_options(gpu=gpu, timeout=max(60, min(timeout, 24 * 3600))).spawn(env)
        return 200, {"call_id": call.object_id}
    if action in ("status", "cancel"):
        call = modal.FunctionCall.from_id(str(body.get("call_id", "")))
        if action == "cancel":
            call.cancel()
            return 200, {"state": "cancelled"}
        try:
            code = call.get(timeout=0)
            return 200, {"state": "succeeded" if code == 0 else "failed", "detail": f"exit code {code}"}
        except TimeoutError:
            return 200, {"state": "running"}
        except modal.exception.FunctionTimeoutError as error:
            return 200, {"state": "failed", "detail": f"timed out: {error}"}
        except Exception as error:  # a cancelled or crashed call
            return 200, {"state": "failed", "detail": str(error)}
    return 400, {"error": "invalid_action", "message": "action is spawn, status or cancel"}
