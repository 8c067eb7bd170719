#!/usr/bin/env python3
"""Scale-out benchmark (issue 10): ingest and hunting on one embedded node versus two nodes on
PostgreSQL + Kafka (librdkafka's mock cluster) + ClickHouse, all on this machine, in one run.
A measurement, not a test: nothing asserts a timing.

    python3 bench/scale_out.py [--build build] [--seconds 15] [--connections 16]

Per setup: wrk POSTs zstd NDJSON batches of 1,000 realistic events (bench/make_batch.py, each with a
fresh batch id) for --seconds (two wrk processes, one per node, for two nodes); a 200 means the
batch is durable in the log (fdatasync'ed file log / acknowledged by Kafka). Then: how long the
store writers take to get every accepted row into the event store (end-to-end rate), and the
median latency of a few hunts on each node. Backends run on 127.0.0.1 on free ports, in a temp dir,
and are stopped by their pids.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SUPPORT = os.path.join(ROOT, "tests", "support")
HUNTS = [
    ("count", "DeviceProcessEvents | count"),
    ("has term", 'DeviceProcessEvents | where ProcessCommandLine has "whoami" | count'),
    ("summarize by device", "DeviceNetworkEvents | summarize Connections = count() by DeviceName | top 10 by Connections"),
    ("top 100 by time", "DeviceFileEvents | top 100 by Timestamp desc | project Timestamp, DeviceName, FileName"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def support(script, *args):
    out = subprocess.run(["bash", os.path.join(SUPPORT, script), *args], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def http(method, url, body=None, headers=None):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None and "Content-Type" not in (headers or {}):
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read() or b"null")


class Node:
    def __init__(self, ward, data_dir, config, work, port=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [ward, "server", "--data-dir", data_dir, "--listen", f"127.0.0.1:{self.port}", "--threads", "8",
                "--no-rate-limits"] + (["--config", config] if config else [])
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, f"node-{self.port}.log"), "w"))
        for _ in range(300):
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"node on {self.port} did not start")

    def stored_rows(self):
        text = urllib.request.urlopen(self.url + "/metrics").read().decode()
        return sum(float(m) for m in re.findall(r"^ward_store_rows_total(?:\{[^}]*\})? (\S+)$", text, re.M))

    def accepted(self):
        text = urllib.request.urlopen(self.url + "/metrics").read().decode()
        return sum(float(m) for m in re.findall(r'^ward_ingest_events_total\{[^}]*outcome="accepted"[^}]*\} (\S+)$', text, re.M))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=600)  # consumers finish their current batch and the store seals


def token(node, creds):
    body = (f"grant_type=client_credentials&resource=https://api.securitycenter.microsoft.com"
            f"&client_id={creds['clientId']}&client_secret={creds['clientSecret']}").encode()
    return http("POST", f"{node.url}/{creds['tenantId']}/oauth2/token", body,
                {"Content-Type": "application/x-www-form-urlencoded"})["access_token"]


def enroll(node, ward, data_dir, config, work, name):
    pkg = os.path.join(work, f"pkg-{name}.sh")
    subprocess.run([ward, "admin", "onboarding-package", "--data-dir", data_dir, "--server-url", node.url, "--out", pkg]
                   + (["--config", config] if config else []), check=True, capture_output=True)
    line = next(l for l in open(pkg) if l.startswith("# WARD-ONBOARDING-INFO: "))
    info = json.loads(line.split(": ", 1)[1])
    r = http("POST", node.url + "/sensor/v1/enroll", {"onboardingInfo": info, "device": {
        "hostId": f"bench-host-{name}", "computerDnsName": f"bench-{name}.corp.local", "osPlatform": "Linux"}})
    return f"WardDevice {r['deviceId']}:{r['credential']}"


def run_setup(label, nodes, auths, args, batch, events_per_batch, creds, work):
    """`auths`: per node, the devices that post to it (one wrk process each: a device's batches are
    one Kafka partition's, so several devices spread the load over the topic)."""
    env = dict(os.environ, BATCH_FILE=batch, BATCH_EVENTS=str(events_per_batch))
    procs = sum(len(a) for a in auths)
    wrks = []
    for node, devices in zip(nodes, auths):
        for auth in devices:
            wrks.append(subprocess.Popen(["wrk", "-t1", f"-c{max(1, args.connections // procs)}", f"-d{args.seconds}s",
                                          "-s", os.path.join(ROOT, "bench", "ingest_post.lua"), node.url],
                                         env=dict(env, WARD_AUTH=auth), stdout=subprocess.PIPE, text=True))
    eps = 0.0
    errors = 0
    for w in wrks:
        out, _ = w.communicate()
        eps += float(re.search(r"^events/s: (\S+)", out, re.M).group(1))
        errors += int(re.search(r"^batches: \d+ ok, (\d+) errors", out, re.M).group(1))
    accepted = sum(n.accepted() for n in nodes)
    start = time.time()
    first = sum(n.stored_rows() for n in nodes)
    last, last_change = first, time.time()
    while last < accepted and time.time() - last_change < 30:  # stop waiting once nothing moves for 30 s
        time.sleep(0.2)
        now = sum(n.stored_rows() for n in nodes)
        if now != last:
            last, last_change = now, time.time()
    catch_up = last_change - start
    stored = last
    end_to_end = stored / (args.seconds + catch_up)
    tok = token(nodes[0], creds)
    hunts = {}
    for name, query in HUNTS:
        per_node = []
        for node in nodes:
            times = []
            for _ in range(args.runs):
                t = time.time()
                http("POST", node.url + "/api/advancedhunting/run", {"Query": query}, {"Authorization": "Bearer " + tok})
                times.append((time.time() - t) * 1000)
            per_node.append(statistics.median(times))
        hunts[name] = per_node
    return {"label": label, "acked_eps": eps, "errors": errors, "accepted": accepted, "stored_at_stop": first,
            "stored": stored, "catch_up_s": catch_up, "end_to_end_rows_s": end_to_end, "hunts_ms": hunts}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--events", type=int, default=1000)
    # librdkafka's mock cluster keeps only the newest ~5 MB of each partition: spread over its 8
    # partitions so that a backlog of a few seconds is still there when the store writers get to it.
    ap.add_argument("--devices", type=int, default=8)
    args = ap.parse_args()
    ward = os.path.join(args.build, "ward")
    work = tempfile.mkdtemp(prefix="ward-scale-out-", dir="/var/tmp")
    os.chmod(work, 0o755)  # the backends run as nobody when this runs as root
    batch_ndjson, batch = os.path.join(work, "batch.ndjson"), os.path.join(work, "batch.zst")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "make_batch.py"), str(args.events), batch_ndjson], check=True)
    subprocess.run(["zstd", "-q", "-1", batch_ndjson, "-o", batch], check=True)
    results = []
    started, kafka, nodes = [], None, []
    try:
        # One embedded node.
        data = os.path.join(work, "embedded")
        creds = json.loads(subprocess.run([ward, "init", "--data-dir", data, "--json"], capture_output=True, text=True, check=True).stdout)
        nodes = [Node(ward, data, None, work)]
        auths = [[enroll(nodes[0], ward, data, None, work, f"embedded{i}") for i in range(args.devices)]]
        results.append(run_setup("one embedded node", nodes, auths, args, batch, args.events, creds, work))
        print(json.dumps(results[-1]), flush=True)
        for n in nodes:
            n.stop()
        nodes = []
        # Two nodes on PostgreSQL + Kafka + ClickHouse.
        pg = support("postgres_server.sh", "start", os.path.join(work, "pg"))
        started.append(("postgres_server.sh", os.path.join(work, "pg")))
        ch = support("clickhouse_server.sh", "start", os.path.join(work, "ch"))
        started.append(("clickhouse_server.sh", os.path.join(work, "ch")))
        kafka = subprocess.Popen([os.path.join(args.build, "ward-kafka-mock"), "--brokers", "3", "--topics", "ward-events:8"],
                                 stdout=subprocess.PIPE, text=True)
        bootstrap = kafka.stdout.readline().strip().split("=", 1)[1]
        config = os.path.join(work, "config.json")
        settings = {"state": pg, "log": f"kafka://{bootstrap}/ward-events",
                    "events": "clickhouse://" + ch.split("://", 1)[1].rstrip("/") + "/ward", "sharedDir": os.path.join(work, "shared")}
        with open(config, "w") as f:
            json.dump(settings, f)
        creds = json.loads(subprocess.run([ward, "init", "--data-dir", os.path.join(work, "n1"), "--config", config, "--json"],
                                          capture_output=True, text=True, check=True).stdout)
        first_port = free_port()
        with open(config, "w") as f:
            json.dump(dict(settings, publicUrl=f"http://127.0.0.1:{first_port}"), f)
        nodes = [Node(ward, os.path.join(work, "n1"), config, work, first_port), Node(ward, os.path.join(work, "n2"), config, work)]
        # Tokens carry the public URL as issuer: both nodes must agree on it.
        auths = [[enroll(n, ward, os.path.join(work, "n1"), config, work, f"node{i}-{d}") for d in range(args.devices // 2)]
                 for i, n in enumerate(nodes)]
        results.append(run_setup("two nodes: PostgreSQL + Kafka (mock) + ClickHouse", nodes, auths, args, batch, args.events, creds, work))
    finally:
        for n in nodes:
            n.stop()
        if kafka:
            kafka.send_signal(signal.SIGTERM)
            kafka.wait(timeout=30)
        for script, d in reversed(started):
            subprocess.run(["bash", os.path.join(SUPPORT, script), "stop", d], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))
    print()
    print("| | " + " | ".join(r["label"] for r in results) + " |")
    print("| --- |" + " --- |" * len(results))
    print("| acknowledged events/s (sum over nodes) | " + " | ".join(f"{r['acked_eps'] / 1000:.0f}k" for r in results) + " |")
    print("| rows in the event store when ingest stopped | " + " | ".join(f"{r['stored_at_stop'] / max(r['accepted'], 1):.0%}" for r in results) + " |")
    print("| end to end, ingest + catch-up (rows/s) | " + " | ".join(f"{r['end_to_end_rows_s'] / 1000:.0f}k" for r in results) + " |")
    for name, _ in HUNTS:
        print(f"| hunt `{name}`, median ms (per node) | "
              + " | ".join(" / ".join(f"{t:.0f}" for t in r["hunts_ms"][name]) for r in results) + " |")


if __name__ == "__main__":
    main()
