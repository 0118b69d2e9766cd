"""MLflow's own client (mlflow-skinny from PyPI) against a live coordinator holding a demo's state.

Run by scripts/mlflow-client, which starts the coordinator and passes its URL and tokens in the
environment: SPOTWISE_URL, SPOTWISE_ADMIN_TOKEN, SPOTWISE_READONLY_TOKEN, SPOTWISE_BOOTSTRAP_TOKEN,
SPOTWISE_MODEL. Every call docs/mlflow.md lists goes through `MlflowClient`; each check fails
loudly with what it saw.
"""

import os
import sys

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

URL = os.environ["SPOTWISE_URL"]
ADMIN = os.environ["SPOTWISE_ADMIN_TOKEN"]
READER = os.environ["SPOTWISE_READONLY_TOKEN"]
MODEL = os.environ.get("SPOTWISE_MODEL", "digits-classifier")

checks = 0


def check(condition, what):
    global checks
    checks += 1
    if not condition:
        print(f"mlflow-client: FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def client(token):
    os.environ["MLFLOW_TRACKING_TOKEN"] = token
    return MlflowClient(tracking_uri=URL, registry_uri=URL)


def error_code(call):
    try:
        call()
    except RestException as error:
        return error.error_code
    except MlflowException as error:
        return getattr(error, "error_code", type(error).__name__)
    return None


reader = client(READER)

# Registered models: get, search with filters and paging.
model = reader.get_registered_model(MODEL)
check(model.name == MODEL, f"get_registered_model name {model.name}")
check(len(model.latest_versions) == 1, f"latest_versions {model.latest_versions}")
latest = model.latest_versions[0]
check(latest.status == "READY" and latest.current_stage == "None", f"latest {latest}")
found = reader.search_registered_models(filter_string=f"name = '{MODEL}'")
check([m.name for m in found] == [MODEL], f"search by name: {[m.name for m in found]}")
found = reader.search_registered_models(filter_string=f"name LIKE '{MODEL[:3]}%'")
check(MODEL in [m.name for m in found], "search by LIKE")
check(list(reader.search_registered_models(filter_string="name = 'no-such-model'")) == [], "search: no match")
page = reader.search_registered_models(max_results=1)
check(len(page) == 1, f"search page of 1: {len(page)}")

# Model versions: get, search by name and run id, download URI.
version = reader.get_model_version(MODEL, latest.version)
run_id = version.run_id
check(run_id.startswith("job-"), f"run_id {run_id}")
check(version.source == latest.source and version.source.startswith("file://"), f"source {version.source}")
by_run = reader.search_model_versions(filter_string=f"run_id = '{run_id}'")
check([v.version for v in by_run] == [version.version], f"search versions by run_id: {by_run}")
by_name = reader.search_model_versions(filter_string=f"name = '{MODEL}'", max_results=1)
check(len(by_name) == 1, "search versions page of 1")
check(reader.get_model_version_download_uri(MODEL, version.version) == version.source, "download uri")
check(
    [v.version for v in reader.get_latest_versions(MODEL)] == [latest.version], "get_latest_versions"
)

# Runs: the job as a run, its params and metrics; the history of a metric.
run = reader.get_run(run_id)
check(run.info.status == "FINISHED", f"run status {run.info.status}")
check("auc" in run.data.metrics and run.data.metrics["auc"] >= 0.85, f"run metrics {run.data.metrics}")
check(len(run.data.params) > 0, f"run params {run.data.params}")
check(run.data.tags.get("spotwise.state") == "succeeded", f"run tags {run.data.tags}")
check("loss" in run.data.metrics, f"the trainer's loss series: {run.data.metrics}")
history = reader.get_metric_history(run_id, "loss")
steps = [point.step for point in history]
check(len(steps) > 1 and steps == sorted(set(steps)), f"history steps once each, in order: {steps[:20]}")

# Paging: the history in pages of 10, following next_page_token, is the whole history.
store = reader._tracking_client.store
paged, token = [], None
for _ in range(1000):
    page = store.get_metric_history(run_id, "loss", max_results=10, page_token=token)
    check(len(page) <= 10, f"a page of at most 10: {len(page)}")
    paged += [point.step for point in page]
    token = page.token
    if not token:
        break
check(paged == steps, f"paged history {paged[:12]}... == whole {steps[:12]}...")
check(len(steps) > 10, f"more than one page of history: {len(steps)} points")

# Unknown names: MLflow's RESOURCE_DOES_NOT_EXIST.
check(error_code(lambda: reader.get_registered_model("no-such-model")) == "RESOURCE_DOES_NOT_EXIST", "unknown model")
check(error_code(lambda: reader.get_model_version(MODEL, "999")) == "RESOURCE_DOES_NOT_EXIST", "unknown version")
check(error_code(lambda: reader.get_run("job-nothing")) == "RESOURCE_DOES_NOT_EXIST", "unknown run")
check(
    error_code(lambda: reader.get_model_version_by_alias(MODEL, "nowhere")) == "RESOURCE_DOES_NOT_EXIST",
    "unknown alias",
)
check(
    error_code(lambda: reader.search_model_versions(filter_string="team = 'y'")) == "INVALID_PARAMETER_VALUE",
    "unsupported filter",
)

# Tokens: a wrong one is UNAUTHENTICATED; the bootstrap token (workers' registration) reads nothing.
check(error_code(lambda: client("wrong-token").get_registered_model(MODEL)) == "UNAUTHENTICATED", "wrong token")
check(
    error_code(lambda: client(os.environ["SPOTWISE_BOOTSTRAP_TOKEN"]).get_registered_model(MODEL))
    == "PERMISSION_DENIED",
    "bootstrap token reads the registry",
)
reader = client(READER)

# Aliases: a read-only token may not write; the admin's moves are recorded.
check(
    error_code(lambda: reader.set_registered_model_alias(MODEL, "mlflow-check", version.version))
    == "PERMISSION_DENIED",
    "read-only token sets an alias",
)
admin = client(ADMIN)
admin.set_registered_model_alias(MODEL, "mlflow-check", version.version)
by_alias = admin.get_model_version_by_alias(MODEL, "mlflow-check")
check(by_alias.version == version.version and "mlflow-check" in by_alias.aliases, f"by alias {by_alias}")
check(admin.get_registered_model(MODEL).aliases.get("mlflow-check") == version.version, "model aliases")
reader = client(READER)
check(
    error_code(lambda: reader.delete_registered_model_alias(MODEL, "mlflow-check")) == "PERMISSION_DENIED",
    "read-only token deletes an alias",
)
admin = client(ADMIN)
admin.delete_registered_model_alias(MODEL, "mlflow-check")
check(
    error_code(lambda: admin.get_model_version_by_alias(MODEL, "mlflow-check")) == "RESOURCE_DOES_NOT_EXIST",
    "deleted alias",
)
# Versions come only from the gate.
check(
    error_code(lambda: admin.create_model_version(MODEL, "file:///tmp/x", run_id=run_id)) == "PERMISSION_DENIED",
    "create_model_version refused",
)

print(f"mlflow-client: {checks} checks passed with MlflowClient (mlflow-skinny) against {URL}")
