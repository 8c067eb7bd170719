#!/usr/bin/env bash
# Sustained durable ingest: wrk posts zstd NDJSON batches of 1,000 events (bench/make_batch.py) to
# /sensor/v1/events, each with a unique batch id, against a server on the same 2-core machine.
# Every 200 response means the batch is in the fsync'ed event log. Prints events/s, MB/s and the
# acknowledgement latency, then bytes on disk per event after the store seals.
set -euo pipefail
BUILD_DIR=${1:-build}
DURATION=${DURATION:-15}
THREADS=${SERVER_THREADS:-8}
CONNECTIONS=${CONNECTIONS:-32}
EVENTS=${BATCH_EVENTS:-1000}
WARD="$BUILD_DIR/ward"
WORK=$(mktemp -d); echo "work dir: $WORK" >&2
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT

CREDS=$("$WARD" init --data-dir "$WORK/data" --json)
PORT=$(/usr/bin/python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
"$WARD" server --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --threads "$THREADS" --no-rate-limits \
  >/dev/null 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
"$WARD" admin onboarding-package --data-dir "$WORK/data" --server-url "http://127.0.0.1:$PORT" --out "$WORK/pkg.sh" >/dev/null
AUTH=$(/usr/bin/python3 - "$WORK/pkg.sh" "$PORT" <<'PY'
import json, sys, requests
line = next(l for l in open(sys.argv[1]) if l.startswith("# WARD-ONBOARDING-INFO: "))
info = json.loads(line.split(": ", 1)[1])
r = requests.post(f"http://127.0.0.1:{sys.argv[2]}/sensor/v1/enroll", json={"onboardingInfo": info, "device": {
    "hostId": "bench-host-0000000001", "computerDnsName": "bench-01.corp.local", "osPlatform": "Linux"}}).json()
print(f"WardDevice {r['deviceId']}:{r['credential']}")
PY
)
/usr/bin/python3 "$(dirname "$0")/make_batch.py" "$EVENTS" "$WORK/batch.ndjson"
zstd -q -1 "$WORK/batch.ndjson" -o "$WORK/batch.zst"
RAW_BYTES=$(stat -c %s "$WORK/batch.ndjson")
ZST_BYTES=$(stat -c %s "$WORK/batch.zst")
echo "== durable ingest: $EVENTS events/batch (${RAW_BYTES} B NDJSON, ${ZST_BYTES} B zstd), server $THREADS threads, wrk -t2 -c$CONNECTIONS -d${DURATION}s, same 2 cores =="
OUT=$(BATCH_FILE="$WORK/batch.zst" WARD_AUTH="$AUTH" BATCH_EVENTS="$EVENTS" \
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$(dirname "$0")/ingest_post.lua" "http://127.0.0.1:$PORT")
echo "$OUT" | grep -E "^batches|^events/s|^ack latency"
EPS=$(echo "$OUT" | awk '/^events\/s/ {print $2}')
/usr/bin/python3 -c "print('uncompressed NDJSON MB/s: %.1f' % ($EPS * $RAW_BYTES / $EVENTS / 1e6))"
# The columnar store is fed from the log by its own consumer; measure how long it takes to catch up.
ACCEPTED=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^ward_ingest_events_total.*outcome="accepted"/ {s += $2} END {printf "%d", s}')
/usr/bin/python3 - "$PORT" "$ACCEPTED" <<'PY'
import re, sys, time, urllib.request
port, accepted = sys.argv[1], int(sys.argv[2])
def stored():
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    return sum(float(m) for m in re.findall(r"^ward_store_rows_total(?:\{[^}]*\})? (\S+)$", text, re.M))
start, first = time.time(), stored()
while stored() < accepted and time.time() - start < 300:
    time.sleep(0.2)
done, secs = stored(), time.time() - start
print("store writer: %d of %d accepted rows applied when ingest stopped; caught up in %.1f s (%.0f rows/s alone)"
      % (first, accepted, secs, (done - first) / max(secs, 1e-9)))
PY
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
ROWS=$("$WARD" admin events stats --data-dir "$WORK/data" | /usr/bin/python3 -c "import json,sys; print(sum(t['rows'] for t in json.load(sys.stdin).values()))")
STORE=$(du -sb "$WORK/data/events/store" | cut -f1)
LOG=$(du -sb "$WORK/data/events/log" | cut -f1)
/usr/bin/python3 -c "print('stored rows: %d; columnar store %.1f B/event (every batch is the same 1,000 events, so this compresses unrealistically well; see the columnar benchmark for varied data), event log %.1f B/event' % ($ROWS, $STORE / max($ROWS,1), $LOG / max($ROWS,1)))"
