#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on loopback (trust authentication, socket in its own
# directory) and prints the variables to use it:
#   SPOTWISE_TEST_POSTGRES_URL   postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
#   SPOTWISE_TEST_POSTGRES_PORT  the port
#   SPOTWISE_TEST_POSTGRES_DIR   the cluster's directory; scripts/stop-test-postgres.sh DIR stops it
# PORT defaults to a free one. Installs Debian's postgresql with apt first if it is missing (as
# root). As root the server runs as the postgres user (initdb refuses root).
# Usage: vars=$(scripts/start-test-postgres.sh [PORT]) && eval "$vars"
set -euo pipefail
port="${1:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
    if [ "$(id -u)" != 0 ]; then
        echo "start-test-postgres: PostgreSQL is not installed; install it (Debian: apt-get install postgresql) or run as root" >&2
        exit 1
    fi
    echo "start-test-postgres: installing postgresql (apt)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
if ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
else
    pgbin=$(dirname "$(command -v initdb)")
fi
dir=$(mktemp -d /tmp/spotwise-pg.XXXXXX)
run_as_postgres() {
    if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$dir"
if ! run_as_postgres "$pgbin/initdb -D $dir/data -U postgres --auth=trust -E UTF8" >"$dir/initdb.log" 2>&1 ||
    ! run_as_postgres "$pgbin/pg_ctl -D $dir/data -l $dir/log -w -o \"-c listen_addresses=127.0.0.1 -c max_connections=300 -p $port -k $dir\" start" >&2; then
    echo "start-test-postgres: PostgreSQL did not start on 127.0.0.1:$port; its logs:" >&2
    tail -n 20 "$dir/initdb.log" "$dir/log" >&2 2>/dev/null || true
    run_as_postgres "$pgbin/pg_ctl -D $dir/data stop -m immediate" >/dev/null 2>&1 || true
    rm -rf "$dir"
    exit 1
fi
echo "export SPOTWISE_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable'"
echo "export SPOTWISE_TEST_POSTGRES_PORT=$port"
echo "export SPOTWISE_TEST_POSTGRES_DIR=$dir"
