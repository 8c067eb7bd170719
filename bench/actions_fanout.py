"""One bulk action to N simulated devices (bench/actions.sh): enrol a fleet with `ward-sensor simulate`,
POST /api/machineactions/bulk, and time until every action is Succeeded (listing /api/machineactions)."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import requests

build, devices = sys.argv[1], int(sys.argv[2])
ward, sensor = os.path.join(build, "ward"), os.path.join(build, "ward-sensor")
work = tempfile.mkdtemp(prefix="ward-fanout-")
creds = json.loads(subprocess.run([ward, "init", "--data-dir", f"{work}/data", "--json"], check=True,
                                  capture_output=True, text=True).stdout)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = subprocess.Popen([ward, "server", "--data-dir", f"{work}/data", "--listen", f"127.0.0.1:{port}", "--no-rate-limits"],
                          stdout=subprocess.DEVNULL, stderr=open(f"{work}/server.log", "w"))
base = f"http://127.0.0.1:{port}"
sim = None
try:
    for _ in range(100):
        try:
            if requests.get(base + "/healthz").status_code == 200:
                break
        except OSError:
            time.sleep(0.1)
    subprocess.run([ward, "admin", "onboarding-package", "--data-dir", f"{work}/data", "--server-url", base,
                    "--out", f"{work}/pkg.sh"], check=True, capture_output=True)
    token = requests.post(f"{base}/{creds['tenantId']}/oauth2/token", data={
        "grant_type": "client_credentials", "resource": "https://api.securitycenter.microsoft.com",
        "client_id": creds["clientId"], "client_secret": creds["clientSecret"]}).json()["access_token"]
    auth = {"Authorization": "Bearer " + token}
    t0 = time.time()
    sim = subprocess.Popen([sensor, "simulate", "--onboarding", f"{work}/pkg.sh", "--devices", str(devices), "--rate", "200",
                            "--duration", "3600", "--state-dir", f"{work}/fleet", "--action-failures", "0"],
                           stdout=subprocess.PIPE, stderr=open(f"{work}/sim.log", "w"))
    ids_file = f"{work}/fleet/sim-identities.json"
    while not os.path.exists(ids_file):
        time.sleep(0.5)
        assert sim.poll() is None, open(f"{work}/sim.log").read()[-2000:]
    ids = [d["deviceId"] for d in json.load(open(ids_file))["devices"].values()]
    print(f"enrolled {len(ids)} devices in {time.time() - t0:.1f}s")
    t0 = time.time()
    r = requests.post(base + "/api/machineactions/bulk", headers=auth, timeout=600,
                      json={"Type": "RunAntiVirusScan", "ScanType": "Quick", "Comment": "bench", "MachineIds": ids})
    created = r.json()["value"]
    t_created = time.time() - t0
    pending = {a["id"] for a in created}
    while pending:
        page = requests.get(base + "/api/machineactions?$filter=status eq 'Succeeded'&$top=10000", headers=auth,
                            timeout=600).json()["value"]
        pending -= {a["id"] for a in page}
        if time.time() - t0 > 600:
            break
        time.sleep(0.5)
    total = time.time() - t0
    print(json.dumps({"devices": len(ids), "created": len(created), "errors": len(r.json()["errors"]),
                      "create_s": round(t_created, 1), "all_succeeded_s": round(total, 1), "not_done": len(pending)}))
finally:
    if sim:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=120)
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)
