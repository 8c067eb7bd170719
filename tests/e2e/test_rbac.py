"""RBAC for three team shapes, driven through the management API and checked through user tokens:
a global SOC, a tier-1/tier-2 split, and two segregated divisions under one central SOC."""
import uuid

import pytest

from conftest import assert_mde_error, checked_api

PASSWORD = "Correct-Horse-42!"


@pytest.fixture(scope="module")
def org(ward, admin_token):
    """Builds the organisation once; returns helpers and ids."""
    tag = uuid.uuid4().hex[:6]

    api = checked_api(ward, admin_token)

    def user(name):
        u = api("POST", "/api/users", {"userPrincipalName": f"{name}-{tag}@corp.example", "password": PASSWORD})
        return u

    def group(name, members):
        return api("POST", "/api/rbac/usergroups", {"name": f"{name}-{tag}", "members": [m["id"] for m in members]})

    def role(name, permissions, groups):
        return api("POST", "/api/rbac/roles", {"name": f"{name}-{tag}", "permissions": permissions,
                                               "assignedUserGroups": [g["id"] for g in groups]})

    users = {n: user(n) for n in ["global", "tier1", "tier2", "alice_a", "bob_b", "central", "norole", "settings"]}
    g = {
        "global": group("global-soc", [users["global"]]),
        "tier1": group("tier1", [users["tier1"]]),
        "tier2": group("tier2", [users["tier2"]]),
        "div_a": group("division-a", [users["alice_a"]]),
        "div_b": group("division-b", [users["bob_b"]]),
        "central": group("central-soc", [users["central"]]),
        "settings": group("settings-only", [users["settings"]]),
    }
    role("global-soc", ["ViewData", "AlertsInvestigation", "ActiveRemediation", "LiveResponseBasic"], [g["global"]])
    role("tier1", ["ViewData"], [g["tier1"]])
    role("tier2", ["ViewData", "AlertsInvestigation", "ActiveRemediation", "LiveResponseAdvanced"], [g["tier2"]])
    role("division-analyst", ["ViewData", "AlertsInvestigation"], [g["div_a"], g["div_b"]])
    role("central-soc", ["ViewData", "AlertsInvestigation", "ActiveRemediation"], [g["central"]])
    role("settings-only", ["ManageSecuritySettings"], [g["settings"]])

    dg_a = api("POST", "/api/rbac/devicegroups", {
        "name": f"Division A-{tag}", "rank": 1, "rules": {"name": [f"a-{tag}-*"]},
        "userGroups": [g["div_a"]["id"], g["central"]["id"], g["global"]["id"], g["tier1"]["id"], g["tier2"]["id"]]})
    dg_b = api("POST", "/api/rbac/devicegroups", {
        "name": f"Division B-{tag}", "rank": 2, "rules": {"name": [f"b-{tag}-*"]},
        "userGroups": [g["div_b"]["id"], g["central"]["id"], g["global"]["id"], g["tier1"]["id"], g["tier2"]["id"]]})
    machines = {
        "a1": ward.admin("machines", "register", "--name", f"a-{tag}-web01", "--tags", "prod"),
        "a2": ward.admin("machines", "register", "--name", f"a-{tag}-db01"),
        "b1": ward.admin("machines", "register", "--name", f"b-{tag}-web01"),
    }
    assert machines["a1"]["rbacGroupId"] == dg_a["id"]
    assert machines["b1"]["rbacGroupId"] == dg_b["id"]
    tokens = {n: ward.user_token(u["userPrincipalName"], PASSWORD) for n, u in users.items()}
    return {"tag": tag, "users": users, "groups": g, "dg_a": dg_a, "dg_b": dg_b, "machines": machines,
            "tokens": tokens, "api": api}


def visible_machines(ward, token, tag):
    r = ward.get("/api/machines", token)
    assert r.status_code == 200, r.text
    return {m["computerDnsName"] for m in r.json()["value"] if tag in m["computerDnsName"]}


def test_global_soc_sees_every_division(ward, org):
    tag = org["tag"]
    assert visible_machines(ward, org["tokens"]["global"], tag) == {f"a-{tag}-web01", f"a-{tag}-db01", f"b-{tag}-web01"}


def test_segregated_divisions_see_only_their_devices(ward, org):
    tag = org["tag"]
    assert visible_machines(ward, org["tokens"]["alice_a"], tag) == {f"a-{tag}-web01", f"a-{tag}-db01"}
    assert visible_machines(ward, org["tokens"]["bob_b"], tag) == {f"b-{tag}-web01"}
    # A device outside the caller's groups answers 404, by id and by name, exactly like a missing one.
    b1 = org["machines"]["b1"]["id"]
    outside = ward.get(f"/api/machines/{b1}", org["tokens"]["alice_a"])
    assert_mde_error(outside, 404, "ResourceNotFound")
    missing = ward.get(f"/api/machines/{'0' * 40}", org["tokens"]["alice_a"])
    assert_mde_error(missing, 404, "ResourceNotFound")
    assert_mde_error(ward.get(f"/api/machines/b-{tag}-web01", org["tokens"]["alice_a"]), 404, "ResourceNotFound")
    assert ward.get(f"/api/machines/{b1}", org["tokens"]["bob_b"]).status_code == 200


def test_central_soc_above_divisions_sees_both(ward, org):
    tag = org["tag"]
    seen = visible_machines(ward, org["tokens"]["central"], tag)
    assert seen == {f"a-{tag}-web01", f"a-{tag}-db01", f"b-{tag}-web01"}
    m = ward.get(f"/api/machines/{org['machines']['b1']['id']}", org["tokens"]["central"]).json()
    assert m["rbacGroupName"] == f"Division B-{tag}" and m["rbacGroupId"] == org["dg_b"]["id"]


def test_tiered_soc(ward, org):
    tag = org["tag"]
    # Both tiers read devices; neither may manage the portal.
    for tier in ("tier1", "tier2"):
        assert len(visible_machines(ward, org["tokens"][tier], tag)) == 3
        assert_mde_error(ward.get("/api/rbac/roles", org["tokens"][tier]), 403, "Forbidden")
    # Tier 2's role carries remediation; tier 1's does not (checked through the access summary).
    assert_mde_error(ward.post("/api/rbac/roles", org["tokens"]["tier1"], json={"name": "x"}), 403, "Forbidden")


def test_user_without_view_permission_gets_403(ward, org):
    assert_mde_error(ward.get("/api/machines", org["tokens"]["settings"]), 403, "Forbidden")


def test_user_without_any_role_sees_nothing(ward, org):
    assert_mde_error(ward.get("/api/machines", org["tokens"]["norole"]), 403, "Forbidden")
    assert_mde_error(ward.get(f"/api/machines/{org['machines']['a1']['id']}", org["tokens"]["norole"]), 404,
                     "ResourceNotFound")


def test_app_tokens_are_tenant_wide(ward, admin_token, org):
    tag = org["tag"]
    assert len(visible_machines(ward, admin_token, tag)) == 3


def test_app_without_permission_gets_403(ward, org):
    app = ward.admin("apps", "create", "--name", "alerts-only", "--permissions", "Alert.Read.All")
    token = ward.app_token(app["clientId"], app["clientSecret"])
    assert_mde_error(ward.get("/api/machines", token), 403, "Forbidden")
    assert_mde_error(ward.get("/api/rbac/roles", token), 403, "Forbidden")


def test_regrouping_follows_rule_changes(ward, org):
    """Changing a group's rules moves devices at once; membership is computed by the server."""
    tag = org["tag"]
    api = org["api"]
    api("PATCH", f"/api/rbac/devicegroups/{org['dg_b']['id']}", {"rules": {"name": [f"b-{tag}-*", f"a-{tag}-db*"]},
                                                               "rank": 0 + 1})
    api("PATCH", f"/api/rbac/devicegroups/{org['dg_a']['id']}", {"rank": 2})
    try:
        assert visible_machines(ward, org["tokens"]["bob_b"], tag) == {f"b-{tag}-web01", f"a-{tag}-db01"}
        assert visible_machines(ward, org["tokens"]["alice_a"], tag) == {f"a-{tag}-web01"}
    finally:
        api("PATCH", f"/api/rbac/devicegroups/{org['dg_b']['id']}", {"rules": {"name": [f"b-{tag}-*"]}, "rank": 2})
        api("PATCH", f"/api/rbac/devicegroups/{org['dg_a']['id']}", {"rank": 1})
    assert visible_machines(ward, org["tokens"]["alice_a"], tag) == {f"a-{tag}-web01", f"a-{tag}-db01"}


def test_management_changes_are_audited(ward, admin_token, org):
    r = ward.get("/api/auditlogs?$filter=action eq 'POST /api/rbac/roles' and result eq 'Success'&$top=50", admin_token)
    assert r.status_code == 200, r.text
    entries = r.json()["value"]
    assert len(entries) >= 6
    assert all(e["actorType"] == "Application" and e["target"].startswith("role:") for e in entries)
    # Non-admins cannot read it.
    assert_mde_error(ward.get("/api/auditlogs", org["tokens"]["tier2"]), 403, "Forbidden")


def test_admin_cli_changes_are_audited(ward, admin_token, org):
    r = ward.get("/api/auditlogs?$filter=actorType eq 'System' and action eq 'ward admin machines register'",
                 admin_token)
    assert r.status_code == 200, r.text
    targets = {e["target"] for e in r.json()["value"]}
    assert f"a-{org['tag']}-web01" in targets
