"""The Streaming API end to end: configurations through the API (validation, secrets, permissions),
and events and alerts from real sensors arriving at real destinations — files here, Azurite (Azure
Blob) and a Kafka cluster (librdkafka's mock, read with kcat) in their own sections — at least
once, across a kill -9, with lag visible while a destination is down."""
import json
import os
import time
import uuid

import pytest

from conftest import Ward, assert_mde_error, new_app_token, run_ward
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
    old = ward.request("PATCH", f"{BASE}/{c['id']}", admin_token, json={"replayFrom": "2001-01-01T00:00:00Z"})
    assert old.status_code == 400 and "oldest event" in old.json()["error"]["message"], old.text
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
