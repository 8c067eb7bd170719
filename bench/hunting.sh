#!/usr/bin/env bash
# Advanced-hunting benchmark (issue 5): Ward vs SQLite vs ClickHouse on the same simulated telemetry,
# the same hunts, one run on one machine. Measurements, not tests: nothing asserts a timing.
#
#   bash bench/hunting.sh <build-dir> [--events N] [--devices D] [--runs R] [--work DIR] [--keep] [--reuse]
#
# 1. builds ward_hunting_bench; installs Debian's clickhouse-server/-client (18.16) when missing;
# 2. generates N events (default 10,000,000) from the simulator's activity model into Ward's columnar
#    store and TSV files (bench/hunting_bench.cc `generate`);
# 3. loads SQLite (tables, indexes, FTS5) and ClickHouse (MergeTree; a server started here, on
#    127.0.0.1 and free ports, with its own config and data under the work dir, stopped by its pid);
# 4. runs every hunt on every engine (warm-up, then median of up to R runs within a time budget),
#    checks that the answers agree and prints the table for docs/benchmarks.md.
# The work dir (default: a new directory under /var/tmp) is deleted at the end unless --keep.
# --reuse (with --work of a kept run) skips steps 2-3 and runs the hunts on the data already there.
set -euo pipefail
BUILD_DIR=${1:?usage: hunting.sh <build-dir> [--events N] [--devices D] [--runs R] [--work DIR] [--keep]}
shift
EVENTS=10000000 DEVICES=1000 RUNS=5 WORK="" KEEP="" REUSE=""
while [ $# -gt 0 ]; do
  case $1 in
    --events) EVENTS=$2; shift 2 ;;
    --devices) DEVICES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --reuse) REUSE=1; KEEP=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 64 ;;
  esac
done
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
BENCH="$BUILD_DIR/ward_hunting_bench"
cmake --build "$BUILD_DIR" -j2 --target ward_hunting_bench >/dev/null

if ! command -v clickhouse-client >/dev/null || [ ! -x /usr/sbin/clickhouse-server ]; then
  echo "== installing clickhouse-server and clickhouse-client (Debian) =="
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get install -y clickhouse-server clickhouse-client >/dev/null
fi

[ -n "$WORK" ] || WORK=$(mktemp -d /var/tmp/ward-hunting.XXXXXX)
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
CH_PID=""
cleanup() {
  if [ -n "$CH_PID" ]; then kill "$CH_PID" 2>/dev/null || true; wait "$CH_PID" 2>/dev/null || true; fi
  if [ -z "$KEEP" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
echo "work dir: $WORK ($(df -h --output=avail "$WORK" | tail -1 | tr -d ' ') free)"
echo "machine: $(nproc) cores, $(uptime | sed 's/.*load/load/')"

if [ -z "$REUSE" ]; then
  echo "== generate $EVENTS events, $DEVICES devices =="
  timeout 3h "$BENCH" generate --work "$WORK" --events "$EVENTS" --devices "$DEVICES"
  echo "== load SQLite =="
  timeout 4h "$BENCH" load-sqlite --work "$WORK"
fi
cat "$WORK/generate.txt"

echo "== ClickHouse =="
read -r HTTP_PORT TCP_PORT < <(/usr/bin/python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
CH="$WORK/clickhouse"
mkdir -p "$CH/data" "$CH/tmp" "$CH/log" "$CH/user_files" "$CH/format_schemas"
cp /etc/clickhouse-server/users.xml "$CH/users.xml"
cat >"$CH/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>$CH/log/server.log</log><errorlog>$CH/log/err.log</errorlog><size>100M</size><count>2</count></logger>
    <http_port>$HTTP_PORT</http_port>
    <tcp_port>$TCP_PORT</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>64</max_connections>
    <keep_alive_timeout>30</keep_alive_timeout>
    <max_concurrent_queries>16</max_concurrent_queries>
    <uncompressed_cache_size>2147483648</uncompressed_cache_size>
    <mark_cache_size>1073741824</mark_cache_size>
    <path>$CH/data/</path>
    <tmp_path>$CH/tmp/</tmp_path>
    <user_files_path>$CH/user_files/</user_files_path>
    <format_schema_path>$CH/format_schemas/</format_schema_path>
    <users_config>$CH/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
EOF
/usr/sbin/clickhouse-server --config-file="$CH/config.xml" >"$CH/log/stdout.log" 2>&1 &
CH_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP_PORT/" --data-binary 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
CHC=(clickhouse-client --host 127.0.0.1 --port "$TCP_PORT")
chq() { "${CHC[@]}" "$@"; }
echo "clickhouse $(chq --query 'SELECT version()') pid $CH_PID on 127.0.0.1:$HTTP_PORT"
if [ -z "$REUSE" ]; then
"$BENCH" clickhouse-ddl | chq --multiquery
ch_load_start=$(date +%s.%N)
for f in "$WORK"/tsv/*.tsv; do
  t=$(basename "$f" .tsv)
  s=$(date +%s.%N)
  timeout 2h "${CHC[@]}" --query "INSERT INTO $t FORMAT TabSeparated" <"$f"
  echo "  $t: $(chq --query "SELECT count() FROM $t") rows in $(echo "$(date +%s.%N) - $s" | bc) s"
done
ch_insert=$(echo "$(date +%s.%N) - $ch_load_start" | bc)
s=$(date +%s.%N)
for f in "$WORK"/tsv/*.tsv; do timeout 2h "${CHC[@]}" --query "OPTIMIZE TABLE $(basename "$f" .tsv) FINAL"; done
ch_optimize=$(echo "$(date +%s.%N) - $s" | bc)
echo "clickhouse: insert $ch_insert s, OPTIMIZE FINAL (merge to one part per day) $ch_optimize s"
fi

echo "== bytes on disk =="
printf '%-22s %14s %14s %14s\n' table ward sqlite+idx clickhouse
for t in DeviceProcessEvents DeviceNetworkEvents DeviceFileEvents DeviceLogonEvents; do
  w=$(du -sb "$WORK/ward/bench/$t" | cut -f1)
  c=$(chq --query "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND table = '$t'")
  printf '%-22s %14s %14s %14s\n' "$t" "$w" "-" "$c"
done
printf '%-22s %14s %14s %14s\n' "all (ward: every table)" "$(du -sb "$WORK/ward" | cut -f1)" "$(stat -c %s "$WORK/sqlite.db")" \
  "$(chq --query "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = 'default'")"
[ -d "$WORK/tsv" ] && echo "tsv: $(du -sb "$WORK/tsv" | cut -f1) bytes"

# The page cache should hold every engine's data for the warm figures; drop nothing (shared machine).
rm -rf "$WORK/tsv"
echo "== hunts (load before: $(uptime | sed 's/.*load average: //')) =="
timeout 3h "$BENCH" run --work "$WORK" --ch-port "$HTTP_PORT" --runs "$RUNS" || echo "(exit $?: see MISMATCH above)"
echo "load after: $(uptime | sed 's/.*load average: //')"
