"""Run by test_response_enforcement.py inside `unshare --net --mount`: a private network namespace (the
"device", where the real sensor runs) linked by a veth pair to a second one (the "network": the Ward
server on 10.231.0.2 and another host on 10.231.0.3), and a private mount namespace with its own
tmpfs. Nothing here touches the host's firewall or the host's binaries. Exits non-zero on failure."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import requests

from sensor_helpers import wait_for

WARD = os.environ["WARD_BIN"]
SENSOR = os.path.join(os.path.dirname(WARD), "ward-sensor")
SERVER_IP, OTHER_IP, DEVICE_IP = "10.231.0.2", "10.231.0.3", "10.231.0.1"
procs = []
BENCH_ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[1] == "--bench" else 0


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True)


def spawn(args, **kw):
    p = subprocess.Popen(args, **kw)
    procs.append(p)
    return p




def reachable(ip, port, timeout=1.0):
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True
    except OSError:
        return False


def network():
    sh("ip", "link", "set", "lo", "up")
    peer = spawn(["unshare", "--net", "sleep", "3600"])
    time.sleep(0.3)
    sh("ip", "link", "add", "veth-dev", "type", "veth", "peer", "name", "veth-net")
    sh("ip", "link", "set", "veth-net", "netns", str(peer.pid))
    sh("ip", "addr", "add", f"{DEVICE_IP}/24", "dev", "veth-dev")
    sh("ip", "link", "set", "veth-dev", "up")
    inside = ["nsenter", "-t", str(peer.pid), "-n"]
    for cmd in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{SERVER_IP}/24", "dev", "veth-net"],
                ["ip", "addr", "add", f"{OTHER_IP}/24", "dev", "veth-net"], ["ip", "link", "set", "veth-net", "up"]):
        sh(*inside, *cmd)
    return inside


def main():
    inside = network()
    work = tempfile.mkdtemp(prefix="ward-ns-")
    data = os.path.join(work, "ward")
    creds = json.loads(sh(WARD, "init", "--data-dir", data, "--json").stdout)
    with open(os.path.join(data, "config.json"), "w") as f:
        json.dump({"rateLimits": {"enabled": False}}, f)
    port = 18443
    server = spawn([*inside, WARD, "server", "--data-dir", data, "--listen", f"{SERVER_IP}:{port}", "--insecure-http"],
                   stdout=open(os.path.join(work, "server.log"), "w"), stderr=subprocess.STDOUT)
    base = f"http://{SERVER_IP}:{port}"
    assert wait_for(lambda: reachable(SERVER_IP, port), 30), open(os.path.join(work, "server.log")).read()
    # Another host on the network, and a second port on it.
    spawn([*inside, "python3", "-c", "import socket,threading\n"
           f"s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('{OTHER_IP}',8080));s.listen(16)\n"
           "while True:\n c,_=s.accept();c.close()"])
    assert wait_for(lambda: reachable(OTHER_IP, 8080), 10)
    tenant = creds["tenantId"]
    token = requests.post(f"{base}/{tenant}/oauth2/token", data={
        "grant_type": "client_credentials", "resource": "https://api.securitycenter.microsoft.com",
        "client_id": creds["clientId"], "client_secret": creds["clientSecret"]}).json()["access_token"]
    auth = {"Authorization": "Bearer " + token}

    def api(method, path, body=None):
        return requests.request(method, base + path, headers=auth, json=body, timeout=30)

    pkg = os.path.join(work, "onboarding.sh")
    sh(WARD, "admin", "onboarding-package", "--data-dir", data, "--tenant", tenant, "--server-url", base, "--out", pkg)
    state = os.path.join(work, "sensor")
    os.makedirs(state)
    sensor_log = open(os.path.join(work, "sensor.log"), "w")

    def start_sensor():
        return spawn([SENSOR, "--onboarding", pkg, "--state-dir", state, "--no-dns"], stdout=sensor_log, stderr=subprocess.STDOUT)

    def stop(p, sig=signal.SIGTERM):
        p.send_signal(sig)
        p.wait(timeout=20)

    sensor = start_sensor()
    ident = os.path.join(state, "identity.json")
    assert wait_for(lambda: os.path.exists(ident), 20), open(os.path.join(work, "sensor.log")).read()
    device = json.load(open(ident))["deviceId"]

    def act(path, body=None, expect="Succeeded"):
        r = api("POST", f"/api/machines/{device}/{path}", dict({"Comment": "ns e2e"}, **(body or {})))
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        done = wait_for(lambda: api("GET", f"/api/machineactions/{aid}").json()["status"] not in ("Pending", "InProgress"), 60)
        status = api("GET", f"/api/machineactions/{aid}").json()
        assert done and status["status"] == expect, (status, open(os.path.join(work, "sensor.log")).read()[-3000:])
        return status

    tables = lambda: sh("nft", "list", "tables").stdout  # noqa: E731 (this namespace's tables only)

    if BENCH_ROUNDS:
        # bench/actions.sh: API call → Succeeded, isolate and unisolate alternately, on this online device.
        times = []
        for i in range(BENCH_ROUNDS):
            t0 = time.perf_counter()
            r = api("POST", f"/api/machines/{device}/{'isolate' if i % 2 == 0 else 'unisolate'}", {"Comment": "bench"})
            aid = r.json()["id"]
            while api("GET", f"/api/machineactions/{aid}").json()["status"] != "Succeeded":
                time.sleep(0.01)
            times.append(time.perf_counter() - t0)
        times.sort()
        pct = lambda p: times[min(len(times) - 1, int(p * len(times)))]  # noqa: E731
        print(json.dumps({"rounds": len(times), "p50_s": round(pct(0.5), 3), "p99_s": round(pct(0.99), 3),
                          "max_s": round(times[-1], 3)}))
        stop(sensor)
        return

    # ---- isolation: the other host is cut off, the server is not; survives a "reboot" ----
    started = time.time()
    act("isolate", {"IsolationType": "Full"})
    print(f"isolate round trip {time.time() - started:.2f}s")
    assert "ward_isolation" in tables()
    assert not reachable(OTHER_IP, 8080), "isolated device still reaches another host"
    assert api("GET", f"/api/machines/{device}").status_code == 200  # over the veth, to the server
    stop(sensor, signal.SIGKILL)
    sh("nft", "delete", "table", "inet", "ward_isolation")  # what a reboot does to nftables
    sensor = start_sensor()
    assert wait_for(lambda: "ward_isolation" in tables(), 20), "isolation was not restored at start"
    assert not reachable(OTHER_IP, 8080)
    act("unisolate")
    assert "ward_isolation" not in tables()
    assert reachable(OTHER_IP, 8080), "unisolate did not restore the network"

    # ---- restrict code execution: only system paths run; each block is an event ----
    mnt = os.path.join(work, "mnt")
    os.makedirs(mnt)
    sh("mount", "-t", "tmpfs", "tmpfs", mnt)
    tool = os.path.join(mnt, f"tool-{uuid.uuid4().hex[:6]}")
    shutil.copy("/bin/true", tool)
    os.chmod(tool, 0o755)
    assert subprocess.run([tool]).returncode == 0
    act("restrictCodeExecution")
    try:
        subprocess.run([tool])
        raise AssertionError("a restricted device ran a binary outside the allowed paths")
    except PermissionError:
        pass
    assert subprocess.run(["/bin/true"]).returncode == 0  # system paths still run
    act("unrestrictCodeExecution")
    assert subprocess.run([tool]).returncode == 0

    # ---- indicators with Block: an address and a file hash, enforced once the policy arrives ----
    import hashlib
    blocked_tool = os.path.join(mnt, f"blocked-{uuid.uuid4().hex[:6]}")
    shutil.copy("/bin/true", blocked_tool)
    with open(blocked_tool, "ab") as f:
        f.write(os.urandom(16))
    os.chmod(blocked_tool, 0o755)
    sha256 = hashlib.sha256(open(blocked_tool, "rb").read()).hexdigest()
    for value, kind in ((OTHER_IP, "IpAddress"), (sha256, "FileSha256")):
        r = api("POST", "/api/indicators", {"indicatorValue": value, "indicatorType": kind, "action": "Block",
                                             "title": f"block {kind}", "description": "ns e2e", "severity": "High",
                                             "generateAlert": True})
        assert r.status_code == 200, r.text
    # No restart: the running sensor learns the new policy version from its next action poll.
    assert wait_for(lambda: not reachable(OTHER_IP, 8080, 0.5), 30), "IP indicator not enforced"

    def exec_blocked():
        try:
            subprocess.run([blocked_tool])
            return False
        except PermissionError:
            return True
    assert wait_for(exec_blocked, 30), "hash indicator not enforced"
    stop(sensor)
    print("ns scenario OK")


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.kill()
                p.wait()
