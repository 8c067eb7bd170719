"""The Streaming API end to end: configurations through the API (validation, secrets, permissions),
and events and alerts from real sensors arriving at real destinations — files here, Azurite (Azure
Blob) and a Kafka cluster (librdkafka's mock, read with kcat) in their own sections — at least
once, across a kill -9, with lag visible while a destination is down."""
import json
import os
import re
import signal
import subprocess
import time
import uuid

import pytest

from conftest import Ward, assert_mde_error, free_port, new_app_token, run_ward, wait_port
from sensor_helpers import FakeSensor, onboarding_info, simulate_through_kill_9, wait_for

SENSOR = os.path.join(os.path.dirname(os.environ.get("WARD_BIN", "build/ward")), "ward-sensor")
BASE = "/api/streaming/configurations"
PROCESS = "AdvancedHunting-DeviceProcessEvents"
HIGH_LIMITS_CONFIG = {"rateLimits": {"enabled": True, "perMinute": 100000, "perHour": 1000000}}


def file_records(ward, directory, table):
    path = os.path.join(ward.data_dir, "streaming", "files", directory, f"{table}.ndjson")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def create(ward, token, body, status=201):
    r = ward.post(BASE, token, json=body)
    assert r.status_code == status, r.text
    return r.json()


def config_status(ward, token, config_id):
    r = ward.get(f"{BASE}/{config_id}", token)
    assert r.status_code == 200, r.text
    return r.json()["status"]


def package(ward, tmp_path):
    out = tmp_path / f"WardOnboarding-{uuid.uuid4().hex[:6]}.sh"
    run_ward("admin", "onboarding-package", "--data-dir", ward.data_dir, "--tenant", ward.tenant,
             "--server-url", ward.base, "--out", str(out))
    return out


def event_stats(ward):
    return json.loads(run_ward("admin", "events", "stats", "--data-dir", ward.data_dir).stdout)


@pytest.mark.parametrize("body,field", [
    ({"eventTypes": [PROCESS], "destinations": [{"name": "f", "type": "File"}]}, "name"),
    ({"name": "x", "destinations": [{"name": "f", "type": "File"}]}, "eventTypes"),
    ({"name": "x", "eventTypes": ["DeviceProcessEvents"], "destinations": [{"name": "f", "type": "File"}]}, "eventTypes[0]"),
    ({"name": "x", "eventTypes": [PROCESS, "AdvancedHunting-Nope"], "destinations": [{"name": "f", "type": "File"}]}, "eventTypes[1]"),
    ({"name": "x", "eventTypes": [PROCESS]}, "destinations"),
    ({"name": "x", "eventTypes": [PROCESS], "destinations": []}, "destinations"),
    ({"name": "x", "eventTypes": [PROCESS], "destinations": [{"name": "f", "type": "Ftp"}]}, "destinations[0].type"),
    ({"name": "x", "eventTypes": [PROCESS], "destinations": [{"type": "File"}]}, "destinations[0].name"),
    ({"name": "x", "eventTypes": [PROCESS], "destinations": [{"name": "a", "type": "File"}, {"name": "A", "type": "File"}]},
     "destinations[1].name"),
    ({"name": "x", "eventTypes": [PROCESS], "destinations": [{"name": "f", "type": "File", "directory": "../etc"}]},
     "destinations[0].directory"),
    ({"name": "x", "eventTypes": [PROCESS], "destinations": [{"name": "f", "type": "File", "maxFileBytes": 10}]},
     "destinations[0].maxFileBytes"),
    ({"name": "x", "eventTypes": [PROCESS], "deviceGroups": ["No such group"], "destinations": [{"name": "f", "type": "File"}]},
     "deviceGroups[0]"),
    ({"name": "x", "eventTypes": [PROCESS], "replayFrom": "2999-01-01T00:00:00Z", "destinations": [{"name": "f", "type": "File"}]},
     "replayFrom"),
    ({"name": "x", "eventTypes": [PROCESS], "colour": "red", "destinations": [{"name": "f", "type": "File"}]}, "colour"),
])
def test_an_invalid_configuration_is_refused_naming_the_field(ward, admin_token, body, field):
    r = ward.post(BASE, admin_token, json=body)
    assert r.status_code == 400, r.text
    assert field in r.json()["error"]["message"], r.text


def test_configurations_need_manage_portal_settings(ward, admin_token):
    reader = new_app_token(ward, admin_token, ["Alert.Read.All", "Machine.Read.All"], prefix="stream-reader")
    assert_mde_error(ward.get(BASE, reader), 403, "Forbidden")
    assert_mde_error(ward.post(BASE, reader, json={"name": "x"}), 403, "Forbidden")
    assert_mde_error(ward.get(BASE), 401, "Unauthorized")


def test_secrets_are_never_returned(ward, admin_token):
    hubs = "Endpoint=sb://ward-test.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=c2VjcmV0;EntityPath=edr"
    c = create(ward, admin_token, {"name": f"sec-{uuid.uuid4().hex[:6]}", "enabled": False, "eventTypes": [PROCESS],
                                   "destinations": [{"name": "hub", "type": "Kafka", "eventHubsConnectionString": hubs},
                                                    {"name": "sasl", "type": "Kafka", "bootstrapServers": "127.0.0.1:9",
                                                     "securityProtocol": "SASL_SSL", "saslMechanism": "PLAIN",
                                                     "saslUsername": "u", "saslPassword": "p4ss"}]})
    for body in (c, ward.get(f"{BASE}/{c['id']}", admin_token).json(), ward.get(BASE, admin_token).json()):
        text = json.dumps(body)
        assert "c2VjcmV0" not in text and "p4ss" not in text, text
    assert c["destinations"][0]["eventHubsConnectionString"] == "***" and c["destinations"][1]["saslPassword"] == "***"
    # Sent back as "***", the stored secrets stay; the configuration still validates.
    r = ward.request("PATCH", f"{BASE}/{c['id']}", admin_token, json={"destinations": c["destinations"]})
    assert r.status_code == 200, r.text
    ward.request("DELETE", f"{BASE}/{c['id']}", admin_token)


def test_configuration_lifecycle(ward, admin_token):
    c = create(ward, admin_token, {"name": f"life-{uuid.uuid4().hex[:6]}", "eventTypes": ["advancedhunting-devicefileevents", PROCESS],
                                   "destinations": [{"name": "disk", "type": "File", "directory": "life"}]})
    assert c["eventTypes"] == ["AdvancedHunting-DeviceFileEvents", PROCESS]  # canonical spelling
    assert c["enabled"] is True and c["deviceGroups"] == [] and c["replayFrom"] is None
    assert c["createdBy"] and c["createdDateTime"]
    again = ward.post(BASE, admin_token, json={"name": c["name"].upper(), "eventTypes": [PROCESS],
                                               "destinations": [{"name": "disk", "type": "File"}]})
    assert again.status_code == 409, again.text
    listed = ward.get(BASE, admin_token).json()["value"]
    assert c["id"] in [x["id"] for x in listed]
    status = wait_for(lambda: config_status(ward, admin_token, c["id"])["destinations"], timeout=10)
    assert status[0]["name"] == "disk" and status[0]["state"] == "Running", status
    off = ward.request("PATCH", f"{BASE}/{c['id']}", admin_token, json={"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False and off.json()["status"]["state"] == "Disabled"
    bad = ward.request("PATCH", f"{BASE}/{c['id']}", admin_token, json={"eventTypes": ["Nope"]})
    assert bad.status_code == 400 and "eventTypes[0]" in bad.json()["error"]["message"]
    assert ward.request("DELETE", f"{BASE}/{c['id']}", admin_token).status_code == 204
    assert_mde_error(ward.get(f"{BASE}/{c['id']}", admin_token), 404, "ResourceNotFound")


def test_events_and_alerts_arrive_in_mde_format_filtered_by_table_and_group(ward, admin_token):
    directory = f"ev-{uuid.uuid4().hex[:6]}"
    c = create(ward, admin_token, {"name": directory, "eventTypes": [PROCESS, "AdvancedHunting-AlertInfo", "AdvancedHunting-AlertEvidence"],
                                   "destinations": [{"name": "disk", "type": "File", "directory": directory}]})
    sensor = FakeSensor(ward, onboarding_info(ward, admin_token))
    sensor.enroll()
    events = [sensor.event("DeviceProcessEvents", DeviceId=sensor.device_id, DeviceName=sensor.name, ActionType="ProcessCreated",
                           FileName=f"tool{i}", ProcessCommandLine=f"tool{i} --run", AdditionalFields={"n": i}) for i in range(20)]
    events.append(sensor.event("DeviceFileEvents", DeviceId=sensor.device_id, DeviceName=sensor.name, ActionType="FileCreated",
                               FileName="x.txt", FolderPath="/tmp/x.txt"))
    assert sensor.send(events).status_code == 200
    r = ward.post("/api/alerts/CreateAlertByReference", admin_token, json={
        "machineId": sensor.device_id, "severity": "High", "title": f"stream test {directory}", "description": "d",
        "recommendedAction": "r", "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "reportId": str(sensor.report_id - 1), "category": "Execution"})
    assert r.status_code in (200, 201), r.text
    alert_id = r.json()["id"]

    got = wait_for(lambda: len(file_records(ward, directory, "DeviceProcessEvents")) >= 20
                   and file_records(ward, directory, "AlertInfo"), timeout=20)
    assert got
    records = file_records(ward, directory, "DeviceProcessEvents")
    mine = [x for x in records if x["properties"]["DeviceId"] == sensor.device_id]
    assert sorted(x["properties"]["FileName"] for x in mine) == sorted(f"tool{i}" for i in range(20))
    rec = mine[0]
    assert list(rec) == ["time", "tenantId", "operationName", "category", "_TimeReceivedBySvc", "properties"]
    assert rec["tenantId"] == ward.tenant and rec["operationName"] == "Publish" and rec["category"] == PROCESS
    assert rec["time"].endswith("Z") and rec["_TimeReceivedBySvc"] == rec["time"]
    props = rec["properties"]
    assert props["MachineGroup"]  # the device's group (the default group here)
    assert props["DeviceName"] == sensor.name and props["ActionType"] == "ProcessCreated"
    assert json.loads(props["AdditionalFields"])["n"] >= 0  # a string column in MDE's schema
    assert not os.path.exists(os.path.join(ward.data_dir, "streaming", "files", directory, "DeviceFileEvents.ndjson"))
    info = [x for x in file_records(ward, directory, "AlertInfo") if x["properties"]["AlertId"] == alert_id]
    assert info and info[0]["category"] == "AdvancedHunting-AlertInfo"
    assert info[0]["properties"]["Title"] == f"stream test {directory}" and info[0]["properties"]["Severity"] == "High"
    assert info[0]["properties"]["MachineGroup"] == props["MachineGroup"]
    evidence = [x for x in file_records(ward, directory, "AlertEvidence") if x["properties"]["AlertId"] == alert_id]
    assert evidence and evidence[0]["properties"]["DeviceId"] == sensor.device_id

    status = config_status(ward, admin_token, c["id"])["destinations"][0]
    assert status["deliveredRecords"] >= 22 and status["lastError"] is None, status
    ward.request("DELETE", f"{BASE}/{c['id']}", admin_token)


def test_device_group_filter(ward, admin_token):
    group = f"Streamed {uuid.uuid4().hex[:6]}"
    tag = "stream-" + uuid.uuid4().hex[:6]
    r = ward.post("/api/rbac/devicegroups", admin_token, json={"name": group, "rank": 1, "rules": {"tag": [tag]}})
    assert r.status_code == 201, r.text
    directory = f"grp-{uuid.uuid4().hex[:6]}"
    c = create(ward, admin_token, {"name": directory, "eventTypes": [PROCESS], "deviceGroups": [group.upper()],
                                   "destinations": [{"name": "disk", "type": "File", "directory": directory}]})
    assert c["deviceGroups"] == [group]
    info = onboarding_info(ward, admin_token)
    inside, outside = FakeSensor(ward, info, tags=[tag]), FakeSensor(ward, info)
    for s in (inside, outside):
        s.enroll()
        assert s.send([s.event("DeviceProcessEvents", DeviceId=s.device_id, DeviceName=s.name, FileName="f")
                       for _ in range(5)]).status_code == 200
    assert wait_for(lambda: len(file_records(ward, directory, "DeviceProcessEvents")) >= 5, timeout=20)
    time.sleep(1)  # the other device's records would have come in the same deliveries
    records = file_records(ward, directory, "DeviceProcessEvents")
    assert {x["properties"]["DeviceId"] for x in records} == {inside.device_id}
    assert all(x["properties"]["MachineGroup"] == group for x in records)
    ward.request("DELETE", f"{BASE}/{c['id']}", admin_token)


def test_replay_from_a_time_sends_again(ward, admin_token):
    directory = f"rp-{uuid.uuid4().hex[:6]}"
    c = create(ward, admin_token, {"name": directory, "eventTypes": [PROCESS],
                                   "destinations": [{"name": "disk", "type": "File", "directory": directory}]})
    sensor = FakeSensor(ward, onboarding_info(ward, admin_token))
    sensor.enroll()
    assert sensor.send([sensor.event("DeviceProcessEvents", DeviceId=sensor.device_id, DeviceName=sensor.name, FileName="before")]).status_code == 200
    assert wait_for(lambda: len(file_records(ward, directory, "DeviceProcessEvents")) == 1, timeout=20)
    time.sleep(0.2)
    now = time.time()
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    time.sleep(0.2)
    assert sensor.send([sensor.event("DeviceProcessEvents", DeviceId=sensor.device_id, DeviceName=sensor.name, FileName="after")]).status_code == 200
    assert wait_for(lambda: len(file_records(ward, directory, "DeviceProcessEvents")) == 2, timeout=20)
    r = ward.request("PATCH", f"{BASE}/{c['id']}", admin_token, json={"replayFrom": since})
    assert r.status_code == 200 and r.json()["replayFrom"].startswith(since[:23]), r.text
    assert wait_for(lambda: len(file_records(ward, directory, "DeviceProcessEvents")) == 3, timeout=20)
    names = [x["properties"]["FileName"] for x in file_records(ward, directory, "DeviceProcessEvents")]
    assert names == ["before", "after", "after"]
    # This server's log still holds everything, so even a time before its first event is fine.
    old = ward.request("PATCH", f"{BASE}/{c['id']}", admin_token, json={"replayFrom": "2001-01-01T00:00:00Z"})
    assert old.status_code == 200, old.text
    ward.request("DELETE", f"{BASE}/{c['id']}", admin_token)


def test_kill_9_mid_stream_loses_no_acknowledged_event(tmp_path):
    """A fleet streams while the server is killed and restarted: the destination ends up with every
    event the server acknowledged (at least once), as counted by the event store."""
    w = Ward(tmp_path / "crash", tls=False, config=HIGH_LIMITS_CONFIG)
    w.start()
    token = w.app_token()
    create(w, token, {"name": "all", "eventTypes": [PROCESS, "AdvancedHunting-DeviceNetworkEvents", "AdvancedHunting-DeviceFileEvents"],
                      "destinations": [{"name": "disk", "type": "File", "directory": "all"}]})
    simulate_through_kill_9(w, SENSOR, package(w, tmp_path), tmp_path, rate=1500, duration=10)
    tables = ["DeviceProcessEvents", "DeviceNetworkEvents", "DeviceFileEvents"]

    def keys(table):
        return {(x["properties"]["DeviceId"], x["properties"]["ReportId"]) for x in file_records(w, "all", table)}
    w.stop()
    stats = event_stats(w)
    w.start()
    try:
        for table in tables:
            want = stats.get(table, {}).get("rows", 0)
            assert wait_for(lambda: len(keys(table)) >= want, timeout=30), (table, len(keys(table)), want)
            assert len(keys(table)) == want, (table, len(keys(table)), want)
    finally:
        w.stop()


# --- Azure Blob Storage (Azurite) ----------------------------------------------------------------

AZURITE = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "azurite", "node_modules", ".bin", "azurite-blob")
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class Azurite:
    """The Azure Storage emulator on a free loopback port, with its data in a directory of the test."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.dir = tmp_path / "azurite"
        self.dir.mkdir(exist_ok=True)
        self.proc = None

    @property
    def connection_string(self):
        return (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
                f"BlobEndpoint=http://127.0.0.1:{self.port}/devstoreaccount1;")

    def start(self):
        self.proc = subprocess.Popen([AZURITE, "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--location", str(self.dir),
                                      "--skipApiVersionCheck", "--silent"],
                                     stdout=subprocess.DEVNULL, stderr=open(self.dir / "azurite.log", "a"))
        wait_port(self.port)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # Azurite may wait for idle connections to close
                self.proc.kill()
                self.proc.wait(timeout=5)

    def client(self):
        from azure.storage.blob import BlobServiceClient
        return BlobServiceClient.from_connection_string(self.connection_string)

    def records(self):
        """Every record in every container, as {container: [(blob name, record)]}."""
        out = {}
        svc = self.client()
        for c in svc.list_containers():
            cc = svc.get_container_client(c.name)
            for b in cc.list_blobs():
                text = cc.download_blob(b.name).readall().decode()
                out.setdefault(c.name, []).extend((b.name, json.loads(line)) for line in text.splitlines() if line)
        return out


needs_azurite = pytest.mark.skipif(not os.path.exists(AZURITE), reason="Azurite is not installed (scripts/install-deps.sh)")


@needs_azurite
def test_events_and_alerts_reach_azurite_in_mde_containers_and_paths(tmp_path):
    az = Azurite(tmp_path).start()
    w = Ward(tmp_path / "blob", tls=False, config=HIGH_LIMITS_CONFIG)
    w.start()
    try:
        token = w.app_token()
        tables = ["DeviceProcessEvents", "DeviceNetworkEvents", "DeviceFileEvents", "AlertInfo", "AlertEvidence"]
        c = create(w, token, {"name": "archive", "eventTypes": [f"AdvancedHunting-{t}" for t in tables],
                              "destinations": [{"name": "azure", "type": "AzureBlob", "connectionString": az.connection_string,
                                                "flushIntervalMs": 200}]})
        assert c["destinations"][0]["connectionString"] == "***"
        sim = subprocess.run([SENSOR, "simulate", "--onboarding", str(package(w, tmp_path)), "--devices", "5", "--rate", "500",
                              "--duration", "4", "--state-dir", str(tmp_path / "fleet")], capture_output=True, text=True, timeout=120)
        assert sim.returncode == 0, sim.stderr[-2000:]
        w.stop()
        stats = event_stats(w)
        w.start()
        want = {t: stats.get(t, {}).get("rows", 0) for t in tables}
        # `events stats` counts device rows; AlertInfo has no DeviceId, so its count is the alerts'.
        alerts = w.get("/api/alerts", token).json()["value"]
        want["AlertInfo"] = len(alerts)
        assert want["DeviceProcessEvents"] > 0 and want["AlertInfo"] > 0 and want["AlertEvidence"] > 0, want

        def complete():
            got = az.records()
            return all(len({json.dumps(r, sort_keys=True) for _, r in got.get(f"insights-logs-advancedhunting-{t.lower()}", [])})
                       >= n for t, n in want.items()) and got
        got = wait_for(complete, timeout=60)
        assert got, (want, {k: len(v) for k, v in az.records().items()})
        for t, n in want.items():
            blobs = got[f"insights-logs-advancedhunting-{t.lower()}"]
            keys = {(r["properties"].get("DeviceId"), r["properties"].get("ReportId"), r["properties"].get("AlertId"),
                     r["properties"].get("EntityType"), r["properties"].get("Timestamp")) for _, r in blobs}
            assert len(keys) >= n, (t, len(keys), n)  # none missing (duplicates allowed)
            for name, r in blobs:
                assert r["category"] == f"AdvancedHunting-{t}" and r["tenantId"] == w.tenant
                hour = r["time"]
                assert name == (f"tenantId={w.tenant}/y={hour[0:4]}/m={hour[5:7]}/d={hour[8:10]}/h={hour[11:13]}/m=00/PT1H.json"), name
        props = got["insights-logs-advancedhunting-deviceprocessevents"][0][1]["properties"]
        assert props["MachineGroup"] and props["DeviceId"]
        blob = az.client().get_container_client("insights-logs-advancedhunting-deviceprocessevents").list_blobs()
        assert {b.blob_type for b in blob} == {"AppendBlob"}
    finally:
        w.stop()
        az.stop()


@needs_azurite
def test_a_destination_down_for_a_while_lags_then_drains_without_loss(tmp_path):
    az = Azurite(tmp_path)  # not started yet: connection refused
    w = Ward(tmp_path / "lag", tls=False, config=HIGH_LIMITS_CONFIG)
    w.start()
    try:
        token = w.app_token()
        c = create(w, token, {"name": "late", "eventTypes": [PROCESS],
                              "destinations": [{"name": "azure", "type": "AzureBlob", "connectionString": az.connection_string,
                                                "flushIntervalMs": 200},
                                               {"name": "disk", "type": "File", "directory": "late"}]})
        sensor = FakeSensor(w, onboarding_info(w, token))
        sensor.enroll()
        started = time.time()
        for batch in range(10):
            r = sensor.send([sensor.event("DeviceProcessEvents", DeviceId=sensor.device_id, DeviceName=sensor.name, FileName=f"p{batch}-{i}")
                             for i in range(50)])
            assert r.status_code == 200  # ingest does not wait for the destination
        ingest_seconds = time.time() - started
        # The file destination is not held up by the dead one.
        assert wait_for(lambda: len(file_records(w, "late", "DeviceProcessEvents")) == 500, timeout=20)
        down = wait_for(lambda: next((d for d in config_status(w, token, c["id"])["destinations"]
                                      if d["name"] == "azure" and d["failedDeliveries"] >= 2), None), timeout=20)
        assert down["state"] == "Retrying" and down["lastError"] and down["lagRecords"] > 0 and down["deliveredRecords"] == 0, down
        time.sleep(1)
        later = next(d for d in config_status(w, token, c["id"])["destinations"] if d["name"] == "azure")
        assert later["lagSeconds"] >= down["lagSeconds"] > 0, (down, later)
        az.start()
        drained = wait_for(lambda: next((d for d in config_status(w, token, c["id"])["destinations"]
                                         if d["name"] == "azure" and d["lagRecords"] == 0 and d["deliveredRecords"] >= 500), None), timeout=60)
        assert drained and drained["state"] == "Running" and drained["lagSeconds"] == 0, config_status(w, token, c["id"])
        names = {r["properties"]["FileName"] for _, r in az.records()["insights-logs-advancedhunting-deviceprocessevents"]}
        assert names == {f"p{b}-{i}" for b in range(10) for i in range(50)}
        assert ingest_seconds < 30  # sanity only: the sends above did not block on the destination
    finally:
        w.stop()
        az.stop()


@needs_azurite
def test_wrong_storage_key_is_a_clear_retried_error(tmp_path):
    az = Azurite(tmp_path).start()
    w = Ward(tmp_path / "badkey", tls=False)
    w.start()
    try:
        token = w.app_token()
        bad = az.connection_string.replace(AZURITE_KEY, "AAAA" + AZURITE_KEY[4:])
        c = create(w, token, {"name": "badkey", "eventTypes": [PROCESS],
                              "destinations": [{"name": "azure", "type": "AzureBlob", "connectionString": bad}]})
        sensor = FakeSensor(w, onboarding_info(w, token))
        sensor.enroll()
        assert sensor.send([sensor.event("DeviceProcessEvents", DeviceId=sensor.device_id, DeviceName=sensor.name, FileName="x")]).status_code == 200
        failing = wait_for(lambda: next((d for d in config_status(w, token, c["id"])["destinations"] if d["failedDeliveries"] >= 1), None), timeout=20)
        assert failing and "403" in failing["lastError"], failing
        # Fixing the secret in place (other fields sent back as "***" keep theirs) drains what waited.
        dest = dict(c["destinations"][0], connectionString=az.connection_string)
        r = w.request("PATCH", f"{BASE}/{c['id']}", token, json={"destinations": [dest]})
        assert r.status_code == 200, r.text
        assert wait_for(lambda: az.records().get("insights-logs-advancedhunting-deviceprocessevents"), timeout=30)
    finally:
        w.stop()
        az.stop()


# --- Kafka / Event Hubs (librdkafka's mock cluster, read with kcat) -----------------------------

KAFKA_MOCK = os.path.join(os.path.dirname(os.environ.get("WARD_BIN", "build/ward")), "ward-kafka-mock")


class KafkaMock:
    def __init__(self, tmp_path):
        self.log = open(tmp_path / "kafka-mock.log", "w")
        self.proc = subprocess.Popen([KAFKA_MOCK], stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline().strip()
        assert line.startswith("bootstrap="), line
        self.bootstrap = line.split("=", 1)[1]

    def consume(self, topic):
        """Every message of the topic, from the beginning, as parsed JSON."""
        out = subprocess.run(["kcat", "-b", self.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-D", "\\x1e"],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            return []
        return [json.loads(m) for m in out.stdout.split("\x1e") if m.strip()]

    def records(self, topic):
        return [r for message in self.consume(topic) for r in message["records"]]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


needs_kafka = pytest.mark.skipif(not os.path.exists(KAFKA_MOCK) or subprocess.run(["which", "kcat"], capture_output=True).returncode,
                                 reason="ward-kafka-mock or kcat missing")


@needs_kafka
def test_kafka_gets_every_acknowledged_event_across_a_kill_9(tmp_path):
    kafka = KafkaMock(tmp_path)
    w = Ward(tmp_path / "kafka", tls=False, config=HIGH_LIMITS_CONFIG)
    w.start()
    try:
        token = w.app_token()
        tables = ["DeviceProcessEvents", "DeviceNetworkEvents"]
        c = create(w, token, {"name": "hub", "eventTypes": [f"AdvancedHunting-{t}" for t in tables],
                              "destinations": [{"name": "kafka", "type": "Kafka", "bootstrapServers": kafka.bootstrap}]})
        simulate_through_kill_9(w, SENSOR, package(w, tmp_path), tmp_path, rate=1500, duration=10)
        w.stop()
        stats = event_stats(w)
        w.start()
        for t in tables:
            want = stats.get(t, {}).get("rows", 0)
            topic = f"insights-logs-advancedhunting-{t.lower()}"

            def keys():
                return {(r["properties"]["DeviceId"], r["properties"]["ReportId"]) for r in kafka.records(topic)}
            assert want > 0
            assert wait_for(lambda: len(keys()) >= want, timeout=60), (t, len(keys()), want)
            assert len(keys()) == want
        messages = kafka.consume("insights-logs-advancedhunting-deviceprocessevents")
        assert set(messages[0]) == {"records"}
        r = messages[0]["records"][0]
        assert list(r) == ["time", "tenantId", "operationName", "category", "_TimeReceivedBySvc", "properties"]
        assert r["category"] == "AdvancedHunting-DeviceProcessEvents" and r["tenantId"] == w.tenant
        status = config_status(w, token, c["id"])["destinations"][0]
        assert status["state"] == "Running" and status["lagRecords"] == 0, status
    finally:
        w.stop()
        kafka.stop()


# --- Syslog (RFC 5424 over TCP, CEF for alerts) ---------------------------------------------------

def test_alerts_reach_a_syslog_collector_as_cef(ward, admin_token):
    import socket
    import threading
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    received = []

    def serve():
        conn, _ = listener.accept()
        buf = b""
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            while b" " in buf:  # octet counting: "<length> <message>"
                length, rest = buf.split(b" ", 1)
                if len(rest) < int(length):
                    break
                received.append(rest[:int(length)].decode())
                buf = rest[int(length):]
    threading.Thread(target=serve, daemon=True).start()
    c = create(ward, admin_token, {"name": f"siem-{uuid.uuid4().hex[:6]}", "eventTypes": ["AdvancedHunting-AlertInfo", PROCESS],
                                   "destinations": [{"name": "collector", "type": "Syslog", "protocol": "tcp", "format": "cef",
                                                     "address": f"127.0.0.1:{listener.getsockname()[1]}"}]})
    sensor = FakeSensor(ward, onboarding_info(ward, admin_token))
    sensor.enroll()
    assert sensor.send([sensor.event("DeviceProcessEvents", DeviceId=sensor.device_id, DeviceName=sensor.name, FileName="seen")]).status_code == 200
    title = f"syslog {uuid.uuid4().hex[:6]}"
    r = ward.post("/api/alerts/CreateAlertByReference", admin_token, json={
        "machineId": sensor.device_id, "severity": "High", "title": title, "description": "d", "recommendedAction": "r",
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "reportId": str(sensor.report_id), "category": "Execution"})
    assert r.status_code in (200, 201), r.text
    alert_id = r.json()["id"]
    assert wait_for(lambda: any(title in m for m in received) and any('"FileName":"seen"' in m for m in received), timeout=20), received
    cef = next(m for m in received if title in m)
    assert re.match(r"<\d{1,3}>1 \S+ \S+ ward ", cef), cef  # RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME
    body = cef[cef.index("CEF:0|"):]
    assert body.startswith(f"CEF:0|Ward|Ward EDR|") and f"|{title}|" in body, body
    assert f"externalId={alert_id}" in body and "cat=Execution" in body
    event = next(m for m in received if '"FileName":"seen"' in m)
    assert json.loads(event[event.index("{"):])["category"] == PROCESS  # events stay JSON records
    ward.request("DELETE", f"{BASE}/{c['id']}", admin_token)
    listener.close()


@needs_kafka
def test_a_record_the_destination_refuses_is_dead_lettered_and_the_rest_flows(tmp_path):
    kafka = KafkaMock(tmp_path)
    w = Ward(tmp_path / "dead", tls=False)
    w.start()
    try:
        token = w.app_token()
        c = create(w, token, {"name": "small", "eventTypes": [PROCESS],
                              "destinations": [{"name": "kafka", "type": "Kafka", "bootstrapServers": kafka.bootstrap,
                                                "topic": "small", "maxMessageBytes": 4000}]})
        sensor = FakeSensor(w, onboarding_info(w, token))
        sensor.enroll()
        events = [sensor.event("DeviceProcessEvents", DeviceId=sensor.device_id, DeviceName=sensor.name, FileName=f"ok{i}") for i in range(5)]
        events.insert(2, sensor.event("DeviceProcessEvents", DeviceId=sensor.device_id, DeviceName=sensor.name, FileName="huge",
                                      ProcessCommandLine="x" * 8000))
        assert sensor.send(events).status_code == 200
        assert wait_for(lambda: len(kafka.records("small")) >= 5, timeout=30)
        assert sorted(r["properties"]["FileName"] for r in kafka.records("small")) == [f"ok{i}" for i in range(5)]
        letters = wait_for(lambda: w.get(f"{BASE}/{c['id']}/deadletters", token).json()["value"], timeout=10)
        assert len(letters) == 1, letters
        assert letters[0]["destination"] == "kafka" and "maxMessageBytes" in letters[0]["reason"], letters
        assert letters[0]["record"]["properties"]["FileName"] == "huge"
        status = config_status(w, token, c["id"])["destinations"][0]
        assert status["deadLetteredRecords"] == 1 and status["deliveredRecords"] == 5, status
        assert status["lastError"] and "rejected" in status["lastError"]
        bad = w.get(f"{BASE}/{c['id']}/deadletters?destination=nope", token)
        assert bad.status_code == 400 and "destination" in bad.json()["error"]["message"]
    finally:
        w.stop()
        kafka.stop()
