#!/usr/bin/env python3
"""Measures ward-sensor's CPU and memory while the host starts processes at a fixed rate.

Starts a minimal fake Ward server on 127.0.0.1 (enroll/events/heartbeat, counts events), runs the real
sensor against it, then spawns /bin/true at --rate per second for --seconds and samples the sensor's
/proc/<pid>/stat (utime+stime) and /proc/<pid>/status (VmRSS, VmHWM). Prints one JSON object.

  python3 bench/sensor_overhead.py --sensor build/ward-sensor [--rate 100] [--seconds 20] [--sensor-args ARGS]
"""
import argparse
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


class FakeWard(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    batches = 0
    bytes_in = 0
    tables = {}
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def reply(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/sensor/v1/enroll":
            return self.reply({"deviceId": "b" * 40, "tenantId": "bench", "credential": "c", "heartbeatSeconds": 60})
        if self.path == "/sensor/v1/events":
            if self.headers.get("Content-Encoding") == "zstd":
                body = subprocess.run(["zstd", "-dc"], input=body, capture_output=True).stdout
            with FakeWard.lock:
                FakeWard.batches += 1
                FakeWard.bytes_in += len(body)
                for line in body.splitlines():
                    if line.strip():
                        t = json.loads(line).get("$table", "?")
                        FakeWard.tables[t] = FakeWard.tables.get(t, 0) + 1
            return self.reply({"batchId": self.headers.get("X-Ward-Batch-Id"), "accepted": 0, "rejected": [],
                               "duplicate": False})
        return self.reply({"heartbeatSeconds": 60})


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)


def thread_ticks(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[tid] = (name, int(fields[11]) + int(fields[12]))
        except OSError:
            pass
    return out


def mem_kb(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def measure(pid, seconds, rate):
    with FakeWard.lock:
        before = dict(FakeWard.tables)
    t0, c0, th0 = time.monotonic(), cpu_ticks(pid), thread_ticks(pid)
    max_rss = 0
    spawned = 0
    next_spawn = t0
    next_sample = t0
    while time.monotonic() - t0 < seconds:
        now = time.monotonic()
        if rate > 0 and now >= next_spawn:
            os.posix_spawn("/bin/true", ["/bin/true"], os.environ)
            spawned += 1
            next_spawn += 1.0 / rate
        if now >= next_sample:
            max_rss = max(max_rss, mem_kb(pid)["VmRSS"])
            next_sample += 1.0
        # Reap finished children without blocking.
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        time.sleep(max(0.0, min(next_spawn, next_sample) - time.monotonic()) if rate > 0 else 0.2)
    elapsed = time.monotonic() - t0
    ticks = cpu_ticks(pid) - c0
    per_thread = {}
    for tid, (name, t) in thread_ticks(pid).items():
        d = t - th0.get(tid, (name, 0))[1]
        if d > 0:
            per_thread[name] = round(per_thread.get(name, 0) + 100.0 * d / CLK_TCK / elapsed, 2)
    time.sleep(1.5)  # let the last batch arrive
    with FakeWard.lock:
        events = {t: n - before.get(t, 0) for t, n in FakeWard.tables.items() if n - before.get(t, 0) > 0}
    return {"seconds": round(elapsed, 1), "processesStarted": spawned, "eventsUploaded": events,
            "cpuPercentOfOneCore": round(100.0 * ticks / CLK_TCK / elapsed, 2),
            "maxRssMiB": round(max_rss / 1024, 1), "threads": per_thread}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sensor", default="build/ward-sensor")
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--sensor-args", default="", help="extra sensor arguments, e.g. '--no-netlink'")
    args = ap.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeWard)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    state = tempfile.mkdtemp(prefix="ward-bench-")
    info = {"body": json.dumps({"version": 1, "orgId": "bench", "serverUrl": url, "serverCertSha256": "",
                                "enrollmentKeyId": "k", "expiresAt": "2099-01-01T00:00:00Z", "packageGuid": "g"}),
            "sig": "x", "kid": "k"}
    onboarding = os.path.join(state, "onboard.sh")
    with open(onboarding, "w") as f:
        f.write("#!/bin/sh\n# WARD-ONBOARDING-INFO: " + json.dumps(info) + "\n")
    log = open(os.path.join(state, "sensor.log"), "w")
    sensor = subprocess.Popen([args.sensor, "--onboarding", onboarding, "--state-dir", os.path.join(state, "state")] +
                              args.sensor_args.split(), stderr=log)
    try:
        time.sleep(3)  # start-up: enrollment, first inventory, initial file marks
        idle = measure(sensor.pid, min(args.seconds, 10), 0)
        loaded = measure(sensor.pid, args.seconds, args.rate)
        time.sleep(2)
        result = {"idle": idle, "load": loaded, "vmHwmMiB": round(mem_kb(sensor.pid)["VmHWM"] / 1024, 1),
                  "batchesReceived": FakeWard.batches, "ndjsonBytesReceived": FakeWard.bytes_in}
    finally:
        sensor.send_signal(signal.SIGTERM)
        sensor.wait(timeout=30)
        server.shutdown()
    with open(os.path.join(state, "sensor.log")) as f:
        started = [json.loads(l) for l in f if '"sensor running"' in l]
    if started:
        result["collectors"] = {k: started[0].get(k) for k in ("process", "file", "network")}
    print(json.dumps(result))
    shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
