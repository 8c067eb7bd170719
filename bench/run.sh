#!/usr/bin/env bash
# Benchmarks for docs/benchmarks.md. Measurements, not tests: nothing here asserts a timing.
#  1. Token validation per second per core (Google Benchmark, bench/token_validation_bench.cc).
#  2. Authenticated GET requests per second with wrk on loopback (keep-alive, 64 connections),
#     server pinned to core 0 and wrk to core 1, p50/p99 latency from wrk --latency.
#  3. Event log appends (bench/event_log_bench.cc) and columnar store append/scan
#     (bench/columnar_store_bench.cc), Google Benchmark.
#  4. Sustained durable ingest with wrk (bench/ingest.sh) and the sensor's CPU and memory at 100
#     process starts per second (bench/sensor_overhead.py).
set -euo pipefail
BUILD_DIR=${1:-build}
DURATION=${DURATION:-10}
WARD="$BUILD_DIR/ward"
cmake --build "$BUILD_DIR" -j2 --target ward ward-sensor ward_token_bench ward_event_log_bench ward_columnar_bench ward_detection_bench >/dev/null

echo "== token validation (one core) =="
taskset -c 0 "$BUILD_DIR/ward_token_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
CREDS=$("$WARD" init --data-dir "$WORK/data" --json)
field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
TENANT=$(field "$CREDS" tenantId); CLIENT=$(field "$CREDS" clientId); SECRET=$(field "$CREDS" clientSecret)
MACHINE=$("$WARD" admin machines register --data-dir "$WORK/data" --name bench-host-01 --tags bench | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['id'])")
PORT=$(/usr/bin/python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")

run_wrk() {  # label threads path [auth] [shared]
  local label=$1 threads=$2 path=$3 auth=${4:-} shared=${5:-}
  local server_cpus=0 wrk_cpus=1 wrk_threads=1 layout="server 1 core ($threads thread), wrk -t1 on the other core"
  if [ -n "$shared" ]; then
    server_cpus=0,1 wrk_cpus=0,1 wrk_threads=2 layout="server $threads threads and wrk -t2 sharing both cores"
  fi
  taskset -c "$server_cpus" "$WARD" server --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --threads "$threads" --no-rate-limits \
    >/dev/null 2>"$WORK/server.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  local header=()
  if [ -n "$auth" ]; then
    TOKEN=$(curl -s -X POST "http://127.0.0.1:$PORT/$TENANT/oauth2/token" -d grant_type=client_credentials \
      -d resource=https://api.securitycenter.microsoft.com -d client_id="$CLIENT" --data-urlencode client_secret="$SECRET" |
      /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    header=(-H "Authorization: Bearer $TOKEN")
    curl -sf "${header[@]}" "http://127.0.0.1:$PORT$path" >/dev/null
  fi
  echo "== $label: GET $path, $layout, wrk -c64 -d${DURATION}s =="
  taskset -c "$wrk_cpus" wrk -t"$wrk_threads" -c64 -d"${DURATION}s" --latency "${header[@]}" "http://127.0.0.1:$PORT$path" |
    grep -E "Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}

run_wrk "unauthenticated baseline" 1 /healthz
run_wrk "authenticated machine lookup" 1 "/api/machines/$MACHINE" auth
run_wrk "authenticated machine list" 1 "/api/machines" auth
run_wrk "authenticated machine lookup, whole machine" 2 "/api/machines/$MACHINE" auth shared

echo "== event log (one core) =="
taskset -c 0 "$BUILD_DIR/ward_event_log_bench"
echo "== columnar store =="
"$BUILD_DIR/ward_columnar_bench"
DURATION=15 bash "$(dirname "$0")/ingest.sh" "$BUILD_DIR"
echo "== sensor overhead at 100 process starts/s =="
/usr/bin/python3 "$(dirname "$0")/sensor_overhead.py" --sensor "$BUILD_DIR/ward-sensor" --rate 100 --seconds 20
echo "== detection throughput (one core) =="
taskset -c 0 "$BUILD_DIR/ward_detection_bench"
echo "== detection delay =="
bash "$(dirname "$0")/detection_delay.sh" "$BUILD_DIR"
DEVICES=100000 bash "$(dirname "$0")/investigation.sh" "$BUILD_DIR"
