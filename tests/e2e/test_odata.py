"""OData on the real server: paging by @odata.nextLink over a few hundred machines, $select,
$orderby, $count, errors in MDE's envelope, the CSDL $metadata document Power BI binds to and the
OpenAPI document; and a client written like MDE's own Python samples against a fleet from the real
simulator."""
import json
import os
import random
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest
import requests

from conftest import WARD, Ward, assert_mde_error, run_ward

SENSOR = os.path.join(os.path.dirname(WARD), "ward-sensor")
MACHINES = 250
EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
HIGH_LIMITS = {"rateLimits": {"enabled": True, "perMinute": 100000, "perHour": 1000000}}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """A server of its own with MACHINES registered machines (every fifth tagged Gold), registered
    in shuffled order so that no listing order is an accident of insertion."""
    w = Ward(tmp_path_factory.mktemp("odata"), tls=True, config=HIGH_LIMITS)
    names = [f"odata-{i:03d}.corp.local" for i in range(MACHINES)]
    gold = {n for i, n in enumerate(names) if i % 5 == 0}
    order = names[:]
    random.Random(7).shuffle(order)
    for name in order:
        w.admin("machines", "register", "--name", name, *(["--tags", "Gold"] if name in gold else []))
    w.start()
    try:
        yield {"ward": w, "names": names, "gold": gold, "token": w.app_token()}
    finally:
        w.stop()


def get_json(w, token, path_or_url):
    url = path_or_url if path_or_url.startswith("http") else w.base + path_or_url
    r = requests.get(url, headers={"Authorization": "Bearer " + token}, verify=w.ca, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def follow(w, token, path):
    """Every page of a collection, following @odata.nextLink until it is absent."""
    pages, url = [], path
    while url:
        page = get_json(w, token, url)
        pages.append(page)
        url = page.get("@odata.nextLink")
        assert len(pages) <= MACHINES, "nextLink does not terminate"
    return pages


def test_paging_by_next_link_has_no_gaps_or_duplicates(fleet):
    w, token = fleet["ward"], fleet["token"]
    full = get_json(w, token, "/api/machines")
    assert "@odata.nextLink" not in full
    all_ids = [m["id"] for m in full["value"]]
    assert len(all_ids) == MACHINES and {m["computerDnsName"] for m in full["value"]} == set(fleet["names"])

    pages = follow(w, token, "/api/machines?$top=37")
    sizes = [len(p["value"]) for p in pages]
    assert sizes == [37] * (MACHINES // 37) + [MACHINES % 37], sizes
    paged = [m["id"] for p in pages for m in p["value"]]
    assert len(paged) == len(set(paged)), "a machine appears on two pages"
    assert paged == all_ids  # same order, nothing skipped
    for p in pages:
        assert p["@odata.context"].endswith("/api/$metadata#Machines")
        if "@odata.nextLink" in p:
            assert "$top=37" in p["@odata.nextLink"]


def test_paging_keeps_filter_and_order(fleet):
    w, token = fleet["ward"], fleet["token"]
    q = "$filter=machineTags/any(t: t eq 'Gold')&$orderby=computerDnsName desc&$top=7"
    pages = follow(w, token, "/api/machines?" + urllib.parse.quote(q, safe="$=&'/:()"))
    names = [m["computerDnsName"] for p in pages for m in p["value"]]
    assert names == sorted(fleet["gold"], reverse=True)
    assert len(pages) == -(-len(fleet["gold"]) // 7)


def test_select_orderby_count(fleet):
    w, token = fleet["ward"], fleet["token"]
    selected = get_json(w, token, "/api/machines?$select=id,ComputerDnsName&$top=10")["value"]
    assert len(selected) == 10 and all(set(m) == {"id", "computerDnsName"} for m in selected)

    ordered = get_json(w, token, "/api/machines?$orderby=computerDnsName desc")["value"]
    assert [m["computerDnsName"] for m in ordered] == sorted(fleet["names"], reverse=True)

    counted = get_json(w, token, "/api/machines?$count=true&$top=5")
    assert counted["@odata.count"] == MACHINES and len(counted["value"]) == 5
    gold = get_json(w, token, "/api/machines?$count=true&$top=0&$filter=machineTags/any(t:t+eq+'Gold')")
    assert gold["@odata.count"] == len(fleet["gold"]) and gold["value"] == []
    none = get_json(w, token, "/api/machines?$filter=computerDnsName+eq+'no-such-machine'&$count=true")
    assert none["@odata.count"] == 0 and none["value"] == []


@pytest.mark.parametrize("query, named", [
    ("$filter=nosuch eq 'x'", "nosuch"),
    ("$filter=osBuild eq 5", "osBuild"),  # not filterable on Machines
    ("$filter=computerDnsName eq 5", "computerDnsName"),
    ("$filter=lastSeen gt 'yesterday'", "lastSeen"),
    ("$filter=(healthStatus eq 'Active'", "end of $filter"),
    ("$filter=healthStatus eq 'Active' or or riskScore eq 'High'", "'or'"),
    ("$top=10001", "10001"),
    ("$orderby=machineTags", "machineTags"),
    ("$select=nosuch", "nosuch"),
    ("$search=web", "$search"),
])
def test_bad_odata_is_an_mde_error(fleet, query, named):
    w, token = fleet["ward"], fleet["token"]
    r = w.get("/api/machines?" + query, token)
    assert_mde_error(r, 400, "ODataError")
    assert named in r.json()["error"]["message"], r.json()


def parse_csdl(text):
    root = ET.fromstring(text)
    assert root.tag == EDMX + "Edmx" and root.get("Version") == "4.0"
    schema = root.find(f"{EDMX}DataServices/{EDM}Schema")
    assert schema.get("Namespace") == "microsoft.windowsDefenderATP.api"
    types = {t.get("Name"): t for t in schema.findall(EDM + "EntityType")}
    sets = {}
    for s in schema.findall(f"{EDM}EntityContainer/{EDM}EntitySet"):
        type_name = s.get("EntityType").removeprefix("microsoft.windowsDefenderATP.api.")
        t = types[type_name]
        sets[s.get("Name")] = {
            "key": [k.get("Name") for k in t.findall(f"{EDM}Key/{EDM}PropertyRef")],
            "properties": {p.get("Name"): p.get("Type") for p in t.findall(EDM + "Property")},
        }
    return sets


def test_metadata_is_csdl_listing_the_entity_sets(fleet):
    w, token = fleet["ward"], fleet["token"]
    r = w.get("/api/$metadata", token)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    assert r.headers["odata-version"] == "4.0"
    sets = parse_csdl(r.content)
    expected = {
        "Machines": {"computerDnsName": "Edm.String", "lastSeen": "Edm.DateTimeOffset", "rbacGroupId": "Edm.Int64",
                     "machineTags": "Collection(Edm.String)", "healthStatus": "Edm.String",
                     "isAadJoined": "Edm.Boolean"},
        "Alerts": {"severity": "Edm.String", "status": "Edm.String", "alertCreationTime": "Edm.DateTimeOffset",
                   "incidentId": "Edm.Int64", "mitreTechniques": "Collection(Edm.String)"},
        "MachineActions": {"type": "Edm.String", "status": "Edm.String", "creationDateTimeUtc": "Edm.DateTimeOffset"},
        "Indicators": {"indicatorValue": "Edm.String", "action": "Edm.String", "generateAlert": "Edm.Boolean",
                       "rbacGroupNames": "Collection(Edm.String)"},
    }
    for name, props in expected.items():
        assert name in sets, sets.keys()
        assert sets[name]["key"] == ["id"]
        for prop, edm in props.items():
            assert sets[name]["properties"].get(prop) == edm, (name, prop)
    # Every top-level property a machine carries with a primitive (or string-list) value is declared;
    # nested objects are dynamic members of the open type.
    machine = get_json(w, token, "/api/machines?$filter=machineTags/any(t:t+eq+'Gold')&$top=1")["value"][0]
    primitive = {k for k, v in machine.items() if isinstance(v, (str, int, float, bool))
                 or (isinstance(v, list) and v and all(isinstance(x, str) for x in v))}
    assert {"machineTags", "computerDnsName", "lastSeen"} <= primitive
    assert primitive <= set(sets["Machines"]["properties"]), primitive - set(sets["Machines"]["properties"])

    # The versioned path, the percent-encoded '$' and the @odata.context URL all reach the same document.
    assert w.get("/api/v1.0/$metadata", token).content == r.content
    assert w.get("/api/%24metadata", token).content == r.content
    context = get_json(w, token, "/api/machines?$top=1")["@odata.context"]
    url, _, fragment = context.partition("#")
    assert fragment in sets
    assert requests.get(url, headers={"Authorization": "Bearer " + token}, verify=w.ca).content == r.content
    assert_mde_error(w.get("/api/$metadata"), 401, "Unauthorized")


def test_service_document(fleet):
    w, token = fleet["ward"], fleet["token"]
    doc = get_json(w, token, "/api")
    assert doc["@odata.context"].endswith("/api/$metadata")
    names = {s["name"] for s in doc["value"] if s["kind"] == "EntitySet"}
    assert {"Machines", "Alerts", "MachineActions", "Indicators"} <= names
    assert get_json(w, token, "/api/v1.0")["value"] == doc["value"]


def test_openapi_describes_every_route(fleet):
    w, token = fleet["ward"], fleet["token"]
    doc = get_json(w, token, "/api/openapi.json")
    assert doc["openapi"].startswith("3.0")
    paths = doc["paths"]
    for path in ("/api/machines/{id}", "/api/machines", "/api/$metadata", "/api/openapi.json",
                 "/{tenant}/oauth2/v2.0/token", "/sensor/v1/enroll", "/healthz"):
        assert path in paths, path
    machine = paths["/api/machines/{id}"]["get"]
    assert {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}} in machine["parameters"]
    assert machine["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == \
        "#/components/schemas/Machine"
    assert machine["security"] == [{"oauth2": []}]
    assert paths["/{tenant}/oauth2/v2.0/token"]["post"]["security"] == []
    listing = {p["name"] for p in paths["/api/machines"]["get"]["parameters"]}
    assert {"$filter", "$top", "$skip", "$orderby", "$select", "$count"} <= listing
    # Every {capture} in a path is a declared path parameter, and operation ids are unique.
    ids = []
    for path, item in paths.items():
        captures = {seg[seg.index("{") + 1:seg.index("}")] for seg in path.split("/") if "{" in seg}
        for op in item.values():
            assert {p["name"] for p in op["parameters"] if p["in"] == "path"} == captures, path
            ids.append(op["operationId"])
    assert len(ids) == len(set(ids))
    flow = doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == f"{w.base}/{w.tenant}/oauth2/v2.0/token"
    schemas = doc["components"]["schemas"]
    assert schemas["Machine"]["properties"]["lastSeen"] == {"type": "string", "format": "date-time", "nullable": True}
    assert schemas["Alert"]["properties"]["mitreTechniques"]["type"] == "array"
    assert {"Machine", "Alert", "MachineAction", "Indicator"} <= set(schemas)
    assert_mde_error(w.get("/api/openapi.json"), 401, "Unauthorized")


# ---------------------------------------------------------------------------------------------
# A client in the style of MDE's Python samples (api-hello-world.md, run-advanced-query-sample-python.md):
# urllib only, an application token from the v1 endpoint, then GET with a bearer header. Only the
# login and API hosts differ from Microsoft's sample (and the TLS context trusts the test server).

def sample_get_token(login_host, tenant_id, app_id, app_secret, context):
    url = "%s/%s/oauth2/token" % (login_host, tenant_id)
    resource_app_id_uri = "https://api.securitycenter.microsoft.com"
    body = {
        "resource": resource_app_id_uri,
        "client_id": app_id,
        "client_secret": app_secret,
        "grant_type": "client_credentials",
    }
    data = urllib.parse.urlencode(body).encode("utf-8")
    req = urllib.request.Request(url, data)
    response = urllib.request.urlopen(req, context=context)
    json_response = json.loads(response.read())
    return json_response["access_token"]


def sample_list_machines(api_host, aad_token, query, context):
    url = api_host + "/api/machines?" + query
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Authorization": "Bearer " + aad_token,
    }
    machines = []
    while url:
        req = urllib.request.Request(url, headers=headers)
        response = urllib.request.urlopen(req, context=context)
        json_response = json.loads(response.read())
        machines += json_response["value"]
        url = json_response.get("@odata.nextLink")
    return machines


def test_mde_sample_client_against_simulated_fleet(tmp_path):
    w = Ward(tmp_path / "sim", tls=True, config=HIGH_LIMITS)
    w.start()
    try:
        pkg = tmp_path / "WardOnboarding.sh"
        run_ward("admin", "onboarding-package", "--data-dir", w.data_dir, "--tenant", w.tenant,
                 "--server-url", w.base, "--out", str(pkg))
        state = tmp_path / "fleet"
        sim = subprocess.run([SENSOR, "simulate", "--onboarding", str(pkg), "--devices", "30", "--rate", "300",
                              "--duration", "3", "--state-dir", str(state)],
                             capture_output=True, text=True, timeout=120)
        assert sim.returncode == 0, sim.stderr[-3000:]
        summary = json.loads(sim.stdout.strip().splitlines()[-1])
        assert summary["enrolled"] == 30 and summary["accepted"] > 0, summary
        identities = json.load(open(state / "sim-identities.json"))["devices"]
        simulated = {d["deviceId"] for d in identities.values()}
        assert len(simulated) == 30

        context = ssl.create_default_context(cafile=w.ca)
        token = sample_get_token(w.base, w.tenant, w.creds["clientId"], w.creds["clientSecret"], context)
        # $top makes the sample walk several pages; without it 30 machines fit on one.
        active = sample_list_machines(w.base, token, "$filter=healthStatus+eq+'Active'&$top=8", context)
        assert len(active) == len({m["id"] for m in active}) == 30
        assert {m["id"] for m in active} == simulated
        assert all(m["healthStatus"] == "Active" and m["computerDnsName"].startswith("sim-") for m in active)
        # The filter agrees with filtering the unfiltered list client-side.
        everything = sample_list_machines(w.base, token, "$top=10000", context)
        assert sorted(m["id"] for m in everything if m["healthStatus"] == "Active") == sorted(m["id"] for m in active)

        # A bad filter surfaces as HTTP 400 with MDE's envelope, as urllib users see it.
        with pytest.raises(urllib.error.HTTPError) as err:
            sample_list_machines(w.base, token, "$filter=healthStatus+eq+Active", context)
        assert err.value.code == 400
        assert json.loads(err.value.read())["error"]["code"] == "ODataError"
    finally:
        w.stop()
