#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests: Debian's PostgreSQL 15 binaries, a cluster in <dir>,
# listening on a free 127.0.0.1 port and on a unix socket inside <dir>, durability off (fsync,
# synchronous_commit) because the data dies with the test.
#
#   postgres_server.sh start <dir>   creates <dir> (its parent must be searchable by the server's
#                                    user), starts the server, prints its URL
#                                    (postgresql://ward@127.0.0.1:<port>/postgres) and writes it to <dir>/url
#   postgres_server.sh stop <dir>    stops the server started in <dir> (only that one) and removes <dir>
#
# With WARD_PG_OWNER_PID=<pid> set at start, a watchdog stops the server once that process has
# exited, so a test binary that crashes before `stop` leaves no server behind.
#
# initdb and postgres refuse to run as root, so as root they run as `nobody` (the cluster owned by
# it); otherwise as the current user. Exit status 2: the PostgreSQL binaries are not installed
# (WARD_PG_BIN overrides their directory).
set -euo pipefail

usage() { echo "usage: $0 start|stop <dir>" >&2; exit 64; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$(realpath -m "$2")
bin=${WARD_PG_BIN:-/usr/lib/postgresql/15/bin}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  if [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
    echo "postgres_server: no PostgreSQL binaries in $bin (apt-get install postgresql)" >&2
    exit 2
  fi
  if [ -e "$dir/data/postmaster.pid" ]; then
    echo "postgres_server: a server already runs in $dir" >&2
    exit 1
  fi
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown nobody:nogroup "$dir"
    if ! setpriv --reuid=nobody --regid=nogroup --clear-groups -- test -w "$dir"; then
      echo "postgres_server: $dir is not reachable by user nobody (a parent directory is not searchable)" >&2
      exit 1
    fi
  fi
  as_owner "$bin/initdb" -D "$dir/data" -U ward --auth=trust -E UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  as_owner mkdir -p "$dir/socket"
  # Another process may take the port between free_port and the server's bind: try a few.
  local attempt port
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -s \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/socket -c fsync=off -c synchronous_commit=off \
            -c full_page_writes=off -c max_connections=200" start; then
      echo "postgresql://ward@127.0.0.1:$port/postgres" | tee "$dir/url"
      if [ -n "${WARD_PG_OWNER_PID:-}" ]; then
        # Detached from the caller's pipes, so a caller reading our output sees it end now.
        setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -d "$3" ]; do sleep 1; done
                        [ -d "$3" ] && bash "$2" stop "$3"' \
          watchdog "$WARD_PG_OWNER_PID" "$(realpath "$0")" "$dir" </dev/null >/dev/null 2>&1 &
      fi
      return 0
    fi
  done
  tail -20 "$dir/server.log" >&2 || true
  exit 1
}

stop() {
  local pidfile="$dir/data/postmaster.pid"
  if [ -f "$pidfile" ]; then
    local pid
    pid=$(head -1 "$pidfile")
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -s stop 2>/dev/null; then
      # pg_ctl missing or failed: signal the postmaster this directory names, if that pid still is
      # a postgres serving this directory (not a process that reused the pid), and nothing else.
      if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-D $dir/data"; then
        kill -QUIT "$pid" 2>/dev/null || true
      fi
    fi
  fi
  rm -rf "$dir"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
