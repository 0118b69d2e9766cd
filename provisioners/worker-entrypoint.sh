#!/bin/sh
# Starts `spotwise worker` in a provider's container from the environment the provisioner set
# (SageMaker: the training job's Environment; Vertex: the worker pool's env; Modal: the function's).
set -eu
: "${SPOTWISE_COORDINATOR_URL:?the provisioner sets SPOTWISE_COORDINATOR_URL}"
: "${SPOTWISE_BOOTSTRAP_TOKEN:?the provisioner sets SPOTWISE_BOOTSTRAP_TOKEN}"
set -- --coordinator "$SPOTWISE_COORDINATOR_URL" \
    --name "${SPOTWISE_WORKER_NAME:-$(hostname)}" \
    --provider "${SPOTWISE_PROVIDER:-sagemaker}" \
    --region "${SPOTWISE_REGION:-unknown}" \
    --market "${SPOTWISE_MARKET:-spot}" \
    --instance-type "${SPOTWISE_INSTANCE_TYPE:-unknown}" \
    --price "${SPOTWISE_PRICE:-0}" \
    --on-demand-price "${SPOTWISE_ON_DEMAND_PRICE:-0}" \
    --notice-seconds "${SPOTWISE_NOTICE_SECONDS:-120}" \
    --exit-after-attempt \
    --idle-exit-seconds "${SPOTWISE_IDLE_EXIT_SECONDS:-600}" \
    --work-dir /tmp/spotwise-worker \
    --job-root /opt/spotwise
# Spot notices: SageMaker and Modal send SIGTERM (the agent's own watcher); GCE (Vertex) also
# answers the metadata server's instance/preempted.
if [ "${SPOTWISE_PROVIDER:-}" = "vertex" ]; then
    set -- "$@" --gce-metadata-url http://metadata.google.internal
fi
exec spotwise worker "$@"
