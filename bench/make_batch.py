"""Builds a realistic telemetry batch (NDJSON) for ingest benchmarks: a mix of process, network, file
and logon events with varied command lines, paths, hashes and addresses. Usage: make_batch.py N OUT."""
import hashlib
import json
import random
import sys
import time

random.seed(7)
n, out = int(sys.argv[1]), sys.argv[2]
now = time.time()
binaries = ["/usr/bin/bash", "/usr/bin/python3", "/usr/bin/curl", "/usr/sbin/sshd", "/usr/bin/systemctl",
            "/usr/bin/git", "/usr/lib/postgresql/15/bin/postgres", "/usr/bin/tar", "/usr/bin/ls", "/usr/bin/grep"]
args = ["-la /var/log", "status nginx", "-s https://repo.example.org/pkg.tar.gz", "clone https://git.example/x.git",
        "-c 'import os; print(os.getpid())'", "czf /backup/etc.tgz /etc", "-R www-data /srv", "-i 'error' /var/log/syslog"]
users = ["root", "www-data", "postgres", "alice", "bob", "deploy"]


def ts(i):
    t = now - 5 + i * 0.001
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%07dZ" % int((t % 1) * 1e7)


with open(out, "w") as f:
    for i in range(n):
        exe = random.choice(binaries)
        name = exe.rsplit("/", 1)[1]
        h = hashlib.sha256(exe.encode()).hexdigest()
        common = {"Timestamp": ts(i), "ReportId": i + 1, "InitiatingProcessFileName": "bash",
                  "InitiatingProcessFolderPath": "/usr/bin/bash", "InitiatingProcessId": 1000 + i % 50,
                  "InitiatingProcessAccountName": random.choice(users),
                  "InitiatingProcessCommandLine": "bash -c " + random.choice(args)}
        kind = i % 10
        if kind < 5:
            ev = {"$table": "DeviceProcessEvents", "ActionType": "ProcessCreated", "FileName": name, "FolderPath": exe,
                  "SHA256": h, "SHA1": h[:40], "MD5": h[:32], "ProcessId": 20000 + i,
                  "ProcessCommandLine": f"{name} {random.choice(args)} --run {random.randint(1, 10**6)}",
                  "AccountName": random.choice(users)}
        elif kind < 8:
            ev = {"$table": "DeviceNetworkEvents", "ActionType": "ConnectionSuccess",
                  "RemoteIP": f"203.0.113.{random.randint(1, 254)}", "RemotePort": random.choice([443, 80, 22, 5432]),
                  "LocalIP": "10.0.0.5", "LocalPort": random.randint(32768, 60999), "Protocol": "Tcp",
                  "RemoteUrl": random.choice(["", "repo.example.org", "api.example.com"])}
        elif kind < 9:
            ev = {"$table": "DeviceFileEvents", "ActionType": random.choice(["FileCreated", "FileModified"]),
                  "FileName": f"report-{random.randint(1, 10**5)}.csv", "FolderPath": "/srv/data/reports",
                  "FileSize": random.randint(100, 10**6)}
        else:
            ev = {"$table": "DeviceLogonEvents", "ActionType": random.choice(["LogonSuccess", "LogonFailed"]),
                  "AccountName": random.choice(users), "LogonType": "Network",
                  "RemoteIP": f"198.51.100.{random.randint(1, 254)}", "RemotePort": random.randint(1024, 65535)}
        ev.update(common)
        f.write(json.dumps(ev) + "\n")
