"""A sensor written in Python against the documented protocol (docs/sensor-protocol.md): fetches
the onboarding package, enrols a device and posts telemetry. Shared by the e2e tests that need
devices with known events."""
import gzip
import hashlib
import json
import time
import uuid

MARKER = "# WARD-ONBOARDING-INFO: "


def onboarding_info(ward, token):
    r = ward.get("/api/onboarding/package?platform=linux", token)
    assert r.status_code == 200, r.text
    assert r.text.startswith("#!/bin/sh")
    line = next(l for l in r.text.splitlines() if l.startswith(MARKER))
    return json.loads(line[len(MARKER):])


class FakeSensor:
    def __init__(self, ward, info, name=None, host_id=None, tags=None):
        self.ward = ward
        self.info = info
        self.name = name or f"py-{uuid.uuid4().hex[:8]}.corp.local"
        self.host_id = host_id or hashlib.sha256(uuid.uuid4().bytes).hexdigest()
        self.tags = tags or []
        self.report_id = 0

    def enroll(self):
        r = self.ward.post("/sensor/v1/enroll", json={"onboardingInfo": self.info, "device": {
            "hostId": self.host_id, "computerDnsName": self.name, "osPlatform": "Linux", "osVersion": "12",
            "osDistribution": "Debian", "sensorVersion": "0.1.0-py", "ipAddresses": ["10.1.2.3"], "tags": self.tags}})
        assert r.status_code == 200, r.text
        body = r.json()
        self.device_id, self.credential = body["deviceId"], body["credential"]
        return body

    @property
    def auth(self):
        return {"Authorization": f"WardDevice {self.device_id}:{self.credential}"}

    def event(self, table, **cols):
        self.report_id += 1
        ev = {"$table": table, "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.1234567Z", time.gmtime()),
              "ReportId": self.report_id}
        ev.update(cols)
        return ev

    def send(self, events, batch_id=None, encoding=None, raw=None):
        body = raw if raw is not None else "\n".join(json.dumps(e) for e in events).encode()
        headers = dict(self.auth, **{"X-Ward-Batch-Id": batch_id or str(uuid.uuid4())})
        if encoding == "gzip" and raw is None:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        elif encoding:
            headers["Content-Encoding"] = encoding
        return self.ward.post("/sensor/v1/events", data=body, headers=headers)


def wait_for(fn, timeout=10):
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value or time.time() > deadline:
            return value
        time.sleep(0.2)


def simulate_through_kill_9(ward, sensor_bin, pkg, tmp_path, devices=5, rate=2000, duration=12, kill_after=3):
    """Runs `ward-sensor simulate` while the server is killed with SIGKILL and restarted; returns the
    simulator's summary once every event is acknowledged."""
    import signal
    import subprocess
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    sim = subprocess.Popen([sensor_bin, "simulate", "--onboarding", str(pkg), "--devices", str(devices), "--rate", str(rate),
                            "--duration", str(duration), "--state-dir", str(fleet)],
                           stdout=subprocess.PIPE, stderr=open(tmp_path / "sim.log", "w"), text=True)
    try:
        time.sleep(kill_after)
        ward.proc.send_signal(signal.SIGKILL)
        ward.proc.wait()
        time.sleep(2)  # the simulator queues and retries meanwhile
        ward.start()
        out, _ = sim.communicate(timeout=90)
    finally:
        if sim.poll() is None:
            sim.kill()
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["accepted"] > 0 and summary.get("pending", 0) == 0, summary
    return summary
