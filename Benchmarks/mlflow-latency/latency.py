"""Latency of MLflow's routes against the native route of the same content, in one run.

Against a live coordinator (SPOTWISE_URL, SPOTWISE_READONLY_TOKEN, SPOTWISE_MODEL), over one
keep-alive connection: ROUNDS rounds, each asking every route once in turn (so drift in the
machine's load falls on all alike), after 20 warm-up rounds. Prints each route's median and p95
in milliseconds and its ratio to the native GET /v1/models/{name} (the goal: at most 1.5x).
"""

import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse

url = urllib.parse.urlparse(os.environ["SPOTWISE_URL"])
token = os.environ["SPOTWISE_READONLY_TOKEN"]
model = os.environ.get("SPOTWISE_MODEL", "digits-classifier")
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 300
quoted = urllib.parse.quote(f"name = '{model}'")

connection = http.client.HTTPConnection(url.hostname, url.port)
headers = {"Authorization": f"Bearer {token}"}


def get(path):
    start = time.perf_counter()
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    if response.status != 200:
        sys.exit(f"latency: {path} answered {response.status}: {body[:200]!r}")
    return elapsed


connection.request("GET", f"/api/2.0/mlflow/registered-models/get?name={model}", headers=headers)
job = json.loads(connection.getresponse().read())["registered_model"]["latest_versions"][0]["run_id"]

routes = {
    "native GET /v1/models/{name} (baseline)": f"/v1/models/{model}",
    "mlflow registered-models/get": f"/api/2.0/mlflow/registered-models/get?name={model}",
    "mlflow model-versions/get": f"/api/2.0/mlflow/model-versions/get?name={model}&version=1",
    "mlflow model-versions/search (by name)": f"/api/2.0/mlflow/model-versions/search?filter={quoted}",
    "mlflow registered-models/search": f"/api/2.0/mlflow/registered-models/search?filter={quoted}",
    "native GET /v1/jobs/{id}/metrics": f"/v1/jobs/{job}/metrics",
    "mlflow metrics/get-history (loss)": f"/api/2.0/mlflow/metrics/get-history?run_id={job}&metric_key=loss",
    "mlflow runs/get": f"/api/2.0/mlflow/runs/get?run_id={job}",
}
times = {name: [] for name in routes}
for round_ in range(rounds + 20):
    for name, path in routes.items():
        elapsed = get(path)
        if round_ >= 20:
            times[name].append(elapsed)

baseline = statistics.median(times["native GET /v1/models/{name} (baseline)"])
metrics_baseline = statistics.median(times["native GET /v1/jobs/{id}/metrics"])
print(f"{rounds} rounds, one keep-alive connection, medians in ms (p95), ratio to the native route")
for name, samples in times.items():
    median = statistics.median(samples)
    p95 = sorted(samples)[int(len(samples) * 0.95) - 1]
    base = metrics_baseline if "metrics" in name or "runs/get" in name else baseline
    print(f"  {name:42s} {median * 1000:7.2f} ({p95 * 1000:6.2f})  {median / base:5.2f}x")
