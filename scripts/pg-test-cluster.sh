#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for caplet's tests, on a temporary
# directory and a loopback port, never the system's.
#
#   scripts/pg-test-cluster.sh init DIR PORT  # create and start; prints the URL
#   scripts/pg-test-cluster.sh stop DIR       # stop (fast: clients are cut off)
#   scripts/pg-test-cluster.sh start DIR      # start again, same port
#
# PostgreSQL refuses to run as root: as root, the cluster belongs to the
# `postgres` user (made by Debian's package) and every command runs as it.
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "pg-test-cluster: no PostgreSQL under /usr/lib/postgresql/*/bin" >&2
    exit 1
fi

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cmd=${1:?usage: pg-test-cluster.sh init DIR PORT | stop DIR | start DIR}
dir=${2:?the cluster directory}
case "$cmd" in
init)
    port=${3:?the port}
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
    fi
    as_owner "$bin/initdb" --pgdata="$dir/data" --username=caplet --auth=trust \
        --no-sync --encoding=UTF8 --locale=C >"$dir/initdb.log"
    # Loopback only, the socket in the cluster's own directory.
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
CONF
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait start >/dev/null
    as_owner "$bin/createdb" --host=127.0.0.1 --port="$port" --username=caplet caplet_test
    echo "postgres://caplet@127.0.0.1:$port/caplet_test"
    ;;
stop)
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait stop >/dev/null
    ;;
start)
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait start >/dev/null
    ;;
*)
    echo "pg-test-cluster: unknown command $cmd" >&2
    exit 2
    ;;
esac
