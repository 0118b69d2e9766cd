"""Runs the Modal app's endpoint logic (`handle`) without Modal, for the tests: a stand-in `modal`
module records what the app would spawn. Usage: check_app.py REQUEST.json AUTHORIZATION
Prints {"status": N, "answer": {...}, "spawned": {...} | null}."""

import json
import os
import sys
import types

spawned = {}


class _Call:
    def __init__(self, object_id):
        self.object_id = object_id

    def get(self, timeout=0):
        raise TimeoutError()

    def cancel(self):
        spawned["cancelled"] = self.object_id


class _Function:
    def __init__(self, fn):
        self.fn = fn

    def with_options(self, **options):
        spawned["options"] = options
        return self

    def spawn(self, env):
        spawned["env"] = env
        return _Call("fc-test-1")


def _decorator(*args, **kwargs):
    return lambda fn: _Function(fn)


class _Image:
    @staticmethod
    def from_registry(name):
        return _Image()

    @staticmethod
    def debian_slim():
        return _Image()

    def pip_install(self, *names):
        return self

    def imports(self):
        import contextlib

        return contextlib.nullcontext()


modal = types.ModuleType("modal")
modal.App = lambda name: types.SimpleNamespace(function=_decorator)
modal.Image = _Image
modal.Secret = types.SimpleNamespace(from_name=lambda name: name)
modal.fastapi_endpoint = _decorator
modal.FunctionCall = types.SimpleNamespace(from_id=lambda object_id: _Call(object_id))
modal.exception = types.SimpleNamespace(FunctionTimeoutError=type("FunctionTimeoutError", (Exception,), {}))
sys.modules["modal"] = modal
fastapi = types.ModuleType("fastapi")
fastapi.Header = lambda default="": default
responses = types.ModuleType("fastapi.responses")
responses.JSONResponse = dict
sys.modules["fastapi"] = fastapi
sys.modules["fastapi.responses"] = responses

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spotwise_app  # noqa: E402

with open(sys.argv[1]) as f:
    body = json.load(f)
status, answer = spotwise_app.handle(body, sys.argv[2])
print(json.dumps({"status": status, "answer": answer, "spawned": spawned or None}, sort_keys=True))
