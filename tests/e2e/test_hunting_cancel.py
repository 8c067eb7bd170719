"""Listing and cancelling running hunting queries (Ward extension: "QueryId" in the run body,
GET/DELETE /api/advancedhunting/queries[/{id}]), client disconnects, and MDE's timeout and result-size
errors. The long query hashes nine million rows twelve times over: about 45 s here if nobody stops it.
No test asserts a duration; waits are polls with generous deadlines."""
import threading
import time
import uuid

import pytest
import requests

from conftest import Ward, assert_mde_error, new_app_token

PASSWORD = "Correct-Horse-42!"
LONG_QUERY = ("range x from 1 to 9000000 step 1\n"
              "| extend h = hash_sha256(hash_sha256(hash_sha256(hash_sha256(hash_sha256(hash_sha256(hash_sha256("
              "hash_sha256(hash_sha256(hash_sha256(hash_sha256(hash_sha256(strcat('w', tostring(x))))))))))))))\n"
              "| where h == 'no such hash' | count")
QUERIES = "/api/advancedhunting/queries"


class Background:
    """A hunting request running in a thread; .response once it has answered."""

    def __init__(self, ward, token, body, path="/api/advancedhunting/run", timeout=300):
        self.response = None
        self.error = None
        self.query_id = body.get("QueryId")

        def run():
            try:
                self.response = requests.post(ward.base + path, json=body, verify=ward.ca, timeout=timeout,
                                              headers={"Authorization": "Bearer " + token})
            except requests.RequestException as e:  # the disconnect test times out on purpose
                self.error = e
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def wait(self, seconds=120):
        self.thread.join(seconds)
        assert not self.thread.is_alive(), "the hunting request did not answer"
        return self.response


@pytest.fixture
def background(ward, admin_token):
    """Starts Background queries; whatever still runs when the test ends (it failed) is cancelled, so
    that the server can stop."""
    started = []

    def start(*args, **kw):
        b = Background(*args, **kw)
        started.append(b)
        return b
    yield start
    for b in started:
        if b.thread.is_alive() and b.query_id:
            ward.request("DELETE", f"{QUERIES}/{b.query_id.lower()}", admin_token)
        b.thread.join(120)


def listed(ward, token):
    r = ward.get(QUERIES, token)
    assert r.status_code == 200, r.text
    return {q["QueryId"]: q for q in r.json()["value"]}


def wait_until(predicate, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("path", ["/api/advancedhunting/run", "/api/advancedqueries/run"])
def test_list_and_cancel_a_running_query(ward, admin_token, background, path):
    qid = str(uuid.uuid4())
    run = background(ward, admin_token, {"Query": LONG_QUERY, "QueryId": qid.upper()}, path)
    q = wait_until(lambda: listed(ward, admin_token).get(qid))
    assert q, "the running query is not listed"
    assert q["Query"].startswith("range x from 1 to 9000000") and len(q["Query"]) <= 200
    assert q["CallerType"] == "Application" and q["ClientId"] == ward.creds["clientId"]
    assert q["Status"] == "Running" and q["StartTime"].endswith("Z")
    assert ward.get(f"{QUERIES}/{qid}", admin_token).json()["QueryId"] == qid
    # One QueryId runs once at a time.
    dup = ward.post(path, admin_token, json={"Query": "print 1", "QueryId": qid})
    assert_mde_error(dup, 400, "ActiveRequestAlreadyExists")

    r = ward.request("DELETE", f"{QUERIES}/{qid}", admin_token)
    assert r.status_code == 204, r.text
    resp = run.wait()
    assert_mde_error(resp, 400, "QueryCancelled")
    assert resp.json()["error"]["message"] == "Query was cancelled."
    # Gone from the list; cancelling it again finds nothing.
    assert qid not in listed(ward, admin_token)
    assert_mde_error(ward.request("DELETE", f"{QUERIES}/{qid}", admin_token), 404, "ResourceNotFound")


def test_query_ids_are_validated(ward, admin_token):
    for bad in ("not-a-guid", "1234", "g" * 36):
        assert_mde_error(ward.request("DELETE", f"{QUERIES}/{bad}", admin_token), 400, "InvalidInput")
        assert_mde_error(ward.get(f"{QUERIES}/{bad}", admin_token), 400, "InvalidInput")
    unknown = str(uuid.uuid4())
    assert_mde_error(ward.request("DELETE", f"{QUERIES}/{unknown}", admin_token), 404, "ResourceNotFound")
    assert_mde_error(ward.get(f"{QUERIES}/{unknown}", admin_token), 404, "ResourceNotFound")
    for body in ({"Query": "print 1", "QueryId": "nope"}, {"Query": "print 1", "QueryId": 5},
                 {"Query": "print 1", "QueryId": ["a"]}):
        assert_mde_error(ward.post("/api/advancedhunting/run", admin_token, json=body), 400, "InvalidRequestBody")
    # Without a QueryId (or with null) a query runs as before.
    for body in ({"Query": "print x = 1"}, {"Query": "print x = 1", "QueryId": None}):
        r = ward.post("/api/advancedhunting/run", admin_token, json=body)
        assert r.status_code == 200 and r.json()["Results"] == [{"x": 1}], r.text


def test_callers_see_and_cancel_only_their_own_queries(ward, admin_token, background):
    tag = uuid.uuid4().hex[:8]

    def api(method, path, body):
        r = ward.request(method, path, admin_token, json=body)
        assert r.status_code in (200, 201), r.text
        return r.json()
    user = api("POST", "/api/users", {"userPrincipalName": f"canceller-{tag}@corp.example", "password": PASSWORD})
    group = api("POST", "/api/rbac/usergroups", {"name": f"cancellers-{tag}", "members": [user["id"]]})
    api("POST", "/api/rbac/roles", {"name": f"canceller-{tag}", "permissions": ["ViewData"],
                                     "assignedUserGroups": [group["id"]]})
    user_token = ward.user_token(user["userPrincipalName"], PASSWORD)
    hunter_app = new_app_token(ward, admin_token, ["AdvancedQuery.Read.All"], "hunt")
    no_hunting_app = new_app_token(ward, admin_token, ["Machine.Read.All"], "hunt")

    qid = str(uuid.uuid4())
    run = background(ward, user_token, {"Query": LONG_QUERY, "QueryId": qid})
    mine = wait_until(lambda: listed(ward, user_token).get(qid))
    assert mine and mine["CallerType"] == "User" and mine["CallerName"] == user["userPrincipalName"]
    # The tenant administrator sees every query; another hunting app sees only its own.
    assert qid in listed(ward, admin_token)
    assert qid not in listed(ward, hunter_app)
    assert_mde_error(ward.get(f"{QUERIES}/{qid}", hunter_app), 404, "ResourceNotFound")
    assert_mde_error(ward.request("DELETE", f"{QUERIES}/{qid}", hunter_app), 404, "ResourceNotFound")
    # Without a hunting permission there is nothing to see or cancel.
    assert_mde_error(ward.get(QUERIES, no_hunting_app), 403, "Forbidden")
    assert_mde_error(ward.request("DELETE", f"{QUERIES}/{qid}", no_hunting_app), 403, "Forbidden")
    assert run.response is None, "the long query finished before it was cancelled"

    # The owner cancels it.
    r = ward.request("DELETE", f"{QUERIES}/{qid}", user_token)
    assert r.status_code == 204, r.text
    assert_mde_error(run.wait(), 400, "QueryCancelled")

    # And the administrator may cancel someone else's.
    qid2 = str(uuid.uuid4())
    run2 = background(ward, hunter_app, {"Query": LONG_QUERY, "QueryId": qid2})
    assert wait_until(lambda: qid2 in listed(ward, hunter_app))
    assert qid2 not in listed(ward, user_token)
    r = ward.request("DELETE", f"{QUERIES}/{qid2}", admin_token)
    assert r.status_code == 204, r.text
    assert_mde_error(run2.wait(), 400, "QueryCancelled")


def test_a_client_that_disconnects_cancels_its_query(ward, admin_token, background):
    qid = str(uuid.uuid4())
    # The client gives up after a few seconds and closes its connection.
    run = background(ward, admin_token, {"Query": LONG_QUERY, "QueryId": qid}, timeout=3)
    assert wait_until(lambda: qid in listed(ward, admin_token))
    run.wait()
    assert isinstance(run.error, requests.Timeout), run.error or run.response.text
    # The server notices the closed connection and stops the query.
    assert wait_until(lambda: qid not in listed(ward, admin_token), 60), "the query kept running"


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A server with a 1-second hunting timeout and a 20 kB result limit."""
    w = Ward(tmp_path_factory.mktemp("ward-limits"), tls=False,
             config={"hunting": {"timeoutSeconds": 1, "maxResultBytes": 20000}})
    w.start()
    yield w
    w.stop()


def test_timeout_and_result_size_have_mdes_messages(limited):
    token = limited.app_token()
    r = limited.post("/api/advancedhunting/run", token, json={"Query": LONG_QUERY})
    assert_mde_error(r, 400, "BadRequest")
    assert r.json()["error"]["message"] == "Query exceeded the timeout period."
    r = limited.post("/api/advancedqueries/run", token,
                     json={"Query": "range x from 1 to 5000 step 1 | extend s = strcat('row number ', tostring(x))"})
    assert_mde_error(r, 400, "BadRequest")
    assert r.json()["error"]["message"] == ("Query execution has exceeded the allowed result size. Optimize your query "
                                            "by limiting the number of results and try again")
    r = limited.post("/api/advancedqueries/run", token, json={"Query": "range x from 1 to 50 step 1"})
    assert r.status_code == 200 and len(r.json()["Results"]) == 50, r.text


def test_shutdown_cancels_running_queries(tmp_path):
    """SIGTERM cancels running hunts instead of waiting out their timeout (the long query would run
    for about 45 s; Ward.stop() allows 20)."""
    w = Ward(tmp_path / "ward-stop", tls=False)
    w.start()
    try:
        token = w.app_token()
        query_id = str(uuid.uuid4())
        b = Background(w, token, {"Query": LONG_QUERY, "QueryId": query_id})
        assert wait_until(lambda: query_id in listed(w, token)), "the query never showed as running"
    finally:
        rc = w.stop()
    assert rc == 0
    b.wait(30)
    # The answer may or may not get out before the connection closes; if it does, it says why.
    if b.response is not None:
        assert_mde_error(b.response, 400, "QueryCancelled")
    assert "hunting queries cancelled" in open(tmp_path / "ward-stop" / "server.log").read()
