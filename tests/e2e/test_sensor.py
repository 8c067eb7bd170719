"""The real sensor against the real server: collectors on this host, durability across a server
kill -9, and the simulated fleet."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import WARD, Ward, run_ward
from sensor_helpers import simulate_through_kill_9, wait_for

SENSOR = os.path.join(os.path.dirname(WARD), "ward-sensor")


def package(ward, tmp_path):
    out = tmp_path / f"WardOnboarding-{uuid.uuid4().hex[:6]}.sh"
    run_ward("admin", "onboarding-package", "--data-dir", ward.data_dir, "--tenant", ward.tenant,
             "--server-url", ward.base, "--out", str(out))
    return out


def timeline(ward, token, device, **params):
    q = "&".join(f"{k}={v}" for k, v in params.items())
    r = ward.get(f"/api/machines/{device}/timeline?{q}", token)
    assert r.status_code == 200, r.text
    return r.json()["value"]




def device_id_of(state_dir):
    def read():
        for name in os.listdir(state_dir):
            if name.endswith(".json"):
                try:
                    data = json.load(open(os.path.join(state_dir, name)))
                except (OSError, ValueError):
                    continue
                if isinstance(data, dict) and "deviceId" in data:
                    return data["deviceId"]
        return None
    return wait_for(read, 20)


@pytest.fixture
def sensor(ward, tmp_path):
    state = tmp_path / "sensor-state"
    watched = tmp_path / "watched"
    state.mkdir()
    watched.mkdir()
    pkg = package(ward, tmp_path)
    proc = subprocess.Popen([SENSOR, "--onboarding", str(pkg), "--state-dir", str(state), "--watch", str(watched),
                             "--no-host-enforcement"],
                            stdout=open(tmp_path / "sensor.log", "w"), stderr=subprocess.STDOUT)
    try:
        device = device_id_of(str(state))
        assert device, (tmp_path / "sensor.log").read_text()
        yield {"device": device, "watched": watched, "proc": proc, "log": tmp_path / "sensor.log"}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_real_collectors_report_process_file_and_network_events(ward, admin_token, sensor):
    device = sensor["device"]
    time.sleep(1.0)  # let the collectors subscribe
    marker = f"ward{uuid.uuid4().hex[:10]}"
    subprocess.run(["/bin/sh", "-c", f"echo {marker} >/dev/null"], check=True)
    created = sensor["watched"] / f"{marker}.txt"
    created.write_text("hello")
    renamed = sensor["watched"] / f"{marker}-renamed.txt"
    created.rename(renamed)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    conn, _ = listener.accept()
    port = listener.getsockname()[1]
    try:
        proc_rows = wait_for(lambda: timeline(ward, admin_token, device, table="DeviceProcessEvents", search=marker), 20)
        assert proc_rows, sensor["log"].read_text()[-3000:]
        row = proc_rows[0]
        assert row["ActionType"] == "ProcessCreated" and marker in row["ProcessCommandLine"]
        assert row["FileName"] in ("sh", "dash", "bash") and row["FolderPath"].startswith("/")
        assert row["ReportId"] > 0 and row["DeviceId"] == device

        def file_events():
            rows = timeline(ward, admin_token, device, table="DeviceFileEvents", search=marker)
            kinds = {r["ActionType"] for r in rows}
            return rows if {"FileCreated", "FileRenamed"} <= kinds else None
        files = wait_for(file_events, 20)
        assert files, sensor["log"].read_text()[-3000:]
        ren = next(r for r in files if r["ActionType"] == "FileRenamed")
        assert ren["FileName"] == f"{marker}-renamed.txt" and ren["PreviousFileName"] == f"{marker}.txt"

        def connection():
            rows = timeline(ward, admin_token, device, table="DeviceNetworkEvents", **{"$top": 1000})
            return [r for r in rows if r.get("RemotePort") == port or r.get("LocalPort") == port]
        net = wait_for(connection, 20)
        assert net, sensor["log"].read_text()[-3000:]
        assert {"ConnectionSuccess", "InboundConnectionAccepted", "ListeningConnectionCreated"} & {r["ActionType"] for r in net}
    finally:
        client.close()
        conn.close()
        listener.close()


def test_kill_9_loses_no_acknowledged_batch(tmp_path):
    w = Ward(tmp_path / "durable", tls=False)
    w.start()
    summary = simulate_through_kill_9(w, SENSOR, package(w, tmp_path), tmp_path)
    w.stop()  # a clean stop seals the store
    stats = json.loads(run_ward("admin", "events", "stats", "--data-dir", w.data_dir).stdout)
    # Alert rows (AlertEvidence carries DeviceId) come from detection, not from the sensors.
    stored = sum(t["rows"] for name, t in stats.items() if not name.startswith("Alert"))
    assert sum(t["duplicateReportIds"] for t in stats.values()) == 0, stats
    # Every event the server acknowledged is stored exactly once.
    assert stored == summary["accepted"], (stored, summary)


def test_sensor_offline_and_restarted_loses_nothing(tmp_path):
    """Events collected while the server is down wait in the sensor's disk queue, survive a sensor
    restart, and arrive once the server is back."""
    w = Ward(tmp_path / "offline", tls=False)
    w.start()
    state, watched = tmp_path / "state", tmp_path / "watched"
    state.mkdir()
    watched.mkdir()
    pkg = package(w, tmp_path)
    args = [SENSOR, "--onboarding", str(pkg), "--state-dir", str(state), "--watch", str(watched), "--no-host-enforcement"]
    log = open(tmp_path / "sensor.log", "a")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        device = device_id_of(str(state))
        assert device, (tmp_path / "sensor.log").read_text()
        time.sleep(1.0)
        w.stop()
        marker = f"offline{uuid.uuid4().hex[:10]}"
        subprocess.run(["/bin/sh", "-c", f"echo {marker} >/dev/null"], check=True)
        (watched / f"{marker}.txt").write_text("queued while offline")
        time.sleep(2.0)  # collected and queued on disk; uploads fail meanwhile
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(1.0)
        w.start()
        token = w.app_token()
        procs = wait_for(lambda: timeline(w, token, device, table="DeviceProcessEvents", search=marker), 40)
        assert procs and marker in procs[0]["ProcessCommandLine"], (tmp_path / "sensor.log").read_text()[-3000:]
        files = wait_for(lambda: timeline(w, token, device, table="DeviceFileEvents", search=marker), 20)
        assert any(r["ActionType"] == "FileCreated" for r in files), files
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        w.stop()
