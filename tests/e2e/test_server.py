"""Server core: bad input, limits, rate limiting, health and metrics, restart, shutdown."""
import socket
import ssl
import time

import pytest
import requests

from conftest import Ward, assert_mde_error


def test_health_ready_metrics(ward, admin_token):
    assert ward.get("/healthz").json() == {"status": "ok"}
    assert ward.get("/readyz").status_code == 200
    ward.get("/api/machines", admin_token)
    text = ward.get("/metrics").text
    assert 'ward_http_requests_total{route="/api/machines",method="GET",status="200"}' in text
    assert "ward_http_request_duration_seconds_bucket" in text
    assert 'ward_tokens_issued_total{grant_type="client_credentials",result="issued"}' in text
    assert "ward_authz_denials_total" in text


def test_every_response_has_a_request_id(ward):
    r = ward.get("/healthz")
    assert len(r.headers["x-request-id"]) == 36


def test_unknown_route_and_versioned_paths(ward, admin_token):
    assert_mde_error(ward.get("/api/nothing-here", admin_token), 404, "ResourceNotFound")
    r = ward.get("/api/v1.0/machines", admin_token)
    assert r.status_code == 200 and r.headers["OData-Version"] == "4.0"


def test_malformed_json_wrong_types_and_unknown_fields(ward, admin_token):
    before = len(ward.get("/api/rbac/roles", admin_token).json()["value"])
    r = ward.post("/api/rbac/roles", admin_token, data="{not json", headers={"Content-Type": "application/json"})
    assert_mde_error(r, 400, "InvalidRequestBody")
    assert_mde_error(ward.post("/api/rbac/roles", admin_token, json={"name": 42}), 400, "InvalidInput")
    assert_mde_error(ward.post("/api/rbac/roles", admin_token, json={"name": "x", "permisions": []}), 400, "InvalidInput")
    assert_mde_error(ward.post("/api/rbac/roles", admin_token, json={"name": "x", "permissions": ["Root"]}), 400, "InvalidInput")
    assert_mde_error(ward.post("/api/rbac/roles", admin_token, json=[1, 2]), 400, "InvalidRequestBody")
    assert_mde_error(ward.post("/api/rbac/devicegroups", admin_token, json={"name": "g", "rules": {"tag": ["x"] * 11}}),
                     400, "InvalidInput")
    assert_mde_error(ward.post("/api/rbac/devicegroups", admin_token, json={"name": "g", "remediationLevel": "Yolo"}),
                     400, "InvalidInput")
    assert len(ward.get("/api/rbac/roles", admin_token).json()["value"]) == before


def test_sql_looking_strings_are_just_data(ward, admin_token):
    name = "x'); DROP TABLE documents; --"
    r = ward.post("/api/rbac/usergroups", admin_token, json={"name": name})
    assert r.status_code == 201, r.text
    found = ward.get("/api/rbac/usergroups?$filter=name eq 'x''); DROP TABLE documents; --'", admin_token).json()["value"]
    assert [g["name"] for g in found] == [name]
    assert_mde_error(ward.get("/api/machines/1' OR '1'='1", admin_token), 404, "ResourceNotFound")


def test_bad_odata(ward, admin_token):
    for q in ["$filter=name eq", "$filter=nosuchprop eq 'x'", "$top=-1", "$top=100001", "$filter=(name eq 'a'",
              "$bogus=1", "$filter=name eq 'unterminated"]:
        assert_mde_error(ward.get(f"/api/rbac/roles?{q}", admin_token), 400, "ODataError")


def test_odata_paging(ward, admin_token):
    for i in range(3):
        ward.post("/api/rbac/usergroups", admin_token, json={"name": f"paging-{i}-{time.time()}"})
    page = ward.get("/api/rbac/usergroups?$top=2", admin_token).json()
    assert len(page["value"]) == 2 and "@odata.nextLink" in page
    nxt = page["@odata.nextLink"]
    assert "$skip=2" in nxt and "$top=2" in nxt
    second = requests.get(nxt, headers={"Authorization": "Bearer " + admin_token}, verify=ward.ca).json()
    assert second["value"] and second["value"][0]["id"] not in {g["id"] for g in page["value"]}


def test_oversized_body_is_413(ward, admin_token):
    r = ward.post("/api/rbac/roles", admin_token, data=b"{" + b" " * (5 * 1024 * 1024) + b"}",
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"]


def test_oversized_headers_are_rejected(ward):
    r = ward.get("/healthz", headers={"X-Big": "a" * 64 * 1024})
    assert r.status_code in (400, 431)


def test_garbage_on_the_socket_does_not_hurt(ward):
    ctx = ssl.create_default_context(cafile=ward.ca)
    with socket.create_connection(("127.0.0.1", ward.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"\x00\xffNOT HTTP AT ALL\r\n\r\n")
            try:
                s.recv(4096)
            except (ConnectionError, ssl.SSLError, socket.timeout):
                pass
    assert ward.get("/healthz").status_code == 200


def test_plain_http_to_tls_port_is_refused(ward):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{ward.port}/healthz", timeout=5)


def test_rate_limit_returns_429_with_retry_after(tmp_path):
    w = Ward(tmp_path / "rl", tls=False,
             config={"rateLimits": {"enabled": True, "perMinute": 100, "perHour": 1500}})
    w.start()
    try:
        token = w.app_token()
        codes = [w.get("/api/machines", token).status_code for _ in range(101)]
        assert codes[:100] == [200] * 100
        assert codes[100] == 429
        r = w.get("/api/machines", token)
        assert_mde_error(r, 429, "TooManyRequests")
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        # Limits are per endpoint: another route still answers.
        assert w.get("/api/rbac/roles", token).status_code == 200
    finally:
        w.stop()


def test_restart_keeps_all_state_and_tokens(tmp_path):
    w = Ward(tmp_path / "restart", tls=False)
    w.start()
    token = w.app_token()
    role = w.post("/api/rbac/roles", token, json={"name": "survivor", "permissions": ["ViewData"]}).json()
    user = w.post("/api/users", token, json={"userPrincipalName": "keep@corp.example", "password": "A-long-password-1"}).json()
    assert w.stop() == 0  # clean exit on SIGTERM
    w.start()
    try:
        assert w.get(f"/api/rbac/roles/{role['id']}", token).json()["name"] == "survivor"
        assert w.user_token("keep@corp.example", "A-long-password-1")
        logs = w.get("/api/auditlogs", token).json()["value"]
        assert {e["target"] for e in logs} >= {f"role:{role['id']}", f"user:{user['id']}"}
    finally:
        w.stop()
