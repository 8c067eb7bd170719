"""Streaming figures (docs/benchmarks.md, "Streaming"): measurements, not tests.

1. Throughput: N process events are ingested first (timed: the ingest rate they came in at), then a
   configuration with replayFrom before them streams the whole log to one destination (Kafka mock,
   Azurite); the time until the destination has confirmed all of them gives records per second.
2. Latency to Kafka: a sensor sends a batch of 10 events every 20 ms; a kcat consumer timestamps each
   message as it becomes readable; latency = readable time - the time the batch was acknowledged.

Usage: python3 bench/streaming.py BUILD_DIR [N]"""
import json
import os
import subprocess
import sys
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
os.environ["WARD_BIN"] = os.path.join(build, "ward")
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import pathlib  # noqa: E402
import tempfile  # noqa: E402

from conftest import Ward  # noqa: E402
from sensor_helpers import FakeSensor, onboarding_info  # noqa: E402
from test_streaming import Azurite, KafkaMock, config_status  # noqa: E402

work = pathlib.Path(tempfile.mkdtemp(prefix="ward-stream-bench-"))
w = Ward(work / "ward", tls=False, config={"rateLimits": {"enabled": False}})
w.start()
kafka = KafkaMock(work)
az = Azurite(work).start()
token = w.app_token()
sensor = FakeSensor(w, onboarding_info(w, token))
sensor.enroll()


def batch(n, marker):
    return [sensor.event("DeviceProcessEvents", DeviceId=sensor.device_id, DeviceName=sensor.name, ActionType="ProcessCreated",
                         FileName=f"{marker}-{i}", FolderPath="/usr/bin", ProcessCommandLine=f"/usr/bin/tool --n {i} --x y",
                         AccountName="root", InitiatingProcessFileName="bash", SHA256="a" * 64) for i in range(n)]


def drain(name, destination):
    body = {"name": name, "eventTypes": ["AdvancedHunting-DeviceProcessEvents"], "replayFrom": since, "destinations": [destination]}
    r = w.post("/api/streaming/configurations", token, json=body)
    assert r.status_code == 201, r.text
    t0 = time.time()
    while True:
        d = config_status(w, token, r.json()["id"])["destinations"]
        if d and d[0]["deliveredRecords"] >= N:
            break
        time.sleep(0.05)
    elapsed = time.time() - t0
    w.request("DELETE", f"/api/streaming/configurations/{r.json()['id']}", token)
    print(f"{name}: {N} records in {elapsed:.2f} s = {N / elapsed:,.0f} records/s (failures {d[0]['failedDeliveries']})")


try:
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1)) + "Z"
    t0 = time.time()
    for b in range(N // 1000):
        assert sensor.send(batch(1000, f"t{b}")).status_code == 200
    ingest = time.time() - t0
    print(f"ingest: {N} events in {ingest:.2f} s = {N / ingest:,.0f} events/s (one sensor, batches of 1000)")
    drain("kafka", {"name": "kafka", "type": "Kafka", "bootstrapServers": kafka.bootstrap})
    drain("azurite", {"name": "azure", "type": "AzureBlob", "connectionString": az.connection_string})

    # Latency to Kafka.
    r = w.post("/api/streaming/configurations", token, json={
        "name": "latency", "eventTypes": ["AdvancedHunting-DeviceProcessEvents"],
        "destinations": [{"name": "kafka", "type": "Kafka", "bootstrapServers": kafka.bootstrap, "topic": "latency", "lingerMs": 1}]})
    assert r.status_code == 201, r.text
    seen = {}
    consumer = subprocess.Popen(["kcat", "-b", kafka.bootstrap, "-C", "-t", "latency", "-o", "end", "-u", "-q"],
                                stdout=subprocess.PIPE, text=True)

    def read():
        for line in consumer.stdout:
            now = time.time()
            try:
                for rec in json.loads(line)["records"]:
                    seen.setdefault(rec["properties"]["FileName"].rsplit("-", 1)[0], now)
            except (ValueError, KeyError):
                pass
    threading.Thread(target=read, daemon=True).start()
    time.sleep(3)  # the consumer joins and the configuration's worker starts
    acked = {}
    for b in range(500):
        marker = f"l{b}-{uuid.uuid4().hex[:6]}"
        assert sensor.send(batch(10, marker)).status_code == 200
        acked[marker] = time.time()
        time.sleep(0.02)
    deadline = time.time() + 30
    while len(seen) < len(acked) and time.time() < deadline:
        time.sleep(0.1)
    lat = sorted((seen[m] - t) * 1000 for m, t in acked.items() if m in seen)
    missing = len(acked) - len(lat)
    print(f"kafka latency (ack -> readable by kcat), {len(lat)} batches: p50 {lat[len(lat) // 2]:.0f} ms, "
          f"p99 {lat[int(len(lat) * 0.99) - 1]:.0f} ms, max {lat[-1]:.0f} ms, missing {missing}")
    consumer.terminate()
finally:
    w.stop()
    kafka.stop()
    az.stop()
