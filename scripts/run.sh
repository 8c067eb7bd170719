#!/usr/bin/env bash
# `make run`: initialise a data directory with a demo tenant if none exists, then serve it.
# Prints the URL and the credentials to use. Secrets are stored only as hashes, so on later runs a
# fresh client secret is issued for the demo app (older secrets keep working until they expire).
set -euo pipefail
BUILD_DIR=${1:-build}
DATA_DIR=${2:-data}
LISTEN=${3:-127.0.0.1:8443}
WARD="$BUILD_DIR/ward"
URL="http://$LISTEN"
FLEET=${FLEET:-20}
FLEET_RATE=${FLEET_RATE:-200}

if [ ! -f "$DATA_DIR/state.db" ]; then
  "$WARD" init --data-dir "$DATA_DIR" --tenant-name "Ward demo tenant" --public-url "$URL" --json > "$DATA_DIR.init.json.tmp"
  CREDS=$(cat "$DATA_DIR.init.json.tmp"); rm -f "$DATA_DIR.init.json.tmp"
  FIRST=1
else
  FIRST=0
fi

field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

if [ "$FIRST" = 1 ]; then
  TENANT=$(field "$CREDS" tenantId); CLIENT=$(field "$CREDS" clientId); SECRET=$(field "$CREDS" clientSecret)
  ADMIN=$(field "$CREDS" adminUser); PASSWORD=$(field "$CREDS" adminPassword)
else
  TENANT=$("$WARD" admin tenants list --data-dir "$DATA_DIR" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
  CLIENT=$("$WARD" admin apps list --data-dir "$DATA_DIR" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[0]['clientId'])")
  SECRET=$("$WARD" admin apps add-secret --data-dir "$DATA_DIR" --app "$CLIENT" --days 30 | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['clientSecret'])")
  ADMIN="admin@ward.local"
  PASSWORD="(shown at first start; reset with: $WARD admin users set-password --data-dir $DATA_DIR --upn $ADMIN)"
fi

cat <<MSG

  Ward is starting at $URL   (data: $DATA_DIR)

  Portal:         open $URL/ in a browser and sign in as $ADMIN

  Tenant id:      $TENANT
  Client id:      $CLIENT
  Client secret:  $SECRET
  Admin user:     $ADMIN
  Admin password: $PASSWORD

  Get a token and call the API:
    TOKEN=\$(curl -s -X POST $URL/$TENANT/oauth2/token \\
      -d grant_type=client_credentials -d resource=https://api.securitycenter.microsoft.com \\
      -d client_id=$CLIENT -d client_secret='$SECRET' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -s $URL/api/machines -H "Authorization: Bearer \$TOKEN"

  A real sensor watches this host and a simulated fleet of $FLEET devices sends telemetry:
    curl -s $URL/api/machines -H "Authorization: Bearer \$TOKEN"
    curl -s "$URL/api/machines/<id>/timeline?table=DeviceProcessEvents" -H "Authorization: Bearer \$TOKEN"

MSG

# The server runs in the background so the sensors can start once it answers; Ctrl-C stops all three.
"$WARD" server --data-dir "$DATA_DIR" --listen "$LISTEN" &
SERVER=$!
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  kill "$SERVER" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT
for _ in $(seq 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done

SENSOR="$BUILD_DIR/ward-sensor"
PACKAGE="$DATA_DIR/WardOnboarding.sh"
"$WARD" admin onboarding-package --data-dir "$DATA_DIR" --server-url "$URL" --out "$PACKAGE" >/dev/null
mkdir -p "$DATA_DIR/sensor" "$DATA_DIR/fleet"
"$SENSOR" --onboarding "$PACKAGE" --state-dir "$DATA_DIR/sensor" >"$DATA_DIR/sensor.log" 2>&1 &
PIDS+=($!)
"$SENSOR" simulate --onboarding "$PACKAGE" --devices "$FLEET" --rate "$FLEET_RATE" --state-dir "$DATA_DIR/fleet" \
  >"$DATA_DIR/fleet.log" 2>&1 &
PIDS+=($!)
wait "$SERVER"
