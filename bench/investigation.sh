#!/usr/bin/env bash
# Investigation API against a large fleet: enrols DEVICES virtual devices with `ward-sensor simulate`
# (real enrolment, then a few seconds of telemetry so profiles fill), then measures with wrk
# (keep-alive, 64 connections, server and wrk sharing the two cores):
#   1. GET /api/machines/{id} over random devices (single-object reads),
#   2. GET /api/machines?$filter=healthStatus eq 'Active'&$top=100 (a broad filter: the first page),
#   3. GET /api/machines?$filter=startswith(computerDnsName,'<one device>')&$top=100 (a selective filter
#      that has to look at every device).
set -euo pipefail
BUILD_DIR=${1:-build}
DEVICES=${DEVICES:-100000}
DURATION=${DURATION:-10}
WARD="$BUILD_DIR/ward"
SENSOR="$BUILD_DIR/ward-sensor"
WORK=$(mktemp -d)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

CREDS=$("$WARD" init --data-dir "$WORK/data" --json)
TENANT=$(field "$CREDS" tenantId); CLIENT=$(field "$CREDS" clientId); SECRET=$(field "$CREDS" clientSecret)
PORT=$(/usr/bin/python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
BASE="http://127.0.0.1:$PORT"
"$WARD" server --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --threads 2 --no-rate-limits >/dev/null 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
"$WARD" admin onboarding-package --data-dir "$WORK/data" --server-url "$BASE" --out "$WORK/pkg.sh" >/dev/null
START=$(date +%s.%N)
"$SENSOR" simulate --onboarding "$WORK/pkg.sh" --devices "$DEVICES" --rate 5000 --duration 5 --state-dir "$WORK/fleet" \
  >"$WORK/sim.json" 2>"$WORK/sim.log"
END=$(date +%s.%N)
echo "== $DEVICES devices enrolled and reporting in $(/usr/bin/python3 -c "print('%.0f' % ($END - $START))") s: $(tail -1 "$WORK/sim.json") =="
TOKEN=$(curl -s -X POST "$BASE/$TENANT/oauth2/token" -d grant_type=client_credentials \
  -d resource=https://api.securitycenter.microsoft.com -d client_id="$CLIENT" --data-urlencode client_secret="$SECRET" |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# Every device id, by paging the API itself.
/usr/bin/python3 - "$BASE" "$TOKEN" "$WORK/ids.txt" <<'PY'
import sys, requests
base, token, out = sys.argv[1:]
url, ids = f"{base}/api/machines?$select=id,computerDnsName&$top=10000", []
while url:
    page = requests.get(url, headers={"Authorization": f"Bearer {token}"}).json()
    ids += [m["id"] for m in page["value"]]
    url = page.get("@odata.nextLink")
open(out, "w").write("\n".join(ids) + "\n")
print(f"listed {len(ids)} devices through @odata.nextLink")
PY
ONE=$(head -1 "$WORK/ids.txt")
NAME=$(curl -s "$BASE/api/machines/$ONE" -H "Authorization: Bearer $TOKEN" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["computerDnsName"])')
run() {  # label, then wrk arguments
  local label=$1; shift
  echo "== $label, wrk -t2 -c64 -d${DURATION}s =="
  wrk -t2 -c64 -d"${DURATION}s" --latency "$@" | grep -E "Requests/sec|Latency  |50%|99%|Non-2xx"
}
IDS_FILE="$WORK/ids.txt" WARD_TOKEN="$TOKEN" run "GET /api/machines/{id}, random device of $DEVICES" \
  -s "$(dirname "$0")/machines_get.lua" "$BASE"
run "GET /api/machines?\$filter=healthStatus eq 'Active'&\$top=100" -H "Authorization: Bearer $TOKEN" \
  "$BASE/api/machines?\$filter=healthStatus+eq+'Active'&\$top=100"
run "GET /api/machines?\$filter=startswith(computerDnsName,'$NAME')&\$top=100 (scans all $DEVICES)" \
  -H "Authorization: Bearer $TOKEN" "$BASE/api/machines?\$filter=startswith(computerDnsName,'$NAME')&\$top=100"
