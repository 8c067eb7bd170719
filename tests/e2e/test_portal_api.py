"""The server side of the portal: its app registration and sign-in config, /api/rbac/me, the hunting
schema, saved queries, the device-group preview, and serving the built portal at / (SPA fallback,
no traversal, API namespaces keep MDE's 404)."""
import base64
import hashlib
import secrets
import uuid
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from conftest import MDE_RESOURCE, Ward, assert_mde_error, checked_api

PASSWORD = "Portal-password-42!"


@pytest.fixture(scope="module")
def people(ward, admin_token):
    """An analyst scoped to one device group, a second analyst, and a user without hunting rights."""
    tag = uuid.uuid4().hex[:6]
    api = checked_api(ward, admin_token)
    users = {n: api("POST", "/api/users", {"userPrincipalName": f"{n}-{tag}@corp.example", "password": PASSWORD})
             for n in ("analyst", "other", "settings")}
    analysts = api("POST", "/api/rbac/usergroups", {"name": f"analysts-{tag}", "members": [users["analyst"]["id"], users["other"]["id"]]})
    settings = api("POST", "/api/rbac/usergroups", {"name": f"settings-{tag}", "members": [users["settings"]["id"]]})
    api("POST", "/api/rbac/roles", {"name": f"analyst-{tag}", "permissions": ["ViewData", "AlertsInvestigation"],
                                    "assignedUserGroups": [analysts["id"]]})
    api("POST", "/api/rbac/roles", {"name": f"settings-{tag}", "permissions": ["ManageSecuritySettings"],
                                    "assignedUserGroups": [settings["id"]]})
    dg = api("POST", "/api/rbac/devicegroups", {"name": f"Portal web-{tag}", "rank": 1, "rules": {"name": [f"pw-{tag}-*"]},
                                                "userGroups": [analysts["id"]]})
    for n in ("web01", "web02"):
        ward.admin("machines", "register", "--name", f"pw-{tag}-{n}", "--tags", "portal")
    ward.admin("machines", "register", "--name", f"px-{tag}-db01")
    tokens = {n: ward.user_token(u["userPrincipalName"], PASSWORD) for n, u in users.items()}
    return {"tag": tag, "users": users, "dg": dg, "tokens": tokens, "api": api, "analysts": analysts}


def portal_client(ward):
    cfg = ward.get("/portal/config.json")
    assert cfg.status_code == 200, cfg.text
    body = cfg.json()
    assert body["resource"] == MDE_RESOURCE
    (tenant,) = [t for t in body["tenants"] if t["id"] == ward.tenant]
    return tenant["clientId"]


def test_portal_config_names_the_tenant_and_its_portal_app(ward, admin_token):
    client_id = portal_client(ward)
    apps = ward.get("/api/apps", admin_token).json()["value"]
    (portal,) = [a for a in apps if a["appId"] == client_id]
    assert portal["displayName"] == "Ward portal"


def test_portal_sign_in_with_code_and_pkce(ward):
    """What the SPA does: authorize page → code → token with the verifier, no secret."""
    client_id = portal_client(ward)
    redirect = f"http://127.0.0.1:{ward.port}/"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    form = {"client_id": client_id, "response_type": "code", "redirect_uri": redirect, "state": "s1",
            "scope": f"{MDE_RESOURCE}/.default offline_access openid", "code_challenge": challenge,
            "code_challenge_method": "S256", "username": ward.creds["adminUser"], "password": ward.creds["adminPassword"]}
    r = ward.post(f"/{ward.tenant}/oauth2/v2.0/authorize", data=form, allow_redirects=False)
    assert r.status_code == 302, r.text
    q = parse_qs(urlparse(r.headers["Location"]).query)
    assert q["state"] == ["s1"]
    tok = ward.post(f"/{ward.tenant}/oauth2/v2.0/token", data={
        "grant_type": "authorization_code", "client_id": client_id, "code": q["code"][0],
        "redirect_uri": redirect, "code_verifier": verifier})
    assert tok.status_code == 200, tok.text
    assert tok.json()["refresh_token"]
    me = ward.get("/api/rbac/me", tok.json()["access_token"]).json()
    assert me["isAdministrator"] and me["allDeviceGroups"]
    assert "ManagePortalSettings" in me["permissions"] and "Machine.Isolate" in me["scopes"]
    # A redirect URI that is not the portal's own is refused.
    form["redirect_uri"] = "https://evil.example/"
    bad = ward.post(f"/{ward.tenant}/oauth2/v2.0/authorize", data=form, allow_redirects=False)
    assert bad.status_code == 400 and "Location" not in bad.headers


def test_me_shows_roles_permissions_and_device_groups(ward, people, admin_token):
    me = ward.get("/api/rbac/me", people["tokens"]["analyst"]).json()
    assert me["userPrincipalName"] == people["users"]["analyst"]["userPrincipalName"]
    assert me["type"] == "User" and not me["isAdministrator"] and not me["allDeviceGroups"]
    assert me["roles"] == [f"analyst-{people['tag']}"]
    assert sorted(me["permissions"]) == ["AlertsInvestigation", "ViewData"]
    # Their group, and the groups granted to nobody, which every role reaches (the default group among
    # them until it is assigned; other tests of this server add more).
    groups = ward.get("/api/rbac/devicegroups", admin_token).json()["value"]
    reachable = {g["name"] for g in groups if not g["userGroups"] or people["analysts"]["id"] in g["userGroups"]}
    assert {g["name"] for g in me["deviceGroups"]} == reachable
    assert people["dg"]["name"] in reachable
    assert "Alert.ReadWrite" in me["scopes"]
    assert_mde_error(ward.get("/api/rbac/me"), 401, "Unauthorized")


def test_hunting_schema_lists_tables_and_columns(ward, people):
    r = ward.get("/api/advancedhunting/schema", people["tokens"]["analyst"])
    assert r.status_code == 200, r.text
    tables = {t["Name"]: t["Columns"] for t in r.json()["Tables"]}
    assert {"DeviceProcessEvents", "DeviceNetworkEvents", "AlertInfo", "DeviceInfo"} <= set(tables)
    cols = {c["Name"]: c["Type"] for c in tables["DeviceProcessEvents"]}
    assert cols["Timestamp"] == "datetime" and cols["ProcessCommandLine"] == "string"
    assert_mde_error(ward.get("/api/advancedhunting/schema", people["tokens"]["settings"]), 403, "Forbidden")


def test_saved_queries_private_shared_and_owned(ward, people, admin_token):
    path = "/api/advancedhunting/savedqueries"
    mine, other = people["tokens"]["analyst"], people["tokens"]["other"]
    private = ward.post(path, mine, json={"name": "my procs", "query": "DeviceProcessEvents | take 5"})
    assert private.status_code == 201, private.text
    shared = ward.post(path, mine, json={"name": "shared net", "query": "DeviceNetworkEvents | take 5",
                                         "description": "for the team", "shared": True}).json()
    p = private.json()
    assert p["shared"] is False and p["canEdit"] is True and p["createdBy"] == people["users"]["analyst"]["userPrincipalName"]
    seen_by_other = {q["name"]: q for q in ward.get(path, other).json()["value"]}
    assert "shared net" in seen_by_other and "my procs" not in seen_by_other
    assert seen_by_other["shared net"]["canEdit"] is False
    assert_mde_error(ward.get(f"{path}/{p['id']}", other), 404, "ResourceNotFound")
    assert_mde_error(ward.request("PATCH", f"{path}/{shared['id']}", other, json={"name": "mine now"}), 403, "Forbidden")
    assert_mde_error(ward.request("DELETE", f"{path}/{shared['id']}", other), 403, "Forbidden")
    upd = ward.request("PATCH", f"{path}/{p['id']}", mine, json={"shared": True, "query": "DeviceProcessEvents | take 1"})
    assert upd.status_code == 200 and upd.json()["shared"] is True and upd.json()["query"].endswith("take 1")
    # Validation: missing fields, wrong types, unknown fields.
    assert_mde_error(ward.post(path, mine, json={"name": "no query"}), 400, "MissingRequiredParameter")
    assert_mde_error(ward.post(path, mine, json={"name": "", "query": "x"}), 400, "InvalidInput")
    assert_mde_error(ward.post(path, mine, json={"name": "n", "query": "x", "shared": "yes"}), 400, "InvalidInput")
    assert_mde_error(ward.post(path, mine, json={"name": "n", "query": "x", "owner": "me"}), 400, "InvalidRequestBody")
    assert_mde_error(ward.post(path, people["tokens"]["settings"], json={"name": "n", "query": "x"}), 403, "Forbidden")
    # An administrator may delete anyone's; then it is gone for everyone.
    admin_user = ward.user_token(ward.creds["adminUser"], ward.creds["adminPassword"])
    assert ward.request("DELETE", f"{path}/{shared['id']}", admin_user).status_code == 204
    assert_mde_error(ward.get(f"{path}/{shared['id']}", mine), 404, "ResourceNotFound")
    assert ward.request("DELETE", f"{path}/{p['id']}", mine).status_code == 204


def test_device_group_preview_follows_rules_and_rank(ward, people, admin_token):
    tag = people["tag"]
    preview = lambda body: ward.post("/api/rbac/devicegroups/preview", admin_token, json=body)
    r = preview({"rank": 5, "rules": {"name": [f"p?-{tag}-*".replace("?", "*")]}})
    assert r.status_code == 200, r.text
    # Both web machines are already held by the rank-1 group; at rank 5 only the db machine is left.
    assert {m["computerDnsName"] for m in r.json()["value"]} == {f"px-{tag}-db01"}
    assert_mde_error(preview({"rank": 0, "rules": {"name": [f"p*-{tag}-*"]}}), 400, "InvalidInput")
    # Editing the existing group: its rules replaced, its rank kept.
    r = preview({"id": people["dg"]["id"], "rules": {"tag": ["portal"]}}).json()
    assert {m["computerDnsName"] for m in r["value"]} == {f"pw-{tag}-web01", f"pw-{tag}-web02"}
    assert all(m["rbacGroupName"] == people["dg"]["name"] for m in r["value"])
    assert_mde_error(preview({"rules": {"colour": ["red"]}}), 400, "InvalidInput")
    assert_mde_error(preview({"id": 999999, "rules": {}}), 404, "ResourceNotFound")
    assert_mde_error(ward.post("/api/rbac/devicegroups/preview", people["tokens"]["analyst"], json={"rules": {}}), 403, "Forbidden")
    # Nothing was saved.
    groups = ward.get("/api/rbac/devicegroups", admin_token).json()["value"]
    assert [g["rules"] for g in groups if g["id"] == people["dg"]["id"]] == [people["dg"]["rules"]]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A server with a small built portal of its own (an index and one hashed asset)."""
    root = tmp_path_factory.mktemp("webroot")
    (root / "assets").mkdir()
    (root / "index.html").write_text("<!doctype html><title>Ward</title><div id=app></div>")
    (root / "assets" / "index-abc123.js").write_text("console.log('portal')")
    (root.parent / "secret.txt").write_text("not for you")
    w = Ward(tmp_path_factory.mktemp("wardweb"), tls=False, server_args=["--web-root", str(root)]).start()
    yield w
    w.stop()


def test_portal_files_are_served_with_spa_fallback(served):
    index = served.get("/")
    assert index.status_code == 200 and "text/html" in index.headers["Content-Type"]
    assert index.headers["Cache-Control"] == "no-cache" and "frame-ancestors 'none'" in index.headers["Content-Security-Policy"]
    asset = served.get("/assets/index-abc123.js")
    assert asset.status_code == 200 and asset.headers["Content-Type"].startswith("text/javascript")
    assert "immutable" in asset.headers["Cache-Control"]
    again = served.get("/assets/index-abc123.js", headers={"If-None-Match": asset.headers["ETag"]})
    assert again.status_code == 304
    # Client routes answer the index so deep links and reloads work.
    for route in ("/devices", "/devices/abc", "/alert/da123", "/settings/roles"):
        r = served.get(route)
        assert r.status_code == 200 and "<div id=app>" in r.text, route
    # A missing file is a 404, not the index; traversal gets nothing outside the root.
    assert served.get("/assets/missing.js").status_code == 404
    for path in ("/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"):
        r = requests.get(served.base + path, timeout=10)
        assert "not for you" not in r.text, path
    # The API's namespaces keep MDE's error envelope.
    assert_mde_error(served.get("/api/nothing-here"), 404, "ResourceNotFound")
    assert_mde_error(served.get("/sensor/v1/nothing"), 404, "ResourceNotFound")
    assert served.request("POST", "/devices").status_code in (404, 405)
