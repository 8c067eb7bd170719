"""Run by test_deb_package.py inside `unshare --mount --net --pid --fork`: installs the ward and
ward-sensor packages for real (dpkg -i, maintainer scripts and all) into an overlay of the host's
root whose writable layer is a tmpfs, so the host's files, users and dpkg database never change.
There is no systemd here (no PID 1 manager), so each service is started the way its unit says:
the unit's User, Environment, EnvironmentFile and ExecStart, read from the installed unit file.
Exits non-zero on failure.

    deb_install_scenario.py WARD_DEB SENSOR_DEB
"""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time

import requests
import urllib3

from sensor_helpers import wait_for

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

WARD_DEB, SENSOR_DEB = sys.argv[1], sys.argv[2]
ROOT = None  # the overlay's merged view
procs = []


def sh(*args, check=True, **kw):
    r = subprocess.run(list(args), capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise SystemExit(f"{args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def chroot(*args, check=True):
    return sh("chroot", ROOT, *args, check=check)




def check(cond, what):
    if not cond:
        raise SystemExit("FAILED: " + what)
    print("ok:", what)


def overlay_root():
    work = tempfile.mkdtemp(prefix="ward-deb-")
    sh("mount", "-t", "tmpfs", "tmpfs", work)
    for d in ("up", "work", "root"):
        os.mkdir(os.path.join(work, d))
    root = os.path.join(work, "root")
    sh("mount", "-t", "overlay", "overlay", "-o", f"lowerdir=/,upperdir={work}/up,workdir={work}/work", root)
    sh("mount", "-t", "proc", "proc", os.path.join(root, "proc"))  # this pid namespace's processes
    sh("mount", "--bind", "/dev", os.path.join(root, "dev"))
    for d in ("tmp", "run"):
        sh("mount", "-t", "tmpfs", "tmpfs", os.path.join(root, d))
    return root


def unit_service(path):
    """The [Service] section of a unit file: key -> list of values, in order."""
    section, out = None, {}
    for line in open(os.path.join(ROOT, path.lstrip("/"))):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            k, _, v = line.partition("=")
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def start_unit(path, log):
    """Starts a unit's ExecStart as systemd would: its user, its environment (Environment= lines,
    then EnvironmentFile=, which overrides them), ${VAR} as one word and $VAR split on spaces."""
    svc = unit_service(path)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    for assignment in svc.get("Environment", []):
        for word in shlex.split(assignment):
            k, _, v = word.partition("=")
            env[k] = v
    for f in svc.get("EnvironmentFile", []):
        optional = f.startswith("-")
        f = os.path.join(ROOT, f.lstrip("-").lstrip("/"))
        if not os.path.exists(f) and optional:
            continue
        for line in open(f):
            line = line.strip()
            if line and not line.startswith("#"):
                k, _, v = line.partition("=")
                env[k.strip()] = " ".join(shlex.split(v))
    argv = []
    for word in shlex.split(svc["ExecStart"][0]):
        m = re.fullmatch(r"\$\{(\w+)\}|\$(\w+)", word)
        if m and m.group(1):
            argv.append(env.get(m.group(1), ""))
        elif m:
            argv.extend(env.get(m.group(2), "").split())
        else:
            argv.append(re.sub(r"\$\{(\w+)\}", lambda g: env.get(g.group(1), ""), word))
    user = svc.get("User", ["root"])[0]
    for sd in svc.get("StateDirectory", []):  # systemd creates it, owned by the unit's user
        d = os.path.join(ROOT, "var/lib", sd)
        os.makedirs(d, exist_ok=True)
        if user != "root":
            uid = int(chroot("id", "-u", user).stdout)
            gid = int(chroot("id", "-g", user).stdout)
            os.chown(d, uid, gid)
    prefix = [] if user == "root" else ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"]
    p = subprocess.Popen(["chroot", ROOT] + prefix + argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    procs.append(p)
    print("started", path, "as", user, ":", argv)
    return p


def sensor_pids():
    """ward-sensor processes of this pid namespace (the overlay's /proc is this namespace's)."""
    proc = os.path.join(ROOT, "proc")
    out = []
    for pid in os.listdir(proc):
        if pid.isdigit():
            try:
                if os.readlink(f"{proc}/{pid}/exe").endswith("/usr/bin/ward-sensor"):
                    out.append(int(pid))
            except OSError:
                pass
    return out


def main():
    global ROOT
    sh("ip", "link", "set", "lo", "up")
    ROOT = overlay_root()
    for deb in (WARD_DEB, SENSOR_DEB):
        sh("cp", deb, os.path.join(ROOT, "tmp"))
    r = chroot("dpkg", "-i", "/tmp/" + os.path.basename(WARD_DEB), "/tmp/" + os.path.basename(SENSOR_DEB))
    print(r.stdout, r.stderr)
    status = chroot("dpkg-query", "-W", "-f", "${Package} ${Status}\n", "ward", "ward-sensor").stdout
    check(status.count("install ok installed") == 2, "both packages are installed: " + status.strip())

    user = chroot("getent", "passwd", "ward").stdout.strip().split(":")
    check(len(user) == 7 and int(user[2]) < 1000 and user[6].endswith("nologin"),
          "a system user 'ward' with no login shell: " + ":".join(user))
    etc = os.path.join(ROOT, "etc/ward")
    st = os.stat(os.path.join(etc, "config.json"))
    check(st.st_mode & 0o777 == 0o640, "config.json in /etc/ward is 0640")
    creds_stat = os.stat(os.path.join(etc, "initial-credentials.json"))
    check(creds_stat.st_mode & 0o077 == 0 and creds_stat.st_uid == 0, "initial credentials readable by root only")
    creds = json.load(open(os.path.join(etc, "initial-credentials.json")))
    check(all(creds.get(k) for k in ("tenantId", "clientId", "clientSecret", "adminUser", "adminPassword")),
          "first install created a tenant, an app and an administrator")
    data = os.path.join(ROOT, "var/lib/ward")
    check(os.path.exists(os.path.join(data, "state.db")) and not os.path.exists(os.path.join(data, "config.json")),
          "state in /var/lib/ward, configuration only in /etc/ward")
    ward_uid = int(user[2])
    check(all(os.stat(os.path.join(dp, f)).st_uid == ward_uid
              for dp, _, fs in os.walk(data) for f in fs + ["."]), "/var/lib/ward belongs to ward")
    wants = os.path.join(ROOT, "etc/systemd/system/multi-user.target.wants")
    check({"ward.service", "ward-sensor.service"} <= set(os.listdir(wants)), "both services are enabled")
    v = chroot("systemd-analyze", "verify", "/lib/systemd/system/ward.service",
               "/lib/systemd/system/ward-sensor.service", check=False)
    check(v.returncode == 0, "systemd-analyze verify accepts both units " + v.stdout + v.stderr)

    log = open(os.path.join(ROOT, "tmp/ward.log"), "w+")
    server = start_unit("/lib/systemd/system/ward.service", log)
    base = "https://127.0.0.1:8443"

    def healthy():
        try:
            return requests.get(base + "/healthz", timeout=2, verify=False).status_code == 200
        except requests.RequestException:
            return False

    ok = wait_for(healthy, 30)
    if not ok:
        log.seek(0)
        print(log.read())
    check(ok, "ward.service answers over HTTPS on 0.0.0.0:8443 (TLS on outside loopback)")
    check(os.path.exists(os.path.join(data, "tls/server.crt")), "its self-signed certificate is kept in /var/lib/ward/tls")
    check(server.poll() is None, "the server runs as the ward user without privileges")
    tok = requests.post(f"{base}/{creds['tenantId']}/oauth2/token", verify=False, timeout=10, data={
        "grant_type": "client_credentials", "client_id": creds["clientId"], "client_secret": creds["clientSecret"],
        "resource": "https://api.securitycenter.microsoft.com"})
    check(tok.status_code == 200, "the initial app gets a token: %s" % tok.text[:200])
    headers = {"Authorization": "Bearer " + tok.json()["access_token"]}
    portal = requests.get(base + "/", verify=False, timeout=5)
    check(portal.status_code == 200 and "<html" in portal.text.lower(), "the portal is served from /usr/share/ward/web")

    # Onboard this "host": the server writes the package; its script installs itself in /etc/ward.
    chroot("setpriv", "--reuid=ward", "--regid=ward", "--init-groups", "/usr/bin/ward", "admin", "onboarding-package",
           "--data-dir", "/var/lib/ward", "--server-url", base, "--out", "/tmp/WardOnboarding.sh")
    r = chroot("sh", "/tmp/WardOnboarding.sh")
    check(os.path.exists(os.path.join(etc, "onboarding.sh")), "the onboarding script copies itself to /etc/ward")
    check(healthy() and os.stat(etc).st_mode & 0o005 == 0o005,
          "onboarding a server host leaves its /etc/ward open to the ward user")
    # Without systemd the script starts the sensor itself; stop that one and start the unit's.
    for pid in wait_for(sensor_pids, 10):
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not sensor_pids(), 10)
    sensor_log = open(os.path.join(ROOT, "tmp/sensor.log"), "w+")
    sensor = start_unit("/lib/systemd/system/ward-sensor.service", sensor_log)

    def machines():
        r = requests.get(base + "/api/machines", headers=headers, verify=False, timeout=5)
        return r.json().get("value") if r.status_code == 200 else None

    found = wait_for(machines, 30)
    check(bool(found), "the sensor started by ward-sensor.service enrolled: %s" % [m.get("computerDnsName") for m in found or []])
    time.sleep(2)
    check(sensor.poll() is None, "ward-sensor keeps running")
    check(os.listdir(os.path.join(ROOT, "var/lib/ward-sensor")), "its state is in /var/lib/ward-sensor")

    for p in (sensor, server):
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
    r = chroot("dpkg", "--purge", "ward", "ward-sensor")
    print(r.stdout, r.stderr)
    check(not os.path.exists(data) and not os.path.exists(os.path.join(ROOT, "var/lib/ward-sensor")),
          "purge removes the data directories")
    check(not os.path.exists(etc), "purge removes /etc/ward")
    check(chroot("getent", "passwd", "ward", check=False).returncode == 0, "the ward user stays (Debian policy)")
    print("deb scenario passed")


try:
    main()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
