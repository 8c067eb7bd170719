"""Isolation, code-execution restriction and indicator blocking by the real sensor, end to end, in
network and mount namespaces this test creates (ns_response_scenario.py); the host's firewall and
binaries are never touched."""
import os
import subprocess
import sys

import pytest

from conftest import WARD


@pytest.mark.skipif(os.geteuid() != 0, reason="namespaces, nftables and fanotify need root")
def test_enforcement_in_namespaces():
    scenario = os.path.join(os.path.dirname(__file__), "ns_response_scenario.py")
    out = subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", "--fork", sys.executable, scenario],
                         env=dict(os.environ, WARD_BIN=os.path.abspath(WARD)), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-6000:]
    assert "ns scenario OK" in out.stdout
    print(out.stdout)
