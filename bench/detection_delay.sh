#!/usr/bin/env bash
# Delay from a batch's acknowledgement to its alert: a simulated fleet (a share of it deliberately
# suspicious) sends telemetry to a server, then the server's ward_detection_delay_seconds histogram
# (arrival of the batch in the log → alert stored) is read from /metrics.
set -euo pipefail
BUILD_DIR=${1:-build}
DEVICES=${DEVICES:-50}
RATE=${RATE:-5000}
DURATION=${DURATION:-20}
WARD="$BUILD_DIR/ward"
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
"$WARD" init --data-dir "$WORK/data" --json >/dev/null
PORT=$(/usr/bin/python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
"$WARD" server --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --no-rate-limits >/dev/null 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
"$WARD" admin onboarding-package --data-dir "$WORK/data" --server-url "http://127.0.0.1:$PORT" --out "$WORK/pkg.sh" >/dev/null
"$BUILD_DIR/ward-sensor" simulate --onboarding "$WORK/pkg.sh" --devices "$DEVICES" --rate "$RATE" --duration "$DURATION" \
  --suspicious 0.02 --state-dir "$WORK/fleet" 2>"$WORK/sim.log" | tail -1
grep -h "refused" "$WORK/sim.log" | head -3 || true
sleep 2
curl -s "http://127.0.0.1:$PORT/metrics" | /usr/bin/python3 -c '
import re, sys
text = sys.stdin.read()
buckets = [(float(le), float(n)) for le, n in re.findall(r"ward_detection_delay_seconds_bucket\{le=\"([0-9.e+]+)\"\} (\S+)", text)]
total = float(re.search(r"ward_detection_delay_seconds_count (\S+)", text).group(1))
det = dict(re.findall(r"ward_detections_total\{outcome=\"(\w+)\"\} (\S+)", text))
def q(p):
    for le, n in buckets:
        if n >= p * total: return "<= %g s" % le
    return "> %g s" % buckets[-1][0]
print("detections %s; alerts written %d; delay p50 %s, p99 %s" % (det, total, q(0.5), q(0.99)))'
