#!/usr/bin/env bash
# A throwaway ClickHouse server for tests, bound to 127.0.0.1 on free ports, with all of its state
# (data, logs, config, pid) inside <dir>.
#   clickhouse_server.sh start <dir>   starts it, waits until it answers, prints its HTTP URL
#   clickhouse_server.sh stop <dir>    stops the server started in <dir> (only that pid)
# With WARD_CLICKHOUSE_OWNER_PID=<pid> set at start, a watcher stops the server when that process
# is gone, so a test binary that is killed (or dies before its cleanup) leaves no server behind.
# Exit status 2 means clickhouse-server is not installed (callers may skip).
set -euo pipefail
cmd="${1:-}"
dir="${2:-}"
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop <dir>" >&2; exit 64; }

find_server() {
  for c in clickhouse-server /usr/sbin/clickhouse-server /usr/bin/clickhouse-server; do
    if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return 0; fi
  done
  if command -v clickhouse >/dev/null 2>&1; then echo "$(command -v clickhouse) server"; return 0; fi
  return 1
}

# A port nobody listens on now (the kernel picks it; another process could take it before the
# server binds, in which case start fails and the caller may retry).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

stop() {
  local pidfile="$dir/clickhouse.pid"
  [ -f "$pidfile" ] || return 0
  local pid
  pid="$(cat "$pidfile")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

start() {
  local server
  server="$(find_server)" || { echo "clickhouse-server is not installed" >&2; exit 2; }
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
  dir="$(cd "$dir" && pwd)"
  local http_port tcp_port
  http_port="$(free_port)"
  tcp_port="$(free_port)"
  while [ "$tcp_port" = "$http_port" ]; do tcp_port="$(free_port)"; done
  cat >"$dir/config.xml" <<XML
<yandex>
  <logger><level>warning</level><log>$dir/log/server.log</log><errorlog>$dir/log/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$http_port</http_port>
  <tcp_port>$tcp_port</tcp_port>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>32</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
</yandex>
XML
  cat >"$dir/users.xml" <<XML
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage><max_threads>2</max_threads></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
  local -a runas=()
  if [ "$(id -u)" = 0 ]; then
    # ClickHouse may refuse to run as root; run it as nobody with the directory handed over.
    chown -R nobody:nogroup "$dir"
    runas=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  fi
  # shellcheck disable=SC2086
  (cd "$dir" && exec "${runas[@]}" $server --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1) &
  echo $! >"$dir/clickhouse.pid"
  local url="http://127.0.0.1:$http_port/"
  for _ in $(seq 1 300); do
    if curl -sf "${url}ping" >/dev/null 2>&1; then
      local owner="${WARD_CLICKHOUSE_OWNER_PID:-}"
      if [ -n "$owner" ]; then
        # Detached from our stdout, so the caller's read of the URL ends when we exit.
        (
          while kill -0 "$owner" 2>/dev/null && [ -f "$dir/clickhouse.pid" ]; do sleep 1; done
          "$0" stop "$dir"
        ) </dev/null >/dev/null 2>&1 &
      fi
      echo "$url"
      return 0
    fi
    if ! kill -0 "$(cat "$dir/clickhouse.pid")" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "clickhouse-server did not start; see $dir/log" >&2
  tail -n 20 "$dir/log/stdout.log" "$dir/log/error.log" >&2 2>/dev/null || true
  stop
  exit 1
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop <dir>" >&2; exit 64 ;;
esac
