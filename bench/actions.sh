#!/usr/bin/env bash
# Machine-action figures (docs/benchmarks.md, "Response actions"):
#   1. round trip, API call → Succeeded, of isolate/unisolate on an online real sensor that applies
#      the nftables table for real — inside network/mount namespaces (tests/e2e/ns_response_scenario.py);
#   2. fan-out of one bulk action (POST /api/machineactions/bulk) to DEVICES simulated devices: time
#      until every MachineAction is Succeeded.
set -euo pipefail
BUILD_DIR=$(cd "${1:-build}" && pwd)
ROUNDS=${ROUNDS:-100}
DEVICES=${DEVICES:-10000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
echo "== isolate round trip ($ROUNDS rounds)"
WARD_BIN="$BUILD_DIR/ward" unshare --net --mount --propagation private --fork \
  /usr/bin/python3 "$ROOT/tests/e2e/ns_response_scenario.py" --bench "$ROUNDS" | tail -1
echo "== bulk fan-out to $DEVICES simulated devices"
/usr/bin/python3 "$ROOT/bench/actions_fanout.py" "$BUILD_DIR" "$DEVICES"
