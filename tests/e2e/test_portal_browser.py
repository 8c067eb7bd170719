"""The portal in a real browser: web/tests/portal.test.mjs drives Debian's Chromium (headless, through
playwright-core) against a ward server that serves the built portal, with a simulated fleet, an
administrator and a tier-1 analyst scoped to one device group. Screenshots of every main screen are
kept in build/test-artifacts/portal/."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import Ward, checked_api
from sensor_helpers import wait_for
from test_sensor import SENSOR, package

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WEB = os.path.join(ROOT, "web")
DIST = os.path.join(WEB, "dist")
ARTIFACTS = os.path.join(ROOT, "build", "test-artifacts", "portal")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TIER1_PASSWORD = "Tier-one-analyst-42!"


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    if not os.path.isfile(os.path.join(DIST, "index.html")):
        pytest.fail("the portal is not built: run `make web` (make test does)")
    if not shutil.which("node") or not os.path.exists(CHROMIUM):
        pytest.fail("node and /usr/bin/chromium are needed (scripts/install-deps.sh installs them)")
    tmp = tmp_path_factory.mktemp("portal")
    w = Ward(tmp / "data", tls=False, server_args=["--web-root", DIST, "--no-rate-limits"]).start()
    token = w.app_token()
    api = checked_api(w, token)
    tier1 = api("POST", "/api/users", {"userPrincipalName": "tier1@contoso.example", "displayName": "Tina Tier-One",
                                       "password": TIER1_PASSWORD})
    group = api("POST", "/api/rbac/usergroups", {"name": "Tier 1", "members": [tier1["id"]]})
    api("POST", "/api/rbac/roles", {"name": "Tier 1 analysts", "permissions": ["ViewData", "AlertsInvestigation"],
                                    "assignedUserGroups": [group["id"]]})
    web_group = api("POST", "/api/rbac/devicegroups", {"name": "Web servers", "rank": 1, "rules": {"tag": ["web"]},
                                                       "userGroups": [group["id"]]})
    # A group granted to nobody is open to every role: the default group goes to administrators only.
    groups = api("GET", "/api/rbac/devicegroups")["value"]
    admins = [g for g in api("GET", "/api/rbac/usergroups")["value"] if g["name"] == "Ward administrators"]
    default = [g for g in groups if g["isDefault"]][0]
    api("PATCH", f"/api/rbac/devicegroups/{default['id']}", {"userGroups": [admins[0]["id"]]})

    sim = subprocess.Popen([SENSOR, "simulate", "--onboarding", str(package(w, tmp)), "--devices", "8", "--rate", "30",
                            "--state-dir", str(tmp / "fleet"), "--action-failures", "0"],
                           stdout=subprocess.DEVNULL, stderr=open(tmp / "fleet.log", "w"))
    try:
        machines = lambda: api("GET", "/api/machines")["value"]
        assert wait_for(lambda: len(machines()) == 8, 60), (tmp / "fleet.log").read_text()
        assert wait_for(lambda: any(m["rbacGroupId"] == web_group["id"] for m in machines()), 30)
        # Telemetry reaches the store, so timelines, hunting and home charts have data.
        hunt = lambda: w.post("/api/advancedqueries/run", token, json={"Query": "DeviceProcessEvents | count"}).json()
        assert wait_for(lambda: hunt()["Results"][0]["Count"] > 0, 60)
        alerts = lambda: api("GET", "/api/alerts?$top=1")["value"]
        wait_for(lambda: len(alerts()) > 0, 60)
        ms = machines()
        env = {
            "WARD_URL": w.base, "CHROMIUM": CHROMIUM, "ARTIFACTS": ARTIFACTS,
            "ADMIN_USER": w.creds["adminUser"], "ADMIN_PASSWORD": w.creds["adminPassword"],
            "TIER1_USER": tier1["userPrincipalName"], "TIER1_PASSWORD": TIER1_PASSWORD,
            "WEB_DEVICES": json.dumps(sorted(m["computerDnsName"] for m in ms if m["rbacGroupId"] == web_group["id"])),
            "OTHER_DEVICES": json.dumps(sorted(m["computerDnsName"] for m in ms if m["rbacGroupId"] != web_group["id"])),
            "ISOLATE_DEVICE": sorted(m["id"] for m in ms if m["rbacGroupId"] != web_group["id"])[0],
            "ALERT_ID": (alerts() or [{"id": ""}])[0]["id"],
            "DB_DEVICES": str(sum("db" in m["machineTags"] for m in ms)),
        }
        yield env
    finally:
        sim.terminate()
        sim.wait(timeout=20)
        w.stop()


def test_portal_in_chromium(portal):
    os.makedirs(ARTIFACTS, exist_ok=True)
    out = subprocess.run(["node", "--test", "--test-reporter=spec", "tests/portal.test.mjs"], cwd=WEB,
                         env={**os.environ, **portal}, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-20000:] + out.stderr[-5000:]
    shots = sorted(os.listdir(ARTIFACTS))
    assert len([s for s in shots if s.endswith(".png")]) >= 12, shots
