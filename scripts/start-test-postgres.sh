#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on loopback for the state store tests and prints the URL
# to use as SPOTWISE_TEST_POSTGRES_URL. Installs Debian's postgresql first if it is missing.
# Usage: eval "$(scripts/start-test-postgres.sh [PORT])"
set -euo pipefail
port="${1:-55432}"
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    echo "installing postgresql (apt)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=$(mktemp -d /tmp/spotwise-pg.XXXXXX)
run_as_postgres() {
    if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$dir"
run_as_postgres "$pgbin/initdb -D $dir/data -U postgres --auth=trust -E UTF8" >/dev/null
run_as_postgres "$pgbin/pg_ctl -D $dir/data -l $dir/log -w -o \"-c listen_addresses=127.0.0.1 -p $port -k $dir\" start" >&2
echo "export SPOTWISE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
echo "export SPOTWISE_TEST_POSTGRES_DIR=$dir"
