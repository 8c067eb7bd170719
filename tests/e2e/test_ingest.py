"""Onboarding, enrolment, telemetry ingest and machine profiles, driven by the Python sensor in
sensor_helpers.py. The real sensor has its own tests (test_sensor.py)."""
import gzip
import json
import re
import uuid

import pytest

from conftest import assert_mde_error
from sensor_helpers import FakeSensor, onboarding_info, wait_for


@pytest.fixture(scope="module")
def info(ward, admin_token):
    return onboarding_info(ward, admin_token)


def timeline(ward, token, device_id, **params):
    q = "&".join(f"{k}={v}" for k, v in params.items())
    r = ward.get(f"/api/machines/{device_id}/timeline?{q}", token)
    assert r.status_code == 200, r.text
    return r.json()["value"]


def test_package_and_enrolment(ward, admin_token, info):
    body = json.loads(info["body"])
    assert body["orgId"] == ward.tenant and body["serverUrl"].startswith("https://")
    assert re.fullmatch(r"[0-9a-f]{64}", body["serverCertSha256"])
    s = FakeSensor(ward, info)
    enrolled = s.enroll()
    assert re.fullmatch(r"[0-9a-f]{40}", enrolled["deviceId"])
    m = ward.get(f"/api/machines/{s.device_id}", admin_token).json()
    assert m["computerDnsName"] == s.name and m["osPlatform"] == "Linux" and m["agentVersion"] == "0.1.0-py"
    assert m["onboardingStatus"] == "Onboarded"
    # The same host enrolling again keeps its id; the old credential stops working.
    old = s.credential
    again = s.enroll()
    assert again["deviceId"] == enrolled["deviceId"]
    s.credential = old
    assert_mde_error(s.send([s.event("DeviceProcessEvents", ActionType="ProcessCreated")]), 401, "Unauthorized")


def test_bad_packages_are_refused(ward, admin_token, info):
    forged = dict(info, body=info["body"].replace(ward.tenant, str(uuid.uuid4())))
    r = ward.post("/sensor/v1/enroll", json={"onboardingInfo": forged, "device": {"hostId": "h" * 16, "computerDnsName": "x"}})
    assert_mde_error(r, 401, "Unauthorized")
    tampered = dict(info, sig=info["sig"][:-4] + "AAAA")
    r = ward.post("/sensor/v1/enroll", json={"onboardingInfo": tampered, "device": {"hostId": "h" * 16, "computerDnsName": "x"}})
    assert_mde_error(r, 401, "Unauthorized")
    r = ward.post("/sensor/v1/enroll", data=b"{nope", headers={"Content-Type": "application/json"})
    assert_mde_error(r, 400, "InvalidRequestBody")
    # Revoking the key stops the package; a new package (new key) works.
    keys = ward.get("/api/onboarding/enrollmentkeys", admin_token).json()["value"]
    kid = info["kid"]
    assert kid in {k["id"] for k in keys}
    assert ward.post(f"/api/onboarding/enrollmentkeys/{kid}/revoke", admin_token).json()["status"] == "Revoked"
    r = ward.post("/sensor/v1/enroll", json={"onboardingInfo": info, "device": {"hostId": "h" * 16, "computerDnsName": "x"}})
    assert_mde_error(r, 401, "Unauthorized")
    fresh = onboarding_info(ward, admin_token)
    assert fresh["kid"] != kid
    FakeSensor(ward, fresh).enroll()


def test_events_are_validated_per_event_and_stored(ward, admin_token):
    s = FakeSensor(ward, onboarding_info(ward, admin_token))
    s.enroll()
    marker = f"ward-e2e-{uuid.uuid4().hex[:8]}"
    good = s.event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="bash", FolderPath="/usr/bin/bash",
                   ProcessCommandLine=f"bash -c 'echo {marker}'", ProcessId=4242, AccountName="root")
    events = [
        good,
        s.event("DeviceProcessEvents", ActionType="ProcessCreated", ProcessId="not a number"),
        s.event("NoSuchTable"),
        s.event("DeviceProcessEvents", ActionType="ProcessCreated", Bogus=1),
        s.event("DeviceNetworkEvents", ActionType="ConnectionSuccess", RemoteIP="127.0.0.1", RemotePort=8443,
                DeviceId="f" * 40),
        {"$table": "DeviceFileEvents", "ActionType": "FileCreated"},  # no Timestamp
        s.event("DeviceFileEvents", ActionType="FileCreated", FileName="x" * 40000),
        s.event("DeviceNetworkEvents", ActionType="ConnectionSuccess", RemoteIP="127.0.0.1", RemotePort=8443,
                LocalPort=50000, Protocol="Tcp"),
    ]
    batch = str(uuid.uuid4())
    r = s.send(events, batch_id=batch)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 2 and body["duplicate"] is False
    reasons = {x["index"]: x["reason"] for x in body["rejected"]}
    assert set(reasons) == {1, 2, 3, 4, 5, 6}
    assert "ProcessId" in reasons[1] and "unknown table" in reasons[2] and "Bogus" in reasons[3]
    assert "DeviceId" in reasons[4] and "Timestamp" in reasons[5] and "32 KiB" in reasons[6]
    # A retried batch is stored once.
    again = s.send(events, batch_id=batch).json()
    assert again["duplicate"] is True and again["accepted"] == 2
    rows = wait_for(lambda: timeline(ward, admin_token, s.device_id, table="DeviceProcessEvents", search=marker))
    assert len(rows) == 1
    row = rows[0]
    assert row["ProcessCommandLine"] == f"bash -c 'echo {marker}'" and row["ProcessId"] == 4242
    assert row["DeviceId"] == s.device_id and row["DeviceName"] == s.name
    assert row["Timestamp"].endswith(".1234567Z")
    net = timeline(ward, admin_token, s.device_id, table="DeviceNetworkEvents")
    assert len(net) == 1 and net[0]["RemotePort"] == 8443


def test_compression_and_bad_bodies(ward, admin_token):
    s = FakeSensor(ward, onboarding_info(ward, admin_token))
    s.enroll()
    r = s.send([s.event("DeviceLogonEvents", ActionType="LogonSuccess", AccountName="alice", LogonType="Interactive")],
               encoding="gzip")
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    assert_mde_error(s.send([], raw=b"\x28\xb5\x2f\xfd garbage", encoding="zstd"), 400, "InvalidInput")
    assert_mde_error(s.send([], raw=b"not gzip", encoding="gzip"), 400, "InvalidInput")
    assert_mde_error(s.send([], raw=b"x", encoding="br"), 400, "InvalidInput")
    # A zip bomb stops at the decompressed limit.
    bomb = gzip.compress(b"{" + b" " * (80 * 1024 * 1024) + b"}", compresslevel=1)
    r = s.send([], raw=bomb, encoding="gzip")
    assert r.status_code == 429 or r.status_code == 400 or r.status_code == 413, r.text
    # A 100 MB body is refused before it is read.
    r = s.send([], raw=b"x" * (100 * 1024 * 1024))
    assert r.status_code == 413
    # Garbage lines are rejected one by one; good lines survive.
    raw = b"not json\n" + json.dumps(s.event("DeviceLogonEvents", ActionType="LogonFailed", AccountName="bob")).encode()
    body = s.send([], raw=raw).json()
    assert body["accepted"] == 1 and body["rejected"][0]["index"] == 0
    assert ward.get("/healthz").status_code == 200


def test_device_info_updates_the_machine_profile(ward, admin_token):
    s = FakeSensor(ward, onboarding_info(ward, admin_token))
    s.enroll()
    s.send([s.event("DeviceInfo", OSPlatform="Linux", OSVersion="12.7", OSDistribution="Debian", OSBuild=7,
                    ClientVersion="0.1.1-py", PublicIP="203.0.113.9",
                    LoggedOnUsers=json.dumps([{"UserName": "alice", "DomainName": "corp"}])),
            s.event("DeviceNetworkInfo", NetworkAdapterName="eth0",
                    IPAddresses=json.dumps([{"IPAddress": "10.9.8.7", "SubnetPrefix": 24, "AddressType": "Private"}]))])

    def updated():
        m = ward.get(f"/api/machines/{s.device_id}", admin_token).json()
        return m if m.get("agentVersion") == "0.1.1-py" and m.get("lastIpAddress") == "10.9.8.7" else None

    m = wait_for(updated)
    assert m, ward.get(f"/api/machines/{s.device_id}", admin_token).text
    assert m["osVersion"] == "12.7" and m["lastExternalIpAddress"] == "203.0.113.9" and m["osBuild"] == 7
    assert m["healthStatus"] == "Active"
    assert {"ipAddress": "10.9.8.7", "macAddress": None, "type": None, "operationalStatus": "Up"} in m["ipAddresses"]


def test_heartbeat_and_credential_rotation(ward, admin_token):
    s = FakeSensor(ward, onboarding_info(ward, admin_token))
    s.enroll()
    r = ward.post("/sensor/v1/heartbeat", json={"sensorVersion": "0.2.0", "ipAddresses": ["10.0.0.9"],
                                                 "queue": {"pendingEvents": 0, "droppedEvents": {"queue_full": 3}}},
                  headers=s.auth)
    assert r.status_code == 200 and r.json()["heartbeatSeconds"] > 0
    assert ward.get(f"/api/machines/{s.device_id}", admin_token).json()["agentVersion"] == "0.2.0"
    old = dict(s.auth)
    new = ward.post("/sensor/v1/credential/rotate", headers=s.auth).json()["credential"]
    assert ward.post("/sensor/v1/heartbeat", json={}, headers=old).status_code == 401
    s.credential = new
    assert ward.post("/sensor/v1/heartbeat", json={}, headers=s.auth).status_code == 200
    ward.admin("machines", "revoke-credential", "--id", s.device_id)
    assert ward.post("/sensor/v1/heartbeat", json={}, headers=s.auth).status_code == 401


def test_enrolled_devices_are_grouped_by_the_server(ward, admin_token):
    tag = uuid.uuid4().hex[:6]
    g = ward.post("/api/rbac/devicegroups", admin_token, json={"name": f"Linux prod {tag}", "rank": 1,
                                                                 "rules": {"tag": [f"prod-{tag}"]}}).json()
    s = FakeSensor(ward, onboarding_info(ward, admin_token), tags=[f"prod-{tag}"])
    s.enroll()
    assert ward.get(f"/api/machines/{s.device_id}", admin_token).json()["rbacGroupId"] == g["id"]
