"""Black-box fixtures: real `ward` processes on 127.0.0.1, each with its own data directory."""
import json
import os
import signal
import socket
import subprocess
import time
import uuid

import pytest
import requests

WARD = os.environ.get("WARD_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "ward"))
MDE_RESOURCE = "https://api.securitycenter.microsoft.com"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    """Waits until something accepts connections on 127.0.0.1:port (a peer the test started)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def run_ward(*args, check=True):
    out = subprocess.run([WARD, *args], capture_output=True, text=True, timeout=120)
    if check and out.returncode != 0:
        raise AssertionError(f"ward {' '.join(args)} failed: {out.stderr}")
    return out


class Ward:
    """One ward server: data dir, credentials from `ward init --json`, base URL, process handle."""

    def __init__(self, data_dir, tls=True, config=None, server_args=(), config_path=None, creds=None):
        """`config_path`: a configuration file outside the data dir (shared backends), passed to init,
        admin and server; `creds`: another node's `ward init` output, for a node that joins an
        installation instead of creating one."""
        self.data_dir = str(data_dir)
        self.tls = tls
        self.config_path = config_path
        self.server_args = list(server_args) + (["--config", str(config_path)] if config_path else [])
        os.makedirs(self.data_dir, exist_ok=True)
        init = ["init", "--data-dir", self.data_dir, "--json"] + (["--config", str(config_path)] if config_path else [])
        self.creds = creds or json.loads(run_ward(*init).stdout)
        self.tenant = self.creds["tenantId"]
        if config is not None:
            with open(os.path.join(self.data_dir, "config.json"), "w") as f:
                json.dump(config, f)
        self.port = free_port()
        self.proc = None
        self.log = open(os.path.join(self.data_dir, "server.log"), "w")

    @property
    def base(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca(self):
        return os.path.join(self.data_dir, "tls", "server.crt") if self.tls else True

    def start(self):
        args = [WARD, "server", "--data-dir", self.data_dir, "--listen", f"127.0.0.1:{self.port}"]
        if self.tls:
            args.append("--tls")
        args += self.server_args
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"ward server exited with {self.proc.returncode}")
            try:
                if self.get("/healthz").status_code == 200:
                    return self
            except OSError:  # not listening yet, or the certificate is not written yet
                pass
            time.sleep(0.1)
        raise AssertionError("ward server did not become healthy")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        return self.proc.returncode if self.proc else None

    def admin(self, *args):
        scoped = args[0] not in ("tenants", "keys") and "--tenant" not in args
        out = run_ward("admin", *args, "--data-dir", self.data_dir, *(["--tenant", self.tenant] if scoped else []),
                       *(["--config", str(self.config_path)] if self.config_path else []))
        return json.loads(out.stdout) if out.stdout.strip() else None

    def get(self, path, token=None, **kw):
        return self.request("GET", path, token, **kw)

    def post(self, path, token=None, **kw):
        return self.request("POST", path, token, **kw)

    def request(self, method, path, token=None, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = "Bearer " + token
        return requests.request(method, self.base + path, headers=headers, verify=self.ca, timeout=30, **kw)

    def app_token(self, client_id=None, secret=None, resource=MDE_RESOURCE):
        r = self.post(f"/{self.tenant}/oauth2/token", data={
            "grant_type": "client_credentials", "resource": resource,
            "client_id": client_id or self.creds["clientId"],
            "client_secret": secret or self.creds["clientSecret"]})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def user_token(self, username, password, scope=f"{MDE_RESOURCE}/.default"):
        r = self.post(f"/{self.tenant}/oauth2/v2.0/token", data={
            "grant_type": "password", "client_id": self.creds["clientId"],
            "username": username, "password": password, "scope": scope})
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


@pytest.fixture(scope="session")
def ward(tmp_path_factory):
    """A TLS server whose rate limits are high enough not to interfere with functional tests."""
    w = Ward(tmp_path_factory.mktemp("ward"), tls=True,
             config={"rateLimits": {"enabled": True, "perMinute": 100000, "perHour": 1000000,
                                    # MDE's tighter per-route limits would throttle the functional tests.
                                    "routes": {"/api/alerts/CreateAlertByReference": {"perMinute": 100000, "perHour": 1000000},
                                               "/api/alerts/batchUpdate": {"perMinute": 100000, "perHour": 1000000},
                                               "/api/machineactions/{id}/getPackageUri": {"perMinute": 100000, "perHour": 1000000},
                                               "/api/machines/{id}/runliveresponse": {"perMinute": 100000, "perHour": 1000000}}}})
    w.start()
    yield w
    w.stop()


@pytest.fixture(scope="session")
def admin_token(ward):
    return ward.app_token()


def assert_mde_error(resp, status, code):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert body["error"]["target"] == resp.headers["x-request-id"]


def checked_api(ward, token):
    """A caller of the management API that fails the test on any error: api(method, path, body) → JSON."""
    def api(method, path, body=None):
        r = ward.request(method, path, token, json=body)
        assert r.status_code in (200, 201, 204), f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None
    return api


def new_app_token(ward, admin_token, permissions, prefix="app"):
    """Registers an application with these application permissions and returns a token for it."""
    r = ward.post("/api/apps", admin_token, json={"displayName": f"{prefix}-{uuid.uuid4().hex[:6]}",
                                                   "applicationPermissions": permissions})
    assert r.status_code == 201, r.text
    app = r.json()
    secret = ward.post(f"/api/apps/{app['appId']}/secrets", admin_token, json={}).json()
    return ward.app_token(app["appId"], secret["secretText"])
