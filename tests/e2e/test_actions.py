"""Machine actions through MDE's API and the sensor channel, with a protocol-level sensor (FakeSensor):
creation shapes, duplicates, cancel, timeouts of offline devices, delivery by long poll, reports,
the investigation package's signed link, live response with the library, permissions and audit."""
import hashlib
import threading
import time
import uuid

import pytest

from conftest import Ward, assert_mde_error, checked_api, new_app_token
from sensor_helpers import FakeSensor, onboarding_info, wait_for
from shapes import assert_shape

PASSWORD = "Correct-Horse-9!"


def poll(ward, sensor, wait=0):
    r = ward.get(f"/sensor/v1/actions?wait={wait}", headers=sensor.auth)
    assert r.status_code == 200, r.text
    return r.json()["actions"]


def report(ward, sensor, action_id, status, **extra):
    r = ward.post(f"/sensor/v1/actions/{action_id}/status", headers=sensor.auth, json=dict(status=status, **extra))
    assert r.status_code == 200, r.text
    return r.json()["status"]


@pytest.fixture
def device(ward, admin_token):
    s = FakeSensor(ward, onboarding_info(ward, admin_token))
    s.enroll()
    return s


def test_isolate_lifecycle_duplicates_and_delivery(ward, admin_token, device):
    r = ward.post(f"/api/machines/{device.device_id}/isolate", admin_token,
                  json={"Comment": "contain", "IsolationType": "Selective"})
    assert r.status_code == 201, r.text
    action = r.json()
    assert_shape("MachineAction", {k: v for k, v in action.items() if k != "@odata.context"})
    assert action["type"] == "Isolate" and action["scope"] == "Selective" and action["status"] == "Pending"
    assert action["machineId"] == device.device_id and action["requestorComment"] == "contain"
    # A second isolation, or an unisolation, while it is open: MDE's 400.
    for path in ("isolate", "unisolate"):
        dup = ward.post(f"/api/machines/{device.device_id}/{path}", admin_token, json={"Comment": "again"})
        assert_mde_error(dup, 400, "BadRequest")
        assert dup.json()["error"]["message"] == "Action is already in progress"
    # The sensor gets it with its parameters, reports progress and the outcome.
    [got] = poll(ward, device)
    assert got["id"] == action["id"] and got["params"]["IsolationType"] == "Selective"
    assert report(ward, device, action["id"], "InProgress") == "InProgress"
    assert report(ward, device, action["id"], "Succeeded", details={"table": "inet ward_isolation"}) == "Succeeded"
    done = ward.get(f"/api/machineactions/{action['id']}", admin_token).json()
    assert done["status"] == "Succeeded" and done["lastUpdateDateTimeUtc"] >= done["creationDateTimeUtc"]
    assert poll(ward, device) == []
    # Once final, the same action type is accepted again.
    again = ward.post(f"/api/machines/{device.device_id}/unisolate", admin_token, json={"Comment": "release"})
    assert again.status_code == 201, again.text
    # The list filters by MDE's fields.
    listed = ward.get(f"/api/machineactions?$filter=machineId eq '{device.device_id}' and type eq 'Unisolate'",
                      admin_token).json()["value"]
    assert [a["id"] for a in listed] == [again.json()["id"]]
    audit = ward.get("/api/auditlogs?$top=50", admin_token).json()["value"]
    assert any(action["id"] in (e.get("target") or "") for e in audit), audit[:3]


def test_long_poll_returns_when_an_action_is_created(ward, admin_token, device):
    got = {}

    def wait():
        got["actions"] = poll(ward, device, wait=20)

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.5)
    r = ward.post(f"/api/machines/{device.device_id}/runAntiVirusScan", admin_token, json={"Comment": "scan", "ScanType": "Full"})
    assert r.status_code == 201, r.text
    t.join(25)
    assert not t.is_alive()
    assert [a["id"] for a in got["actions"]] == [r.json()["id"]]
    assert got["actions"][0]["scope"] == "Full" and got["actions"][0]["params"]["ScanType"] == "Full"


def test_cancel_and_bad_bodies(ward, admin_token, device):
    r = ward.post(f"/api/machines/{device.device_id}/StopAndQuarantineFile", admin_token,
                  json={"Comment": "stop it", "Sha1": "A" * 40})
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["relatedFileInfo"] == {"fileIdentifier": "a" * 40, "fileIdentifierType": "Sha1"}
    assert report(ward, device, a["id"], "InProgress") == "InProgress"
    c = ward.post(f"/api/machineactions/{a['id']}/cancel", admin_token, json={"Comment": "mistake"})
    assert c.status_code == 200, c.text
    assert c.json()["status"] == "Cancelled" and c.json()["cancellationComment"] == "mistake"
    # The sensor's next report learns it; a second cancel is refused.
    assert report(ward, device, a["id"], "Succeeded") == "Cancelled"
    assert_mde_error(ward.post(f"/api/machineactions/{a['id']}/cancel", admin_token, json={"Comment": "x"}), 400, "BadRequest")
    # Bad input gets MDE's codes.
    assert_mde_error(ward.post(f"/api/machines/{device.device_id}/StopAndQuarantineFile", admin_token,
                               json={"Comment": "x", "Sha1": "xyz"}), 400, "InvalidHashValue")
    assert_mde_error(ward.post(f"/api/machines/{device.device_id}/isolate", admin_token, json={}), 400,
                     "MissingRequiredParameter")
    assert_mde_error(ward.post(f"/api/machines/{device.device_id}/runAntiVirusScan", admin_token,
                               json={"Comment": "x", "ScanType": "Deep"}), 400, "InvalidInput")
    assert_mde_error(ward.post(f"/api/machines/{uuid.uuid4().hex}/isolate", admin_token, json={"Comment": "x"}), 404,
                     "ResourceNotFound")
    assert_mde_error(ward.post(f"/api/machineactions/{uuid.uuid4()}/cancel", admin_token, json={"Comment": "x"}), 404,
                     "ResourceNotFound")


def test_package_upload_and_signed_link(ward, admin_token, device):
    a = ward.post(f"/api/machines/{device.device_id}/collectInvestigationPackage", admin_token,
                  json={"Comment": "forensics"}).json()
    assert_mde_error(ward.get(f"/api/machineactions/{a['id']}/getPackageUri", admin_token), 404, "ResourceNotFound")
    package = b"\x1f\x8b" + uuid.uuid4().bytes * 100
    up = ward.request("PUT", f"/sensor/v1/actions/{a['id']}/files/0", headers=device.auth, data=package)
    assert up.status_code == 204, up.text
    assert report(ward, device, a["id"], "Succeeded") == "Succeeded"
    link = ward.get(f"/api/machineactions/{a['id']}/getPackageUri", admin_token)
    assert link.status_code == 200, link.text
    url = link.json()["value"]
    assert link.json()["@odata.context"].endswith("#Edm.String")
    got = ward.request("GET", url[len(ward.base):])  # no token: the signature authorizes
    assert got.status_code == 200 and got.content == package
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert ward.request("GET", tampered[len(ward.base):]).status_code == 403
    other = url.replace(f"/files/0?", "/files/1?")
    assert ward.request("GET", other[len(ward.base):]).status_code == 403
    # Another device cannot upload into this action.
    intruder = FakeSensor(ward, onboarding_info(ward, admin_token))
    intruder.enroll()
    assert ward.request("PUT", f"/sensor/v1/actions/{a['id']}/files/0", headers=intruder.auth, data=b"x").status_code == 404


def upload_library(ward, token, name, content, override=False):
    files = {"File": (name, content)}
    data = {"Description": "test script", "HasParameters": "true", "ParametersDescription": "args",
            "OverrideIfExists": "true" if override else "false"}
    return ward.post("/api/libraryfiles", token, files=files, data=data)


def test_live_response_with_the_library(ward, admin_token, device):
    name = f"collect-{uuid.uuid4().hex[:6]}.sh"
    script = b"#!/bin/sh\necho hello \"$1\"\n"
    r = upload_library(ward, admin_token, name, script)
    assert r.status_code == 200, r.text
    assert r.json()["sha256"] == hashlib.sha256(script).hexdigest() and r.json()["hasParameters"] is True
    assert_mde_error(upload_library(ward, admin_token, name, b"x"), 400, "BadRequest")
    assert upload_library(ward, admin_token, name, script, override=True).status_code == 200
    assert any(f["fileName"] == name for f in ward.get("/api/libraryfiles", admin_token).json()["value"])
    body = {"Comment": "triage", "Commands": [
        {"type": "RunScript", "params": [{"key": "ScriptName", "value": name}, {"key": "Args", "value": "'a b'"}]},
        {"type": "GetFile", "params": [{"key": "Path", "value": "/etc/hostname"}]}]}
    r = ward.post(f"/api/machines/{device.device_id}/runliveresponse", admin_token, json=body)
    assert r.status_code == 201, r.text
    lr = r.json()
    assert [c["commandStatus"] for c in lr["commands"]] == ["Created", "Created"]
    assert lr["commands"][0]["command"]["type"] == "RunScript"
    assert_mde_error(ward.post(f"/api/machines/{device.device_id}/runliveresponse", admin_token, json=body), 400,
                     "ActiveRequestAlreadyExists")
    missing = {"Comment": "x", "Commands": [{"type": "PutFile", "params": [{"key": "FileName", "value": "nope.sh"}]}]}
    assert_mde_error(ward.post(f"/api/machines/{device.device_id}/runliveresponse", admin_token, json=missing), 404,
                     "ResourceNotFound")
    [got] = poll(ward, device)
    lib = ward.get(f"/sensor/v1/library/{name}", headers=device.auth)
    assert lib.status_code == 200 and lib.content == script
    result = b'{"script_name":"%s","exit_code":0,"script_output":"hello a b\\n","script_errors":""}' % name.encode()
    assert ward.request("PUT", f"/sensor/v1/actions/{got['id']}/files/0", headers=device.auth, data=result).status_code == 204
    commands = [dict(c, commandStatus="Completed") for c in got["commands"]]
    assert report(ward, device, got["id"], "Succeeded", commands=commands) == "Succeeded"
    link = ward.get(f"/api/machineactions/{lr['id']}/GetLiveResponseResultDownloadLink(index=0)", admin_token)
    assert link.status_code == 200, link.text
    assert ward.request("GET", link.json()["value"][len(ward.base):]).content == result
    assert_mde_error(ward.get(f"/api/machineactions/{lr['id']}/GetLiveResponseResultDownloadLink(index=1)", admin_token),
                     404, "ResourceNotFound")
    assert ward.request("DELETE", f"/api/libraryfiles/{name}", admin_token).status_code == 204
    assert_mde_error(ward.request("DELETE", f"/api/libraryfiles/{name}", admin_token), 404, "ResourceNotFound")


def test_app_permissions(ward, admin_token, device):
    reader = new_app_token(ward, admin_token, ["Machine.Read.All"], "reader")
    isolator = new_app_token(ward, admin_token, ["Machine.Isolate"], "isolator")
    assert_mde_error(ward.post(f"/api/machines/{device.device_id}/isolate", reader, json={"Comment": "x"}), 403, "Forbidden")
    assert_mde_error(ward.post(f"/api/machines/{device.device_id}/runAntiVirusScan", isolator, json={"Comment": "x"}), 403,
                     "Forbidden")
    r = ward.post(f"/api/machines/{device.device_id}/isolate", isolator, json={"Comment": "x"})
    assert r.status_code == 201, r.text
    assert r.json()["requestor"]  # the app's id
    assert ward.post(f"/api/machineactions/{r.json()['id']}/cancel", isolator, json={"Comment": "x"}).status_code == 200
    assert_mde_error(ward.get("/api/libraryfiles", isolator), 403, "Forbidden")


def test_user_roles_and_device_groups(ward, admin_token):
    tag = uuid.uuid4().hex[:6]

    api = checked_api(ward, admin_token)

    users = {n: api("POST", "/api/users", {"userPrincipalName": f"{n}-{tag}@corp.example", "password": PASSWORD})
             for n in ("responder", "viewer", "basic")}
    groups = {n: api("POST", "/api/rbac/usergroups", {"name": f"act-{n}-{tag}", "members": [users[n]["id"]]}) for n in users}
    api("POST", "/api/rbac/roles", {"name": f"responder-{tag}", "permissions": ["ViewData", "ActiveRemediation"],
                                     "assignedUserGroups": [groups["responder"]["id"]]})
    api("POST", "/api/rbac/roles", {"name": f"viewer-{tag}", "permissions": ["ViewData"],
                                     "assignedUserGroups": [groups["viewer"]["id"]]})
    api("POST", "/api/rbac/roles", {"name": f"lrbasic-{tag}", "permissions": ["ViewData", "LiveResponseBasic"],
                                     "assignedUserGroups": [groups["basic"]["id"]]})
    api("POST", "/api/rbac/devicegroups", {"name": f"act-A-{tag}", "rank": 1, "rules": {"name": [f"acta-{tag}-*"]},
                                            "userGroups": [g["id"] for g in groups.values()]})
    nobody = api("POST", "/api/rbac/usergroups", {"name": f"act-nobody-{tag}", "members": []})
    api("POST", "/api/rbac/devicegroups", {"name": f"act-B-{tag}", "rank": 2, "rules": {"name": [f"actb-{tag}-*"]},
                                            "userGroups": [nobody["id"]]})
    info = onboarding_info(ward, admin_token)
    inside = FakeSensor(ward, info, name=f"acta-{tag}-web01.corp.local")
    outside = FakeSensor(ward, info, name=f"actb-{tag}-web01.corp.local")
    inside.enroll()
    outside.enroll()
    scope = "https://api.securitycenter.microsoft.com/.default"
    tokens = {n: ward.user_token(u["userPrincipalName"], PASSWORD, scope=scope) for n, u in users.items()}
    r = ward.post(f"/api/machines/{inside.device_id}/isolate", tokens["responder"], json={"Comment": "x"})
    assert r.status_code == 201, r.text
    assert r.json()["requestor"] == users["responder"]["userPrincipalName"]
    # Out of the user's device groups: as if it did not exist.
    assert_mde_error(ward.post(f"/api/machines/{outside.device_id}/isolate", tokens["responder"], json={"Comment": "x"}),
                     404, "ResourceNotFound")
    assert_mde_error(ward.post(f"/api/machines/{inside.device_id}/runAntiVirusScan", tokens["viewer"], json={"Comment": "x"}),
                     403, "Forbidden")
    # Live response basic may get files but not run scripts.
    get_file = {"Comment": "x", "Commands": [{"type": "GetFile", "params": [{"key": "Path", "value": "/etc/hosts"}]}]}
    r = ward.post(f"/api/machines/{inside.device_id}/runliveresponse", tokens["basic"], json=get_file)
    assert r.status_code == 201, r.text
    name = f"lib-{tag}.sh"
    assert upload_library(ward, admin_token, name, b"#!/bin/sh\ntrue\n").status_code == 200
    run = {"Comment": "x", "Commands": [{"type": "RunScript", "params": [{"key": "ScriptName", "value": name}]}]}
    r = ward.post(f"/api/machines/{inside.device_id}/runliveresponse", tokens["basic"], json=run)
    assert_mde_error(r, 403, "Forbidden")  # checked before the open session would refuse it


@pytest.fixture(scope="module")
def short_timeouts(tmp_path_factory):
    w = Ward(tmp_path_factory.mktemp("ward-actions"), tls=False,
             config={"actions": {"pendingTimeoutSeconds": 1, "runningTimeoutSeconds": 2}})
    w.start()
    yield w
    w.stop()


def test_actions_time_out_for_offline_devices(short_timeouts):
    w = short_timeouts
    token = w.app_token()
    s = FakeSensor(w, onboarding_info(w, token))
    s.enroll()
    pending = w.post(f"/api/machines/{s.device_id}/isolate", token, json={"Comment": "offline"}).json()
    running = w.post(f"/api/machines/{s.device_id}/runAntiVirusScan", token, json={"Comment": "stalls"}).json()
    report(w, s, running["id"], "InProgress")
    # The isolation is never picked up; the scan stops reporting.
    assert wait_for(lambda: w.get(f"/api/machineactions/{pending['id']}", token).json()["status"] == "TimeOut", 20)
    assert wait_for(lambda: w.get(f"/api/machineactions/{running['id']}", token).json()["status"] == "TimeOut", 20)
    assert report(w, s, running["id"], "Succeeded") == "TimeOut"
    assert w.post(f"/api/machines/{s.device_id}/isolate", token, json={"Comment": "retry"}).status_code == 201


def test_bulk_action_on_a_simulated_fleet(ward, admin_token, tmp_path):
    """`ward-sensor simulate` devices take actions over the same channel; one bulk request fans out."""
    import io
    import json
    import subprocess
    import tarfile

    from test_sensor import SENSOR, package
    pkg = package(ward, tmp_path)
    state = tmp_path / "sim"
    sim = subprocess.Popen([SENSOR, "simulate", "--onboarding", str(pkg), "--devices", "12", "--rate", "20",
                            "--duration", "40", "--state-dir", str(state), "--action-failures", "0"],
                           stdout=subprocess.PIPE, stderr=open(tmp_path / "sim.log", "w"))
    try:
        ids_file = state / "sim-identities.json"
        assert wait_for(ids_file.exists, 20), (tmp_path / "sim.log").read_text()
        devices = sorted(d["deviceId"] for d in json.loads(ids_file.read_text())["devices"].values())
        assert len(devices) == 12
        r = ward.post("/api/machineactions/bulk", admin_token,
                      json={"Type": "runAntiVirusScan", "ScanType": "Quick", "Comment": "fleet sweep",
                            "MachineIds": devices + ["0" * 40]})
        assert r.status_code == 200, r.text
        created = r.json()["value"]
        assert sorted(a["machineId"] for a in created) == devices
        assert r.json()["errors"] == [{"machineId": "0" * 40, "code": "ResourceNotFound",
                                       "message": f"Machine {'0' * 40} was not found"}]
        # A second sweep while the first is open is refused per device.
        again = ward.post("/api/machineactions/bulk", admin_token,
                          json={"Type": "RunAntiVirusScan", "Comment": "again", "MachineIds": devices[:2]}).json()
        assert again["value"] == [] and {e["message"] for e in again["errors"]} == {"Action is already in progress"}

        def statuses():
            return {ward.get(f"/api/machineactions/{a['id']}", admin_token).json()["status"] for a in created}
        assert wait_for(lambda: statuses() == {"Succeeded"}, 30), statuses()
        pkg_action = ward.post(f"/api/machines/{devices[0]}/collectInvestigationPackage", admin_token,
                               json={"Comment": "forensics"}).json()
        assert wait_for(lambda: ward.get(f"/api/machineactions/{pkg_action['id']}", admin_token).json()["status"]
                        == "Succeeded", 30)
        url = ward.get(f"/api/machineactions/{pkg_action['id']}/getPackageUri", admin_token).json()["value"]
        blob = ward.request("GET", url[len(ward.base):]).content
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            assert "manifest.json" in tar.getnames()
    finally:
        sim.terminate()
        out, _ = sim.communicate(timeout=60)
    summary = json.loads(out.decode().strip().splitlines()[-1])
    assert summary["actions"]["received"] >= 13 and summary["actions"]["failed"] == 0, summary


def test_offboard_revokes_the_device(ward, admin_token, device):
    a = ward.post(f"/api/machines/{device.device_id}/offboard", admin_token, json={"Comment": "decommissioned"})
    assert a.status_code == 201, a.text
    [got] = poll(ward, device)
    assert got["type"] == "Offboard"
    assert report(ward, device, got["id"], "Succeeded") == "Succeeded"
    assert ward.get("/sensor/v1/actions?wait=0", headers=device.auth).status_code == 401
    m = ward.get(f"/api/machines/{device.device_id}", admin_token).json()
    assert m["onboardingStatus"] == "Offboarded" and m["healthStatus"] == "Inactive"
