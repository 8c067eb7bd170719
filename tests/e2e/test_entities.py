"""Files, IPs, domains and users (MDE investigation API §3.5) and a device's logon users, computed
from telemetry of three enrolled devices: shapes key by key, prevalence, input errors, 404s,
permissions, and the scope of a user who sees only one of the devices."""
import ipaddress
import time
import uuid

import pytest

from conftest import assert_mde_error
from sensor_helpers import FakeSensor, onboarding_info, wait_for
from shapes import check_value

PASSWORD = "Correct-Horse-42!"
HOUR = 3600

# Property lists of mde-api.md §4 with their JSON types ("?" = may be null).
FILE = {"sha1": "string?", "sha256": "string?", "md5": "string?", "globalPrevalence": "integer?",
        "globalFirstObserved": "datetime?", "globalLastObserved": "datetime?", "size": "integer?",
        "fileType": "string?", "isPeFile": "boolean", "filePublisher": "string?", "fileProductName": "string?",
        "signer": "string?", "issuer": "string?", "signerHash": "string?", "isValidCertificate": "boolean",
        "determinationType": "string?", "determinationValue": "string?"}
FILE_STATS = {"sha1": "string?", "organizationPrevalence": "integer", "orgFirstSeen": "datetime?",
              "orgLastSeen": "datetime?", "globallyPrevalence": "integer?", "globalFirstObserved": "datetime?",
              "globalLastObserved": "datetime?", "topFileNames": "array"}
IP_STATS = {"ipAddress": "string", "organizationPrevalence": "integer", "orgFirstSeen": "datetime?",
            "orgLastSeen": "datetime?"}
DOMAIN_STATS = {"host": "string", "organizationPrevalence": "integer", "orgFirstSeen": "datetime?",
                "orgLastSeen": "datetime?"}
USER = {"id": "string", "accountName": "string", "accountDomain": "string?", "accountSid": "string?",
        "firstSeen": "datetime", "lastSeen": "datetime", "mostPrevalentMachineId": "string?",
        "leastPrevalentMachineId": "string?", "logonTypes": "string?", "logOnMachinesCount": "integer",
        "isDomainAdmin": "boolean", "isOnlyNetworkUser": "boolean?"}


def assert_props(name, spec, obj, context=None):
    """Exactly the documented properties (plus @odata.context where given), each of its type."""
    expected = set(spec) | ({"@odata.context"} if context else set())
    assert set(obj) == expected, f"{name}: missing {sorted(expected - set(obj))}, extra {sorted(set(obj) - expected)}"
    for prop, kind in spec.items():
        check_value(name, prop, kind, obj[prop])
    if context:
        assert obj["@odata.context"].endswith("/api/$metadata#" + context), obj["@odata.context"]


def at(hours_ago):
    return time.strftime("%Y-%m-%dT%H:%M:%S.1234567Z", time.gmtime(time.time() - hours_ago * HOUR))


@pytest.fixture(scope="module")
def env(ward, admin_token):
    tag = uuid.uuid4().hex[:8]

    def api(method, path, body=None):
        r = ward.request(method, path, admin_token, json=body)
        assert r.status_code in (200, 201, 204), f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    # A scoped analyst whose device group holds device A only; B1 and B2 sit in a group of others.
    analyst = api("POST", "/api/users", {"userPrincipalName": f"ent-analyst-{tag}@corp.example", "password": PASSWORD})
    mine = api("POST", "/api/rbac/usergroups", {"name": f"ent-mine-{tag}", "members": [analyst["id"]]})
    others = api("POST", "/api/rbac/usergroups", {"name": f"ent-others-{tag}", "members": []})
    api("POST", "/api/rbac/roles", {"name": f"ent-viewer-{tag}", "permissions": ["ViewData"],
                                     "assignedUserGroups": [mine["id"]]})
    api("POST", "/api/rbac/devicegroups", {"name": f"ent-A-{tag}", "rank": 1, "rules": {"name": [f"enta-{tag}-*"]},
                                            "userGroups": [mine["id"]]})
    api("POST", "/api/rbac/devicegroups", {"name": f"ent-B-{tag}", "rank": 2, "rules": {"name": [f"entb-{tag}-*"]},
                                            "userGroups": [others["id"]]})
    info = onboarding_info(ward, admin_token)
    a = FakeSensor(ward, info, name=f"enta-{tag}-web01.corp.local")
    b1 = FakeSensor(ward, info, name=f"entb-{tag}-db01.corp.local")
    b2 = FakeSensor(ward, info, name=f"entb-{tag}-db02.corp.local")
    for s in (a, b1, b2):
        s.enroll()

    n = int(tag[:6], 16)
    sha1 = "1" * 32 + tag              # on A, B1 and B2
    sha256 = "2" * 56 + tag
    md5 = "3" * 24 + tag
    sha1_b_only = "4" * 32 + tag       # on B1 only
    sha1_old = "5" * 32 + tag          # on A, 100 hours ago
    ip4 = f"198.51.{n % 200}.{n % 250 + 1}"  # remote address of A and B1
    ip6 = str(ipaddress.IPv6Address(f"2001:db8::{tag[:4]}:{tag[4:]}"))  # local address of B2, canonical
    domain = f"ent{tag}.example.com"
    user, net_user, profile_user = f"svc{tag}", f"net{tag}", f"prof{tag}"
    sid = f"S-1-5-21-1004336348-1177238915-{n}-1001"

    ev = {}
    ev["a_proc"] = a.event("DeviceProcessEvents", Timestamp=at(3), ActionType="ProcessCreated", FileName="evil.exe",
                           FolderPath="C:\\Temp\\evil.exe", SHA1=sha1, SHA256=sha256, MD5=md5, FileSize=12345,
                           ProcessVersionInfoCompanyName="Evil Corp", ProcessVersionInfoProductName="Evil Tool",
                           ProcessId=4242, ProcessCommandLine="evil.exe --run", AccountName=user, AccountDomain="corp")
    ev["a_proc2"] = a.event("DeviceProcessEvents", Timestamp=at(2), ActionType="ProcessCreated", FileName="evil.exe",
                            SHA1=sha1, SHA256=sha256, ProcessId=4343)
    ev["a_cert"] = a.event("DeviceFileCertificateInfo", Timestamp=at(2), SHA1=sha1, IsSigned=True,
                           Signer="Evil Corp Signing", Issuer="Test Code Signing CA", SignerHash="AB" * 20,
                           IsTrusted=True)
    ev["a_old"] = a.event("DeviceFileEvents", Timestamp=at(100), ActionType="FileCreated", FileName="old.sh",
                          SHA1=sha1_old)
    ev["a_net"] = a.event("DeviceNetworkEvents", Timestamp=at(2), ActionType="ConnectionSuccess", RemoteIP=ip4,
                          RemotePort=443, RemoteUrl=f"https://cdn.{domain}/payload", LocalIP="10.0.0.5",
                          LocalPort=50001, Protocol="Tcp")
    ev["a_logon1"] = a.event("DeviceLogonEvents", Timestamp=at(5), ActionType="LogonSuccess", AccountName=user,
                             AccountDomain="corp", AccountSid=sid, LogonType="Interactive")
    ev["a_logon2"] = a.event("DeviceLogonEvents", Timestamp=at(4), ActionType="LogonSuccess", AccountName=user,
                             AccountDomain="corp", AccountSid=sid, LogonType="Interactive")
    ev["a_netlogon"] = a.event("DeviceLogonEvents", Timestamp=at(4), ActionType="LogonSuccess", AccountName=net_user,
                               AccountDomain="corp", LogonType="Network")
    ev["b1_file"] = b1.event("DeviceFileEvents", Timestamp=at(6), ActionType="FileCreated", FileName="evil.exe",
                             SHA1=sha1, SHA256=sha256)
    ev["b1_only"] = b1.event("DeviceFileEvents", Timestamp=at(1), ActionType="FileCreated", FileName="tool.bin",
                             SHA1=sha1_b_only)
    ev["b1_net"] = b1.event("DeviceNetworkEvents", Timestamp=at(7), ActionType="ConnectionSuccess", RemoteIP=ip4,
                            RemotePort=443, RemoteUrl=domain, Protocol="Tcp")
    ev["b1_logon"] = b1.event("DeviceLogonEvents", Timestamp=at(1), ActionType="LogonSuccess", AccountName=user.upper(),
                              AccountDomain="CORP", AccountSid=sid, LogonType="Network")
    ev["b2_file"] = b2.event("DeviceFileEvents", Timestamp=at(1), ActionType="FileRenamed", FileName="renamed.exe",
                             SHA1=sha1)
    # Look-alikes of the domain, a failed logon and a local IPv6 address: none of them make B2 a
    # device that contacted the domain or that the account logged on to.
    ev["b2_net"] = b2.event("DeviceNetworkEvents", Timestamp=at(1), ActionType="ConnectionSuccess",
                            RemoteIP="203.0.113.77", RemoteUrl=f"https://{domain}.evil.org/x", LocalIP=ip6,
                            Protocol="Tcp")
    ev["b2_net2"] = b2.event("DeviceNetworkEvents", Timestamp=at(1), ActionType="ConnectionSuccess",
                             RemoteIP="203.0.113.78", RemoteUrl=f"http://not{domain}/", Protocol="Tcp")
    ev["b2_failed"] = b2.event("DeviceLogonEvents", Timestamp=at(1), ActionType="LogonFailed", AccountName=user,
                               AccountDomain="corp", LogonType="Network")
    ev["b2_info"] = b2.event("DeviceInfo", OSPlatform="Linux", LoggedOnUsers=f'[{{"UserName":"{profile_user}"}}]')
    for s, keys in ((a, [k for k in ev if k.startswith("a_")]), (b1, [k for k in ev if k.startswith("b1_")]),
                    (b2, [k for k in ev if k.startswith("b2_")])):
        r = s.send([ev[k] for k in keys])
        assert r.status_code == 200 and r.json()["accepted"] == len(keys), r.text

    def stored():
        stats = ward.get(f"/api/files/{sha1}/stats", admin_token).json()
        ips = ward.get(f"/api/ips/{ip4}/stats", admin_token).json()
        logons = ward.get(f"/api/machines/{a.device_id}/logonusers", admin_token).json().get("value", [])
        profile = ward.get(f"/api/users/{profile_user}/machines", admin_token).json().get("value", [])
        b2_net = ward.get(f"/api/ips/{ip6}/stats", admin_token).json()
        return (stats.get("organizationPrevalence") == 3 and ips.get("organizationPrevalence") == 2 and
                len(logons) == 2 and profile and b2_net.get("organizationPrevalence") == 1)

    assert wait_for(stored, timeout=30), "the events did not reach the store"
    return {"tag": tag, "a": a, "b1": b1, "b2": b2, "ev": ev, "sha1": sha1, "sha256": sha256, "md5": md5,
            "sha1_b_only": sha1_b_only, "sha1_old": sha1_old, "ip4": ip4, "ip6": ip6, "domain": domain,
            "user": user, "net_user": net_user, "profile_user": profile_user, "sid": sid,
            "analyst": ward.user_token(analyst["userPrincipalName"], PASSWORD)}


def get_ok(ward, path, token):
    r = ward.get(path, token)
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
    return r.json()


def ids(collection):
    return {x["id"] for x in collection["value"]}


def test_file_entity(ward, admin_token, env):
    for key in (env["sha1"], env["sha256"], env["sha1"].upper()):
        f = get_ok(ward, f"/api/files/{key}", admin_token)
        assert_props("File", FILE, f, context="Files/$entity")
        assert (f["sha1"], f["sha256"], f["md5"]) == (env["sha1"], env["sha256"], env["md5"])
        assert f["size"] == 12345 and f["fileType"] == "EXE" and f["isPeFile"] is True
        assert f["filePublisher"] == "Evil Corp" and f["fileProductName"] == "Evil Tool"
        assert f["signer"] == "Evil Corp Signing" and f["issuer"] == "Test Code Signing CA"
        assert f["signerHash"] == "ab" * 20 and f["isValidCertificate"] is True
        # Ward's "global" view is the tenant: all three devices, first on B1 six hours ago.
        assert f["globalPrevalence"] == 3
        assert f["globalFirstObserved"] == env["ev"]["b1_file"]["Timestamp"]
        assert f["globalLastObserved"] == env["ev"]["b2_file"]["Timestamp"]
    other = get_ok(ward, f"/api/files/{env['sha1_b_only']}", admin_token)
    assert other["fileType"] == "BIN" and other["isPeFile"] is False and other["size"] is None
    assert other["signer"] is None and other["isValidCertificate"] is False and other["globalPrevalence"] == 1


def test_file_stats(ward, admin_token, env):
    s = get_ok(ward, f"/api/files/{env['sha1']}/stats", admin_token)
    assert_props("InOrgFileStats", FILE_STATS, s, context="microsoft.windowsDefenderATP.api.InOrgFileStats")
    assert s["sha1"] == env["sha1"] and s["organizationPrevalence"] == 3 and s["globallyPrevalence"] == 3
    assert s["orgFirstSeen"] == env["ev"]["b1_file"]["Timestamp"]
    assert s["orgLastSeen"] == env["ev"]["b2_file"]["Timestamp"]
    assert s["topFileNames"] == ["evil.exe", "renamed.exe"]  # three rows, then one
    # By SHA-256 the same file (B2's row has only the SHA-1); the look-back window drops B1's
    # six-hour-old sighting.
    s = get_ok(ward, f"/api/files/{env['sha256']}/stats?lookBackHours=4", admin_token)
    assert s["sha1"] == env["sha1"] and s["organizationPrevalence"] == 2
    assert s["topFileNames"] == ["evil.exe", "renamed.exe"]
    assert s["orgFirstSeen"] == env["ev"]["a_proc"]["Timestamp"]
    old = get_ok(ward, f"/api/files/{env['sha1_old']}/stats", admin_token)
    assert old["organizationPrevalence"] == 1 and old["orgFirstSeen"] == env["ev"]["a_old"]["Timestamp"]
    old = get_ok(ward, f"/api/files/{env['sha1_old']}/stats?lookBackHours=48", admin_token)
    assert old["organizationPrevalence"] == 0 and old["orgFirstSeen"] is None and old["topFileNames"] == []
    for bad in ("0", "721", "abc", "-1", ""):
        assert_mde_error(ward.get(f"/api/files/{env['sha1']}/stats?lookBackHours={bad}", admin_token), 400,
                         "InvalidInput")


def test_file_machines_and_unknown_files(ward, admin_token, env):
    m = get_ok(ward, f"/api/files/{env['sha1']}/machines", admin_token)
    assert m["@odata.context"].endswith("#Machines")
    assert ids(m) == {env["a"].device_id, env["b1"].device_id, env["b2"].device_id}
    unknown = "9" * 40
    assert_mde_error(ward.get(f"/api/files/{unknown}", admin_token), 404, "ResourceNotFound")
    s = get_ok(ward, f"/api/files/{unknown}/stats", admin_token)
    assert_props("InOrgFileStats", FILE_STATS, s, context="microsoft.windowsDefenderATP.api.InOrgFileStats")
    assert s["sha1"] == unknown and s["organizationPrevalence"] == 0 and s["globallyPrevalence"] == 0
    assert s["orgFirstSeen"] is None and s["globalLastObserved"] is None and s["topFileNames"] == []
    assert get_ok(ward, f"/api/files/{unknown}/machines", admin_token)["value"] == []
    assert get_ok(ward, f"/api/files/{unknown}/alerts", admin_token)["value"] == []


def test_bad_hashes(ward, admin_token, env):
    for bad in ("xyz", "g" * 40, "1" * 39, "1" * 41, env["md5"], "1" * 63):
        for path in (f"/api/files/{bad}", f"/api/files/{bad}/stats", f"/api/files/{bad}/alerts",
                     f"/api/files/{bad}/machines"):
            assert_mde_error(ward.get(path, admin_token), 400, "InvalidHashValue")
    # The related-entity routes take SHA-1 only.
    assert_mde_error(ward.get(f"/api/files/{env['sha256']}/alerts", admin_token), 400, "InvalidHashValue")
    assert_mde_error(ward.get(f"/api/files/{env['sha256']}/machines", admin_token), 400, "InvalidHashValue")


def test_ip_stats(ward, admin_token, env):
    s = get_ok(ward, f"/api/ips/{env['ip4']}/stats", admin_token)
    assert_props("InOrgIPStats", IP_STATS, s, context="microsoft.windowsDefenderATP.api.InOrgIPStats")
    assert s["ipAddress"] == env["ip4"] and s["organizationPrevalence"] == 2
    assert s["orgFirstSeen"] == env["ev"]["b1_net"]["Timestamp"] and s["orgLastSeen"] == env["ev"]["a_net"]["Timestamp"]
    assert get_ok(ward, f"/api/ips/{env['ip4']}/stats?lookBackHours=3", admin_token)["organizationPrevalence"] == 1
    # LocalIP counts too; the address is canonicalised (upper case, zeros) before it is looked up.
    spelled = ipaddress.IPv6Address(env["ip6"]).exploded.upper()
    assert spelled != env["ip6"]
    s = get_ok(ward, f"/api/ips/{spelled}/stats", admin_token)
    assert s["ipAddress"] == env["ip6"] and s["organizationPrevalence"] == 1
    s = get_ok(ward, "/api/ips/192.0.2.254/stats", admin_token)
    assert s["organizationPrevalence"] == 0 and s["orgFirstSeen"] is None and s["orgLastSeen"] is None
    for bad in ("999.1.1.1", "1.2.3", "01.2.3.4", "not-an-ip", "2001:db8:::1", "1.2.3.4.5"):
        assert_mde_error(ward.get(f"/api/ips/{bad}/stats", admin_token), 400, "InvalidIpAddress")
        assert_mde_error(ward.get(f"/api/ips/{bad}/alerts", admin_token), 400, "InvalidIpAddress")
    assert get_ok(ward, "/api/ips/192.0.2.254/alerts", admin_token)["value"] == []


def test_domain_stats_and_machines(ward, admin_token, env):
    d = env["domain"]
    s = get_ok(ward, f"/api/domains/{d}/stats", admin_token)
    assert_props("InOrgDomainStats", DOMAIN_STATS, s, context="microsoft.windowsDefenderATP.api.InOrgDomainStats")
    # A reached a subdomain, B1 the domain itself; B2 only look-alikes.
    assert s["host"] == d and s["organizationPrevalence"] == 2
    assert s["orgFirstSeen"] == env["ev"]["b1_net"]["Timestamp"] and s["orgLastSeen"] == env["ev"]["a_net"]["Timestamp"]
    assert get_ok(ward, f"/api/domains/{d.upper()}./stats", admin_token)["host"] == d
    sub = get_ok(ward, f"/api/domains/cdn.{d}/stats", admin_token)
    assert sub["organizationPrevalence"] == 1 and sub["host"] == f"cdn.{d}"
    assert get_ok(ward, f"/api/domains/{d}/stats?lookBackHours=3", admin_token)["organizationPrevalence"] == 1
    m = get_ok(ward, f"/api/domains/{d}/machines", admin_token)
    assert [x["id"] for x in m["value"]] == [env["a"].device_id, env["b1"].device_id]  # latest contact first
    none = get_ok(ward, f"/api/domains/unseen-{env['tag']}.example.org/stats", admin_token)
    assert none["organizationPrevalence"] == 0 and none["orgLastSeen"] is None
    assert get_ok(ward, f"/api/domains/unseen-{env['tag']}.example.org/machines", admin_token)["value"] == []
    for bad in ("bad_domain.com", "-x.com", "a..b", "10.0.0.1", "x" * 64 + ".com"):
        for route in ("stats", "alerts", "machines"):
            assert_mde_error(ward.get(f"/api/domains/{bad}/{route}", admin_token), 400, "InvalidDomainName")


def test_user_machines(ward, admin_token, env):
    # Case-insensitive account names; the failed logon on B2 does not count.
    m = get_ok(ward, f"/api/users/{env['user'].upper()}/machines", admin_token)
    assert ids(m) == {env["a"].device_id, env["b1"].device_id}
    # Logged-on users the device reports count as well.
    assert ids(get_ok(ward, f"/api/users/{env['profile_user']}/machines", admin_token)) == {env["b2"].device_id}
    assert get_ok(ward, f"/api/users/nobody{env['tag']}/machines", admin_token)["value"] == []
    assert get_ok(ward, f"/api/users/nobody{env['tag']}/alerts", admin_token)["value"] == []


def test_logon_users(ward, admin_token, env):
    r = get_ok(ward, f"/api/machines/{env['a'].device_id}/logonusers", admin_token)
    assert r["@odata.context"].endswith("/api/$metadata#Users")
    users = {u["accountName"].lower(): u for u in r["value"]}
    assert set(users) == {env["user"], env["net_user"]}
    for u in users.values():
        assert_props("User", USER, u)
    svc = users[env["user"]]
    # Described over every device: two logons on A, one (spelled in capitals) on B1 an hour ago.
    assert svc["id"] == f"CORP\\{env['user'].upper()}" and svc["accountSid"] == env["sid"]
    assert svc["logOnMachinesCount"] == 2
    assert svc["mostPrevalentMachineId"] == env["a"].device_id
    assert svc["leastPrevalentMachineId"] == env["b1"].device_id
    assert svc["firstSeen"] == env["ev"]["a_logon1"]["Timestamp"] and svc["lastSeen"] == env["ev"]["b1_logon"]["Timestamp"]
    assert svc["logonTypes"] == "Interactive, Network" and svc["isOnlyNetworkUser"] is False
    assert svc["isDomainAdmin"] is False
    net = users[env["net_user"]]
    assert net["id"] == f"corp\\{env['net_user']}" and net["accountSid"] is None
    assert net["logonTypes"] == "Network" and net["isOnlyNetworkUser"] is True and net["logOnMachinesCount"] == 1
    # OData options apply; devices without logons answer an empty collection; unknown ones 404.
    top = get_ok(ward, f"/api/machines/{env['a'].device_id}/logonusers?$filter=isOnlyNetworkUser eq true", admin_token)
    assert [u["accountName"] for u in top["value"]] == [env["net_user"]]
    assert get_ok(ward, f"/api/machines/{env['b2'].device_id}/logonusers", admin_token)["value"] == []
    assert_mde_error(ward.get(f"/api/machines/{'0' * 40}/logonusers", admin_token), 404, "ResourceNotFound")


def test_scoped_user_counts_only_their_devices(ward, env):
    t = env["analyst"]
    # Device A only: one device, A's own names and times, and no tenant-wide figures.
    s = get_ok(ward, f"/api/files/{env['sha1']}/stats", t)
    assert s["organizationPrevalence"] == 1 and s["topFileNames"] == ["evil.exe"]
    assert s["orgFirstSeen"] == env["ev"]["a_proc"]["Timestamp"] and s["orgLastSeen"] == env["ev"]["a_proc2"]["Timestamp"]
    assert s["globallyPrevalence"] is None and s["globalFirstObserved"] is None
    f = get_ok(ward, f"/api/files/{env['sha1']}", t)
    assert f["globalPrevalence"] is None and f["globalLastObserved"] is None and f["size"] == 12345
    assert_mde_error(ward.get(f"/api/files/{env['sha1_b_only']}", t), 404, "ResourceNotFound")
    assert get_ok(ward, f"/api/files/{env['sha1_b_only']}/stats", t)["organizationPrevalence"] == 0
    assert ids(get_ok(ward, f"/api/files/{env['sha1']}/machines", t)) == {env["a"].device_id}
    assert get_ok(ward, f"/api/ips/{env['ip4']}/stats", t)["organizationPrevalence"] == 1
    assert get_ok(ward, f"/api/ips/{env['ip6']}/stats", t)["organizationPrevalence"] == 0
    d = get_ok(ward, f"/api/domains/{env['domain']}/stats", t)
    assert d["organizationPrevalence"] == 1 and d["orgFirstSeen"] == env["ev"]["a_net"]["Timestamp"]
    assert ids(get_ok(ward, f"/api/domains/{env['domain']}/machines", t)) == {env["a"].device_id}
    assert ids(get_ok(ward, f"/api/users/{env['user']}/machines", t)) == {env["a"].device_id}
    assert get_ok(ward, f"/api/users/{env['profile_user']}/machines", t)["value"] == []
    users = {u["accountName"]: u for u in get_ok(ward, f"/api/machines/{env['a'].device_id}/logonusers", t)["value"]}
    svc = users[env["user"]]
    assert svc["logOnMachinesCount"] == 1 and svc["logonTypes"] == "Interactive"
    assert svc["mostPrevalentMachineId"] == svc["leastPrevalentMachineId"] == env["a"].device_id
    assert svc["lastSeen"] == env["ev"]["a_logon2"]["Timestamp"]
    assert_mde_error(ward.get(f"/api/machines/{env['b1'].device_id}/logonusers", t), 404, "ResourceNotFound")


def test_permissions(ward, env):
    def app(*permissions):
        a = ward.admin("apps", "create", "--name", f"ent-{'-'.join(permissions)}", "--permissions", ",".join(permissions))
        return ward.app_token(a["clientId"], a["clientSecret"])

    alerts_read = app("Alert.Read.All", "Machine.Read.All")
    sha1, d, user = env["sha1"], env["domain"], env["user"]
    for path in (f"/api/files/{sha1}", f"/api/files/{sha1}/stats", f"/api/ips/{env['ip4']}/stats",
                 f"/api/domains/{d}/stats", f"/api/machines/{env['a'].device_id}/logonusers",
                 f"/api/domains/{d}/alerts", f"/api/users/{user}/machines"):
        assert_mde_error(ward.get(path, alerts_read), 403, "Forbidden")
    for path in (f"/api/files/{sha1}/alerts", f"/api/ips/{env['ip4']}/alerts", f"/api/users/{user}/alerts",
                 f"/api/files/{sha1}/machines", f"/api/domains/{d}/machines"):
        assert ward.get(path, alerts_read).status_code == 200, path
    # Domain alerts and user machines are documented with the ReadWrite permissions.
    readwrite = app("Alert.ReadWrite.All", "Machine.ReadWrite.All")
    assert ward.get(f"/api/domains/{d}/alerts", readwrite).status_code == 200
    assert ward.get(f"/api/users/{user}/machines", readwrite).status_code == 200
    profiles = app("File.Read.All", "Ip.Read.All", "Url.Read.All", "User.Read.All")
    for path in (f"/api/files/{sha1}", f"/api/ips/{env['ip4']}/stats", f"/api/domains/{d}/stats",
                 f"/api/machines/{env['a'].device_id}/logonusers"):
        assert ward.get(path, profiles).status_code == 200, path
    assert_mde_error(ward.get(f"/api/files/{sha1}/alerts", profiles), 403, "Forbidden")


def create_alert(ward, token, sensor, event, title):
    r = ward.post("/api/alerts/CreateAlertByReference", token, json={
        "eventTime": event["Timestamp"], "reportId": event["ReportId"], "machineId": sensor.device_id,
        "severity": "Medium", "title": title, "description": "raised by test_entities",
        "recommendedAction": "Investigate", "category": "SuspiciousActivity"})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_related_alerts(ward, admin_token, env):
    tag, ev = env["tag"], env["ev"]
    on_file = create_alert(ward, admin_token, env["a"], ev["a_proc"], f"evil.exe ran {tag}")
    on_net = create_alert(ward, admin_token, env["b1"], ev["b1_net"], f"beacon {tag}")
    on_logon = create_alert(ward, admin_token, env["a"], ev["a_netlogon"], f"network logon {tag}")

    def alert_ids(path, token=admin_token):
        r = get_ok(ward, path, token)
        assert r["@odata.context"].endswith("#Alerts")
        # Only the alerts raised here; detection may add its own (Sigma, indicators) on the same events.
        return {a["id"] for a in r["value"] if a["detectionSource"] == "CustomDetection"}

    assert alert_ids(f"/api/files/{env['sha1']}/alerts") == {on_file}
    assert alert_ids(f"/api/ips/{env['ip4']}/alerts") == {on_net}
    assert alert_ids(f"/api/domains/{env['domain']}/alerts") == {on_net}
    assert alert_ids(f"/api/domains/cdn.{env['domain']}/alerts") == set()  # B1 reached the parent domain only
    assert alert_ids(f"/api/users/{env['user'].upper()}/alerts") == {on_file}
    assert alert_ids(f"/api/users/{env['net_user']}/alerts") == {on_logon}
    # $expand=evidence works as on /api/alerts.
    expanded = get_ok(ward, f"/api/files/{env['sha1']}/alerts?$expand=evidence", admin_token)["value"][0]
    assert any(e["sha1"] == env["sha1"] for e in expanded["evidence"])
    # The analyst sees the alerts of device A only.
    t = env["analyst"]
    assert alert_ids(f"/api/files/{env['sha1']}/alerts", t) == {on_file}
    assert alert_ids(f"/api/ips/{env['ip4']}/alerts", t) == set()
    assert alert_ids(f"/api/domains/{env['domain']}/alerts", t) == set()
    assert alert_ids(f"/api/users/{env['net_user']}/alerts", t) == {on_logon}
