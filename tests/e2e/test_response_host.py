"""Response actions carried out by the real local sensor on this host, for the actions that neither
firewall nor gate execution (those run in namespaces: test_response_isolation.py): stop and
quarantine a running binary, an antivirus scan that finds a planted file by YARA rule and by hash
indicator, the investigation package, and live response with a library script."""
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import uuid

from sensor_helpers import wait_for
from test_detection import add_indicator, real_sensor  # noqa: F401 (fixture)

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def run_action(ward, token, device, path, body, timeout=60):
    r = ward.post(f"/api/machines/{device}/{path}", token, json=dict({"Comment": "e2e"}, **body))
    assert r.status_code == 201, r.text
    action_id = r.json()["id"]

    def final():
        a = ward.get(f"/api/machineactions/{action_id}", token).json()
        return a if a["status"] not in ("Pending", "InProgress") else None
    done = wait_for(final, timeout)
    assert done, ward.get(f"/api/machineactions/{action_id}", token).json()
    return done


def unique_copy(src, directory):
    path = os.path.join(directory, f"ward-e2e-{uuid.uuid4().hex[:8]}")
    shutil.copy(src, path)
    with open(path, "ab") as f:
        f.write(os.urandom(32))
    os.chmod(path, 0o755)
    return path


def test_stop_and_quarantine_a_running_binary(ward, admin_token, real_sensor, tmp_path):
    binary = unique_copy("/bin/sleep", str(tmp_path))
    original = open(binary, "rb").read()
    sha1 = hashlib.sha1(original).hexdigest()
    proc = subprocess.Popen([binary, "300"])
    try:
        done = run_action(ward, admin_token, real_sensor["device"], "StopAndQuarantineFile", {"Sha1": sha1})
        assert done["status"] == "Succeeded", done
        assert proc.wait(timeout=10) != 0  # killed
        assert not os.path.exists(binary)
        store = real_sensor["state"] / "quarantine"
        [entry] = [d for d in store.iterdir() if d.is_dir()]
        meta = json.loads((entry / "metadata.json").read_text()) if (entry / "metadata.json").exists() else None
        stored = [p for p in entry.iterdir() if p.name != "metadata.json"]
        assert stored and stored[0].read_bytes() == original
        if meta:
            assert meta.get("originalPath", meta.get("original_path")) == binary
    finally:
        if proc.poll() is None:
            proc.kill()


def test_scan_finds_planted_files_by_rule_and_by_hash(ward, admin_token, real_sensor):
    tag = uuid.uuid4().hex[:8]
    eicar = f"/dev/shm/ward-e2e-eicar-{tag}.txt"
    hashed = f"/dev/shm/ward-e2e-ioc-{tag}.bin"
    try:
        open(eicar, "wb").write(EICAR)
        payload = os.urandom(256)
        open(hashed, "wb").write(payload)
        sha256 = hashlib.sha256(payload).hexdigest()
        # Enforced indicators reach the sensor with its policy, and its scans look for them too.
        add_indicator(ward, admin_token, sha256, "FileSha256", f"Planted {tag}", action="Block")
        assert wait_for(lambda: sha256 in (real_sensor["state"] / "policy.json").read_text()
                        if (real_sensor["state"] / "policy.json").exists() else False, 90)
        done = run_action(ward, admin_token, real_sensor["device"], "runAntiVirusScan", {"ScanType": "Quick"}, 180)
        assert done["status"] == "Succeeded", done
        rows = wait_for(lambda: ward.post("/api/advancedqueries/run", admin_token, json={"Query": f"""
            DeviceEvents | where DeviceId == '{real_sensor["device"]}' and ActionType == 'AntivirusDetection'
            | where FolderPath has '{tag}' | project FolderPath, SHA256"""}).json()["Results"], 30)
        assert {r["FolderPath"] for r in rows} == {eicar, hashed}, rows
    finally:
        for p in (eicar, hashed):
            if os.path.exists(p):
                os.unlink(p)


def test_investigation_package_downloads_with_its_parts(ward, admin_token, real_sensor):
    done = run_action(ward, admin_token, real_sensor["device"], "collectInvestigationPackage", {}, 120)
    assert done["status"] == "Succeeded", done
    url = ward.get(f"/api/machineactions/{done['id']}/getPackageUri", admin_token).json()["value"]
    blob = ward.request("GET", url[len(ward.base):]).content
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile(next(n for n in names if n.endswith("manifest.json"))))
        tops = {n.split("/")[0] for n in names}
        for part in ("Processes", "Network connections", "Users", "Autoruns", "Installed programs", "Logs", "Sensor"):
            assert part in tops, tops
        # The sensor's credential never leaves the host.
        identity = json.loads((real_sensor["state"] / "identity.json").read_text())
        for m in tar.getmembers():
            if m.isfile():
                assert identity["credential"].encode() not in tar.extractfile(m).read(), m.name
    assert manifest


def test_live_response_runs_a_library_script_and_gets_a_file(ward, admin_token, real_sensor, tmp_path):
    name = f"triage-{uuid.uuid4().hex[:6]}.sh"
    script = b"#!/bin/sh\necho \"args: $1|$2\"\necho oops >&2\nexit 3\n"
    r = ward.post("/api/libraryfiles", admin_token, files={"File": (name, script)}, data={"Description": "e2e"})
    assert r.status_code == 200, r.text
    target = tmp_path / "evidence.txt"
    target.write_text("evidence " + uuid.uuid4().hex)
    body = {"Commands": [
        {"type": "RunScript", "params": [{"key": "ScriptName", "value": name}, {"key": "Args", "value": "'one two' three"}]},
        {"type": "GetFile", "params": [{"key": "Path", "value": str(target)}]}]}
    done = run_action(ward, admin_token, real_sensor["device"], "runliveresponse", body, 90)
    assert done["status"] == "Succeeded", done["commands"]
    assert [c["commandStatus"] for c in done["commands"]] == ["Completed", "Completed"], done["commands"]
    link = ward.get(f"/api/machineactions/{done['id']}/GetLiveResponseResultDownloadLink(index=0)", admin_token).json()
    result = json.loads(ward.request("GET", link["value"][len(ward.base):]).content)
    assert result["script_name"] == name and result["exit_code"] == 3
    assert result["script_output"] == "args: one two|three\n" and result["script_errors"] == "oops\n"
    link = ward.get(f"/api/machineactions/{done['id']}/GetLiveResponseResultDownloadLink(index=1)", admin_token).json()
    assert ward.request("GET", link["value"][len(ward.base):]).content == target.read_bytes()


def test_quarantine_finds_a_file_that_is_not_running_where_the_device_saw_it(ward, admin_token, real_sensor, tmp_path):
    binary = unique_copy("/bin/true", str(tmp_path))
    sha1 = hashlib.sha1(open(binary, "rb").read()).hexdigest()
    subprocess.run([binary], check=True)  # leaves a ProcessCreated row with its path, then exits
    seen = wait_for(lambda: ward.post("/api/advancedqueries/run", admin_token, json={"Query": f"""
        DeviceProcessEvents | where DeviceId == '{real_sensor["device"]}' and SHA1 == '{sha1}'"""}).json()["Results"], 30)
    assert seen, real_sensor["log"].read_text()[-2000:]
    done = run_action(ward, admin_token, real_sensor["device"], "StopAndQuarantineFile", {"Sha1": sha1})
    assert done["status"] == "Succeeded", done
    assert not os.path.exists(binary)


def test_full_remediation_groups_quarantine_what_a_scan_finds(ward, admin_token, real_sensor):
    machine = ward.get(f"/api/machines/{real_sensor['device']}", admin_token).json()
    tag = uuid.uuid4().hex[:6]
    r = ward.post("/api/rbac/devicegroups", admin_token, json={
        "name": f"auto-remediate-{tag}", "rank": 1, "remediationLevel": "Full remediation",
        "rules": {"name": [machine["computerDnsName"]]}})
    assert r.status_code in (200, 201), r.text
    group = r.json()
    try:
        assert wait_for(lambda: ward.get(f"/api/machines/{real_sensor['device']}", admin_token).json()["rbacGroupId"]
                        == group["id"], 15)
        eicar = f"/dev/shm/ward-e2e-remediate-{tag}.txt"
        open(eicar, "wb").write(EICAR)
        try:
            done = run_action(ward, admin_token, real_sensor["device"], "runAntiVirusScan", {"ScanType": "Quick"}, 180)
            assert done["status"] == "Succeeded", done
            assert not os.path.exists(eicar), "a Full remediation group's detection was left in place"
            assert any(eicar in p.read_text() for p in (real_sensor["state"] / "quarantine").rglob("*.json"))
        finally:
            if os.path.exists(eicar):
                os.unlink(eicar)
    finally:
        ward.request("DELETE", f"/api/rbac/devicegroups/{group['id']}", admin_token)


def test_offboard_stops_the_sensor_and_forgets_its_identity(ward, admin_token, real_sensor):
    done = run_action(ward, admin_token, real_sensor["device"], "offboard", {}, 60)
    assert done["status"] == "Succeeded", done
    # The sensor deletes its identity and stops itself; the server revoked the credential.
    assert wait_for(lambda: not (real_sensor["state"] / "identity.json").exists(), 20)
    assert wait_for(lambda: "sensor stopped" in real_sensor["log"].read_text(), 30), real_sensor["log"].read_text()[-2000:]
    m = ward.get(f"/api/machines/{real_sensor['device']}", admin_token).json()
    assert m["onboardingStatus"] == "Offboarded"
