#!/usr/bin/env bash
# Stops a cluster started by scripts/start-test-postgres.sh and removes its directory.
# Usage: scripts/stop-test-postgres.sh DIR   (DIR: its SPOTWISE_TEST_POSTGRES_DIR)
set -euo pipefail
dir="${1:?usage: scripts/stop-test-postgres.sh DIR (the SPOTWISE_TEST_POSTGRES_DIR it printed)}"
if [ ! -f "$dir/data/PG_VERSION" ]; then
    echo "stop-test-postgres: $dir is not a cluster from start-test-postgres.sh (no data/PG_VERSION)" >&2
    exit 1
fi
if ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
else
    pgbin=$(dirname "$(command -v pg_ctl)")
fi
run_as_postgres() {
    if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi
}
if ! run_as_postgres "$pgbin/pg_ctl -D $dir/data -w stop -m fast" >/dev/null 2>&1 &&
    run_as_postgres "$pgbin/pg_ctl -D $dir/data status" >/dev/null 2>&1; then
    echo "stop-test-postgres: the server in $dir did not stop; left it and its directory" >&2
    exit 1
fi
rm -rf "$dir"
