"""Indicators of compromise: upsert, import, delete and batch delete with MDE's shapes, enums and
errors; apps with Ti.ReadWrite see only their own indicators."""
import uuid

import pytest

from conftest import assert_mde_error, new_app_token
from shapes import assert_shape


def new_app(ward, admin_token, permissions):
    return new_app_token(ward, admin_token, permissions, "ti")


def indicator(value, kind="FileSha1", **extra):
    body = {"indicatorValue": value, "indicatorType": kind, "action": "AlertAndBlock", "title": "bad file",
            "description": "known bad", "severity": "High"}
    body.update(extra)
    return body


def test_submit_update_and_shape(ward, admin_token):
    sha1 = uuid.uuid4().hex + "abcdef12"
    r = ward.post("/api/indicators", admin_token, json=indicator(sha1.upper(), recommendedActions="isolate"))
    assert r.status_code == 200, r.text
    first = r.json()
    assert_shape("Indicator", first, extra_ok=["@odata.context"])
    assert first["indicatorValue"] == sha1 and first["sourceType"] == "AadApp"
    # Upsert on type + value: the same indicator again updates it.
    again = ward.post("/api/indicators", admin_token, json=indicator(sha1, action="Block", title="still bad")).json()
    assert again["id"] == first["id"] and again["action"] == "Block" and again["title"] == "still bad"
    listed = ward.get(f"/api/indicators?$filter=indicatorValue eq '{sha1}'", admin_token).json()["value"]
    assert [i["id"] for i in listed] == [first["id"]]
    for kind, value in [("IpAddress", "203.0.113.7"), ("IpAddress", "198.51.100.0/24"), ("DomainName", "Evil.Example"),
                        ("Url", "http://evil.example/a.sh"), ("FileSha256", "c" * 64), ("FileMd5", "d" * 32),
                        ("CertificateThumbprint", "e" * 40)]:
        r = ward.post("/api/indicators", admin_token, json=indicator(value, kind))
        assert r.status_code == 200, (kind, r.text)
    assert ward.get("/api/indicators?$filter=indicatorValue eq 'evil.example'", admin_token).json()["value"]


def test_bad_indicators(ward, admin_token):
    cases = [
        (indicator("nothex"), "InvalidHashValue"),
        (indicator("a" * 64, "FileSha1"), "InvalidHashValue"),
        (indicator("300.1.1.1", "IpAddress"), "InvalidIpAddress"),
        (indicator("10.0.0.1/8", "IpAddress"), "InvalidIpAddress"),
        (indicator("-bad-.example", "DomainName"), "InvalidDomainName"),
        (indicator("not a url", "Url"), "InvalidUrl"),
        (indicator("a" * 40, "Registry"), "InvalidInput"),
        (indicator("a" * 40, action="Explode"), "InvalidInput"),
        (indicator("a" * 40, action="Audit"), "InvalidInput"),  # Audit needs generateAlert
        (indicator("a" * 40, severity="Severe"), "InvalidInput"),
        (indicator("a" * 40, rbacGroupNames=["no such group"]), "InvalidInput"),
        (indicator("a" * 40, expirationTime="2001-01-01T00:00:00Z"), "InvalidInput"),
    ]
    for body, code in cases:
        assert_mde_error(ward.post("/api/indicators", admin_token, json=body), 400, code)
    body = indicator("a" * 40)
    del body["title"]
    assert_mde_error(ward.post("/api/indicators", admin_token, json=body), 400, "MissingRequiredParameter")


def test_import_delete_and_batch_delete(ward, admin_token):
    good = [indicator(uuid.uuid4().hex + "00000000") for _ in range(3)]
    r = ward.post("/api/indicators/import", admin_token, json={"Indicators": good + [indicator("zz")]})
    assert r.status_code == 200, r.text
    results = r.json()["value"]
    assert [x["isFailed"] for x in results] == [False, False, False, True]
    assert results[3]["failureReason"] and results[3]["id"] is None
    ids = [x["id"] for x in results[:3]]
    assert_mde_error(ward.post("/api/indicators/import", admin_token, json={"Indicators": [good[0]] * 501}), 400,
                     "MaximumBatchSizeExceeded")
    assert ward.request("DELETE", f"/api/indicators/{ids[0]}", admin_token).status_code == 204
    assert_mde_error(ward.request("DELETE", f"/api/indicators/{ids[0]}", admin_token), 404, "ResourceNotFound")
    # Batch delete is all or none.
    assert_mde_error(ward.post("/api/indicators/BatchDelete", admin_token, json={"IndicatorIds": [ids[1], "999999999"]}),
                     404, "ResourceNotFound")
    assert ward.get(f"/api/indicators?$filter=indicatorValue eq '{good[1]['indicatorValue']}'", admin_token).json()["value"]
    assert ward.post("/api/indicators/BatchDelete", admin_token, json={"IndicatorIds": ids[1:]}).status_code == 204
    assert not ward.get(f"/api/indicators?$filter=indicatorValue eq '{good[1]['indicatorValue']}'", admin_token).json()["value"]
    assert_mde_error(ward.post("/api/indicators/BatchDelete", admin_token, json={"IndicatorIds": []}), 400, "InvalidInput")


def test_apps_with_ti_readwrite_see_only_their_own(ward, admin_token):
    own = new_app(ward, admin_token, ["Ti.ReadWrite"])
    other = new_app(ward, admin_token, ["Ti.ReadWrite"])
    mine = ward.post("/api/indicators", own, json=indicator(uuid.uuid4().hex + "11111111")).json()
    assert mine["createdBy"]
    assert [i["id"] for i in ward.get("/api/indicators", own).json()["value"]] == [mine["id"]]
    assert mine["id"] not in [i["id"] for i in ward.get("/api/indicators", other).json()["value"]]
    assert mine["id"] in [i["id"] for i in ward.get("/api/indicators", admin_token).json()["value"]]
    assert_mde_error(ward.request("DELETE", f"/api/indicators/{mine['id']}", other), 404, "ResourceNotFound")
    reader = new_app(ward, admin_token, ["Machine.Read.All"])
    assert_mde_error(ward.post("/api/indicators", reader, json=indicator("b" * 40)), 403, "Forbidden")


CSV_HEADER = ("IndicatorType,IndicatorValue,ExpirationTime,Action,Severity,Title,Description,RecommendedActions,"
              "RbacGroups,Category,MitreTechniques,GenerateAlert\r\n")


def test_csv_import(ward, admin_token):
    sha = uuid.uuid4().hex * 2
    domain = f"csv-{uuid.uuid4().hex[:8]}.example"
    body = (CSV_HEADER +
            f'FileSha256,{sha},2031-01-01T00:00:00Z,Alert,High,CSV tool,"bad, ""really""",Reimage,,Malware,T1059,TRUE\r\n'
            f"DomainName,{domain},,Block,Low,CSV domain,,,,,,\r\n"
            "FileMd5,nothex,,Alert,High,bad hash,,,,,,TRUE\r\n")
    r = ward.post("/api/indicators/import", admin_token, data=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    results = r.json()["value"]
    assert [x["isFailed"] for x in results] == [False, False, True]
    assert results[2]["indicator"] == "nothex" and results[2]["failureReason"]
    listed = ward.get(f"/api/indicators?$filter=indicatorValue eq '{sha}'", admin_token).json()["value"]
    assert len(listed) == 1 and listed[0]["description"] == 'bad, "really"' and listed[0]["generateAlert"] is True
    assert listed[0]["expirationTime"].startswith("2031-01-01")
    # Whole-file problems are one MDE error, nothing imported.
    r = ward.post("/api/indicators/import", admin_token, data="Colour,IndicatorValue\nred,x\n",
                  headers={"Content-Type": "text/csv"})
    assert_mde_error(r, 400, "InvalidInput")
    rows = "".join(f"DomainName,d{i}.{domain},,Block,Low,t,,,,,,\n" for i in range(501))
    r = ward.post("/api/indicators/import", admin_token, data=CSV_HEADER + rows, headers={"Content-Type": "text/csv"})
    assert_mde_error(r, 400, "MaximumBatchSizeExceeded")


def test_stix_bundle_import(ward, admin_token):
    ip = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    domain = f"stix-{uuid.uuid4().hex[:8]}.example"
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--1", "name": "C2 infra", "description": "beacon",
         "pattern_type": "stix", "valid_until": "2032-02-02T00:00:00Z",
         "pattern": f"[ipv4-addr:value = '{ip}' OR domain-name:value = '{domain}']"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--2", "pattern_type": "stix",
         "pattern": "[process:name = 'evil']"},
        {"type": "malware", "id": "malware--1", "name": "ignored"}]}
    r = ward.post("/api/indicators/import", admin_token, json=bundle)
    assert r.status_code == 200, r.text
    results = r.json()["value"]
    assert [(x["indicator"], x["isFailed"]) for x in results] == [(ip, False), (domain, False), ("indicator--2", True)]
    assert "not supported" in results[2]["failureReason"]
    got = ward.get(f"/api/indicators?$filter=indicatorValue eq '{domain}'", admin_token).json()["value"][0]
    assert got["title"] == "C2 infra" and got["action"] == "Alert" and got["generateAlert"] is True
    assert got["indicatorType"] == "DomainName" and got["expirationTime"].startswith("2032-02-02")
    # The STIX media type is honoured even without "type": "bundle" sniffing.
    r = ward.post("/api/indicators/import", admin_token, data='{"type":"identity"}',
                  headers={"Content-Type": "application/stix+json"})
    assert_mde_error(r, 400, "InvalidInput")


def test_blocking_indicators_reach_the_sensors_of_their_device_groups(ward, admin_token):
    """Heartbeat replies carry the policy version; GET /sensor/v1/policy lists the blocking and allow
    indicators that apply to the device's group (docs/sensor-protocol.md, "Policy")."""
    from sensor_helpers import FakeSensor, onboarding_info, wait_for
    tag = uuid.uuid4().hex[:6]
    group = ward.post("/api/rbac/devicegroups", admin_token, json={
        "name": f"Policy-{tag}", "rank": 1, "rules": {"name": [f"policy-{tag}-in*"]}})
    assert group.status_code in (200, 201), group.text
    inside = FakeSensor(ward, onboarding_info(ward, admin_token), name=f"policy-{tag}-in.corp.local")
    outside = FakeSensor(ward, onboarding_info(ward, admin_token), name=f"policy-{tag}-out.corp.local")
    inside.enroll(), outside.enroll()

    def version(sensor):
        r = ward.post("/sensor/v1/heartbeat", json={}, headers=sensor.auth)
        assert r.status_code == 200, r.text
        return r.json()["policyVersion"]

    def policy(sensor):
        r = ward.get("/sensor/v1/policy", headers=sensor.auth)
        assert r.status_code == 200, r.text
        return r.json()

    before = version(inside)
    block, alert_only, scoped, allowed = (uuid.uuid4().hex + uuid.uuid4().hex for _ in range(4))
    for value, action, extra in ((block, "Block", {}), (alert_only, "Alert", {}),
                                 (scoped, "AlertAndBlock", {"rbacGroupNames": [f"Policy-{tag}"]}),
                                 (allowed, "Allowed", {})):
        r = ward.post("/api/indicators", admin_token, json=indicator(value, "FileSha256", action=action, **extra))
        assert r.status_code == 200, r.text
    assert wait_for(lambda: version(inside) != before, 10)
    mine = {(i["indicatorValue"], i["action"]) for i in policy(inside)["indicators"]}
    assert {(block, "Block"), (scoped, "AlertAndBlock"), (allowed, "Allowed")} <= mine
    assert (alert_only, "Alert") not in mine
    theirs = {i["indicatorValue"] for i in policy(outside)["indicators"]}
    assert block in theirs and allowed in theirs and scoped not in theirs and alert_only not in theirs
    # The version is the ETag: an unchanged policy is not sent again.
    current = policy(inside)
    assert current["version"] == version(inside)
    r = ward.get("/sensor/v1/policy", headers=dict(inside.auth, **{"If-None-Match": f'"{current["version"]}"'}))
    assert r.status_code == 304
    assert ward.get("/sensor/v1/policy").status_code == 401
