"""OAuth 2.0 / OIDC: MSAL flows against Ward, and strict rejection of bad tokens."""
import base64
import hashlib
import hmac
import json
import sqlite3
import time
import urllib.parse
import uuid

import msal
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from conftest import MDE_RESOURCE, assert_mde_error


class PortAwareSession(requests.Session):
    """MSAL 1.21 builds its user-realm URL from the authority's host without the port; map it back."""

    def __init__(self, host, port, ca):
        super().__init__()
        self.verify = ca
        self._bare = f"https://{host}/"
        self._full = f"https://{host}:{port}/"

    def request(self, method, url, *args, **kwargs):
        if url.startswith(self._bare):
            url = self._full + url[len(self._bare):]
        kwargs["verify"] = self.verify  # MSAL passes verify=True explicitly
        return super().request(method, url, *args, **kwargs)


def msal_session(ward):
    return PortAwareSession("127.0.0.1", ward.port, ward.ca)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def signing_key(ward):
    db = sqlite3.connect(f"{ward.data_dir}/state.db")
    kid, pem = db.execute("SELECT kid, private_pem FROM signing_keys WHERE status='active'").fetchone()
    db.close()
    return kid, serialization.load_pem_private_key(pem.encode(), password=None)


def forge(ward, claims, header=None, key=None):
    kid, priv = signing_key(ward)
    header = header or {"typ": "JWT", "alg": "RS256", "kid": kid}
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}".encode()
    sig = (key or priv).sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return signing_input.decode() + "." + b64url(sig)


def app_claims(ward, **over):
    now = int(time.time())
    claims = {"aud": MDE_RESOURCE, "iss": f"{ward.base}/{ward.tenant}/", "iat": now, "nbf": now, "exp": now + 3600,
              "appid": ward.creds["clientId"], "oid": ward.creds["clientId"], "tid": ward.tenant,
              "roles": ["Machine.Read.All"], "idtyp": "app"}
    claims.update(over)
    return claims


def test_msal_confidential_client_credentials(ward):
    app = msal.ConfidentialClientApplication(
        ward.creds["clientId"], client_credential=ward.creds["clientSecret"],
        authority=f"{ward.base}/{ward.tenant}", validate_authority=False, http_client=msal_session(ward))
    result = app.acquire_token_for_client(scopes=[f"{MDE_RESOURCE}/.default"])
    assert "access_token" in result, result
    r = ward.get("/api/machines", result["access_token"])
    assert r.status_code == 200, r.text
    assert r.json()["@odata.context"].endswith("/api/$metadata#Machines")
    claims = json.loads(base64.urlsafe_b64decode(result["access_token"].split(".")[1] + "=="))
    assert claims["aud"] == MDE_RESOURCE and claims["tid"] == ward.tenant
    assert "Machine.Isolate" in claims["roles"] and "Alert.Read.All" in claims["roles"]


def test_msal_public_client_username_password(ward):
    app = msal.PublicClientApplication(ward.creds["clientId"], authority=f"{ward.base}/{ward.tenant}",
                                       validate_authority=False, http_client=msal_session(ward))
    result = app.acquire_token_by_username_password(
        ward.creds["adminUser"], ward.creds["adminPassword"], scopes=[f"{MDE_RESOURCE}/Machine.Read"])
    assert "access_token" in result, result
    claims = json.loads(base64.urlsafe_b64decode(result["access_token"].split(".")[1] + "=="))
    assert claims["scp"] == "Machine.Read" and claims["upn"] == ward.creds["adminUser"]
    assert ward.get("/api/machines", result["access_token"]).status_code == 200
    # The delegated token carries only Machine.Read: management needs another scope.
    assert_mde_error(ward.get("/api/rbac/roles", result["access_token"]), 403, "Forbidden")
    # MSAL cached the account and can refresh silently with the refresh token.
    accounts = app.get_accounts()
    assert accounts and accounts[0]["username"] == ward.creds["adminUser"]
    silent = app.acquire_token_silent([f"{MDE_RESOURCE}/Machine.Read"], account=accounts[0], force_refresh=True)
    assert silent and "access_token" in silent, silent


def test_msal_wrong_password_is_refused(ward):
    app = msal.PublicClientApplication(ward.creds["clientId"], authority=f"{ward.base}/{ward.tenant}",
                                       validate_authority=False, http_client=msal_session(ward))
    result = app.acquire_token_by_username_password(ward.creds["adminUser"], "wrong-password-123",
                                                    scopes=[f"{MDE_RESOURCE}/.default"])
    assert result.get("error") == "invalid_grant", result
    assert 50126 in result.get("error_codes", [])


def test_authorization_code_with_pkce_through_sign_in_page(ward):
    app = msal.PublicClientApplication(ward.creds["clientId"], authority=f"{ward.base}/{ward.tenant}",
                                       validate_authority=False, http_client=msal_session(ward))
    flow = app.initiate_auth_code_flow([f"{MDE_RESOURCE}/Machine.Read"], redirect_uri="http://localhost:8765")
    assert flow["code_verifier"] and "code_challenge=" in flow["auth_uri"]
    browser = requests.Session()
    browser.verify = ward.ca
    browser.trust_env = False  # a REQUESTS_CA_BUNDLE in the environment would override verify
    page = browser.get(flow["auth_uri"])
    assert page.status_code == 200 and "<form" in page.text and 'name="password"' in page.text
    form = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(flow["auth_uri"]).query))
    form.update({"username": ward.creds["adminUser"], "password": ward.creds["adminPassword"]})
    submitted = browser.post(flow["auth_uri"].split("?")[0], data=form, allow_redirects=False)
    assert submitted.status_code == 302, submitted.text
    location = submitted.headers["Location"]
    assert location.startswith("http://localhost:8765?")
    auth_response = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(location).query))
    result = app.acquire_token_by_auth_code_flow(flow, auth_response)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == ward.creds["adminUser"]
    assert ward.get("/api/machines", result["access_token"]).status_code == 200
    # The code is single-use.
    again = ward.post(f"/{ward.tenant}/oauth2/v2.0/token", data={
        "grant_type": "authorization_code", "client_id": ward.creds["clientId"], "code": auth_response["code"],
        "redirect_uri": "http://localhost:8765", "code_verifier": flow["code_verifier"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_pkce_verifier_must_match(ward):
    verifier = b64url(b"x" * 40)
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    browser = requests.Session()
    browser.verify = ward.ca
    browser.trust_env = False  # a REQUESTS_CA_BUNDLE in the environment would override verify
    form = {"client_id": ward.creds["clientId"], "response_type": "code", "redirect_uri": "http://localhost",
            "scope": f"{MDE_RESOURCE}/.default", "code_challenge": challenge, "code_challenge_method": "S256",
            "username": ward.creds["adminUser"], "password": ward.creds["adminPassword"]}
    r = browser.post(f"{ward.base}/{ward.tenant}/oauth2/v2.0/authorize", data=form, allow_redirects=False)
    assert r.status_code == 302
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(r.headers["Location"]).query))["code"]
    bad = ward.post(f"/{ward.tenant}/oauth2/v2.0/token", data={
        "grant_type": "authorization_code", "client_id": ward.creds["clientId"], "code": code,
        "redirect_uri": "http://localhost", "code_verifier": b64url(b"y" * 40)})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"


def test_discovery_documents(ward):
    cfg = ward.get(f"/{ward.tenant}/v2.0/.well-known/openid-configuration").json()
    assert cfg["issuer"] == f"{ward.base}/{ward.tenant}/v2.0"
    assert cfg["token_endpoint"] == f"{ward.base}/{ward.tenant}/oauth2/v2.0/token"
    keys = ward.get(cfg["jwks_uri"][len(ward.base):]).json()["keys"]
    assert keys and all(k["kty"] == "RSA" and k["alg"] == "RS256" and k["kid"] for k in keys)
    v1 = ward.get(f"/{ward.tenant}/.well-known/openid-configuration").json()
    assert v1["token_endpoint"].endswith("/oauth2/token")
    assert ward.get("/common/discovery/instance").status_code == 200


def test_v2_client_credentials_requires_default_scope(ward):
    r = ward.post(f"/{ward.tenant}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": ward.creds["clientId"],
        "client_secret": ward.creds["clientSecret"], "scope": f"{MDE_RESOURCE}/Machine.Read.All"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = ward.post(f"/{ward.tenant}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": ward.creds["clientId"],
        "client_secret": ward.creds["clientSecret"], "scope": "https://securitycenter.onmicrosoft.com/windowsatpservice/.default"})
    assert r.status_code == 200, r.text


def test_token_endpoint_errors(ward):
    base = {"client_id": ward.creds["clientId"], "client_secret": ward.creds["clientSecret"], "resource": MDE_RESOURCE}
    r = ward.post(f"/{ward.tenant}/oauth2/token", data={**base, "grant_type": "implicit"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = ward.post(f"/{ward.tenant}/oauth2/token", data={**base, "grant_type": "client_credentials", "client_secret": "nope"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = ward.post(f"/{ward.tenant}/oauth2/token", data={**base, "grant_type": "client_credentials", "resource": "https://graph.microsoft.com"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_resource"
    r = ward.post(f"/{uuid.uuid4()}/oauth2/token", data={**base, "grant_type": "client_credentials"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = ward.post(f"/{ward.tenant}/oauth2/token", data={**base, "client_id": str(uuid.uuid4()), "grant_type": "client_credentials"})
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"


def test_forged_token_control_is_accepted(ward):
    # The forging helper itself produces valid tokens, so the rejections below are about the one change each makes.
    assert ward.get("/api/machines", forge(ward, app_claims(ward))).status_code == 200


@pytest.mark.parametrize("case", ["tampered", "expired", "not_yet_valid", "alg_none", "hs256_public_key",
                                  "wrong_audience", "other_tenant", "unknown_tenant", "unknown_kid", "garbage"])
def test_bad_tokens_get_401(ward, case):
    now = int(time.time())
    kid, priv = signing_key(ward)
    if case == "tampered":
        good = forge(ward, app_claims(ward))
        h, p, s = good.split(".")
        claims = json.loads(base64.urlsafe_b64decode(p + "=="))
        claims["roles"].append("Machine.Isolate")
        token = f"{h}.{b64url_json(claims)}.{s}"
    elif case == "expired":
        token = forge(ward, app_claims(ward, iat=now - 7200, nbf=now - 7200, exp=now - 3600))
    elif case == "not_yet_valid":
        token = forge(ward, app_claims(ward, nbf=now + 3600, exp=now + 7200))
    elif case == "alg_none":
        token = f"{b64url_json({'typ': 'JWT', 'alg': 'none', 'kid': kid})}.{b64url_json(app_claims(ward))}."
    elif case == "hs256_public_key":
        pub_pem = priv.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        signing_input = f"{b64url_json({'typ': 'JWT', 'alg': 'HS256', 'kid': kid})}.{b64url_json(app_claims(ward))}"
        token = signing_input + "." + b64url(hmac.new(pub_pem, signing_input.encode(), hashlib.sha256).digest())
    elif case == "wrong_audience":
        token = forge(ward, app_claims(ward, aud="https://graph.microsoft.com"))
    elif case == "other_tenant":
        other = ward.admin("tenants", "create", "--name", f"other-{uuid.uuid4()}")["tenantId"]
        # Signed correctly, for another tenant, but claiming this tenant's issuer.
        token = forge(ward, app_claims(ward, tid=other))
    elif case == "unknown_tenant":
        t = str(uuid.uuid4())
        token = forge(ward, app_claims(ward, tid=t, iss=f"{ward.base}/{t}/"))
    elif case == "unknown_kid":
        token = forge(ward, app_claims(ward), header={"typ": "JWT", "alg": "RS256", "kid": "not-a-key"})
    else:
        token = "not.a.jwt"
    r = ward.get("/api/machines", token)
    assert_mde_error(r, 401, "Unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_other_tenants_token_sees_only_its_tenant(ward, admin_token):
    # A real token of a second tenant works there but never shows the first tenant's objects.
    other = ward.admin("tenants", "create", "--name", f"t2-{uuid.uuid4()}")["tenantId"]
    app = ward.admin("apps", "create", "--tenant", other, "--name", "t2 app", "--permissions", "*")
    r = ward.post(f"/{other}/oauth2/token", data={"grant_type": "client_credentials", "resource": MDE_RESOURCE,
                                                   "client_id": app["clientId"], "client_secret": app["clientSecret"]})
    t2 = r.json()["access_token"]
    mine = {role["id"] for role in ward.get("/api/rbac/roles", admin_token).json()["value"]}
    theirs = {role["id"] for role in ward.get("/api/rbac/roles", t2).json()["value"]}
    assert mine and theirs and not (mine & theirs)
    # And this tenant's app id does not exist in the other tenant's token endpoint.
    r = ward.post(f"/{other}/oauth2/token", data={"grant_type": "client_credentials", "resource": MDE_RESOURCE,
                                                   "client_id": ward.creds["clientId"],
                                                   "client_secret": ward.creds["clientSecret"]})
    assert r.status_code == 400


def test_key_rotation_keeps_old_tokens_valid(ward):
    before = ward.app_token()
    ward.admin("keys", "rotate")
    time.sleep(1.2)  # the server re-reads keys at most once a second
    after = ward.app_token()
    assert json.loads(base64.urlsafe_b64decode(before.split(".")[0] + "=="))["kid"] != \
        json.loads(base64.urlsafe_b64decode(after.split(".")[0] + "=="))["kid"]
    assert ward.get("/api/machines", before).status_code == 200
    assert ward.get("/api/machines", after).status_code == 200
    jwks = ward.get(f"/{ward.tenant}/discovery/v2.0/keys").json()["keys"]
    assert len(jwks) >= 2


def make_certificate(days=30):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ward-e2e-client")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()
    return key_pem, cert_pem, thumbprint


def test_msal_client_credentials_with_certificate(ward, admin_token, tmp_path):
    app = ward.admin("apps", "create", "--name", "cert app", "--permissions", "Machine.Read.All")
    key_pem, cert_pem, thumbprint = make_certificate()
    # Registered through the management API (the admin CLI's add-certificate does the same).
    r = ward.post(f"/api/apps/{app['clientId']}/certificates", admin_token, json={"certificate": cert_pem})
    assert r.status_code == 201, r.text
    assert r.json()["customKeyIdentifier"] == thumbprint
    cca = msal.ConfidentialClientApplication(
        app["clientId"], client_credential={"private_key": key_pem, "thumbprint": thumbprint},
        authority=f"{ward.base}/{ward.tenant}", validate_authority=False, http_client=msal_session(ward))
    result = cca.acquire_token_for_client(scopes=[f"{MDE_RESOURCE}/.default"])
    assert "access_token" in result, result
    assert ward.get("/api/machines", result["access_token"]).status_code == 200
    # Another key claiming the same thumbprint fails the signature check.
    other_key, _, _ = make_certificate()
    bad = msal.ConfidentialClientApplication(
        app["clientId"], client_credential={"private_key": other_key, "thumbprint": thumbprint},
        authority=f"{ward.base}/{ward.tenant}", validate_authority=False, http_client=msal_session(ward))
    refused = bad.acquire_token_for_client(scopes=[f"{MDE_RESOURCE}/.default"])
    assert refused.get("error") == "invalid_client", refused


def test_client_assertion_replay_is_refused(ward, tmp_path):
    key_pem, cert_pem, thumbprint = make_certificate()
    cert_file = tmp_path / "client.pem"
    cert_file.write_text(cert_pem)
    app = ward.admin("apps", "create", "--name", "replay app", "--permissions", "Machine.Read.All")
    ward.admin("apps", "add-certificate", "--app", app["clientId"], "--cert", str(cert_file))
    priv = serialization.load_pem_private_key(key_pem.encode(), password=None)
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "x5t": b64url(bytes.fromhex(thumbprint))}
    claims = {"aud": f"{ward.base}/{ward.tenant}/oauth2/v2.0/token", "iss": app["clientId"], "sub": app["clientId"],
              "jti": str(uuid.uuid4()), "nbf": now, "exp": now + 600}
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}".encode()
    assertion = signing_input.decode() + "." + b64url(priv.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))
    form = {"grant_type": "client_credentials", "client_id": app["clientId"], "scope": f"{MDE_RESOURCE}/.default",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion}
    assert ward.post(f"/{ward.tenant}/oauth2/v2.0/token", data=form).status_code == 200
    again = ward.post(f"/{ward.tenant}/oauth2/v2.0/token", data=form)
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"
    # A wrong audience is refused too.
    claims.update(jti=str(uuid.uuid4()), aud="https://elsewhere.example/token")
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}".encode()
    form["client_assertion"] = signing_input.decode() + "." + b64url(priv.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))
    assert ward.post(f"/{ward.tenant}/oauth2/v2.0/token", data=form).status_code == 401


def test_repeated_wrong_passwords_lock_the_account(ward, admin_token):
    upn = f"locked-{uuid.uuid4().hex[:6]}@corp.example"
    assert ward.post("/api/users", admin_token, json={"userPrincipalName": upn, "password": "Right-password-1"}).status_code == 201
    form = {"grant_type": "password", "client_id": ward.creds["clientId"], "username": upn,
            "scope": f"{MDE_RESOURCE}/.default"}
    for _ in range(10):
        r = ward.post(f"/{ward.tenant}/oauth2/v2.0/token", data={**form, "password": "wrong-password-1"})
        assert r.status_code == 400 and 50126 in r.json()["error_codes"]
    r = ward.post(f"/{ward.tenant}/oauth2/v2.0/token", data={**form, "password": "Right-password-1"})
    assert r.status_code == 400 and 50053 in r.json()["error_codes"], r.text


def test_discovery_lists_are_arrays(ward):
    cfg = ward.get(f"/{ward.tenant}/v2.0/.well-known/openid-configuration").json()
    assert cfg["grant_types_supported"] == ["authorization_code", "client_credentials", "password", "refresh_token"]
    assert cfg["response_types_supported"] == ["code"]
    assert "S256" in cfg["code_challenge_methods_supported"]
    assert ward.get("/common/discovery/instance").json()["metadata"][0]["aliases"] == [f"127.0.0.1:{ward.port}"]
