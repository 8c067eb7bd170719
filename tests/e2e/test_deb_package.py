"""The Debian packages: scripts/build-deb.sh builds ward and ward-sensor from this build, and
deb_install_scenario.py installs, starts, onboards and purges them inside mount, network and pid
namespaces this test creates, over an overlay of the host's root (the host is never changed)."""
import os
import subprocess
import sys

import pytest

from conftest import WARD

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    r = subprocess.run(["bash", os.path.join(REPO, "scripts/build-deb.sh"), os.path.dirname(os.path.abspath(WARD)), str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    paths = r.stdout.split()
    assert [os.path.basename(p).split("_")[0] for p in paths] == ["ward", "ward-sensor"]
    return paths


def deb_field(deb, field):
    return subprocess.run(["dpkg-deb", "-f", deb, field], capture_output=True, text=True, check=True).stdout.strip()


def deb_files(deb):
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1].lstrip(".") for line in listing.splitlines()}


def test_packages_hold_the_services_binaries_and_portal(debs):
    ward, sensor = debs
    files = deb_files(ward)
    for f in ("/usr/bin/ward", "/lib/systemd/system/ward.service", "/etc/ward/server.env",
              "/usr/share/ward/web/index.html", "/usr/share/doc/ward/deployment.md", "/usr/share/doc/ward/copyright"):
        assert f in files, f
    assert "/usr/bin/ward-sensor" not in files
    assert {"/usr/bin/ward-sensor", "/lib/systemd/system/ward-sensor.service"} <= deb_files(sensor)
    # Depends come from the binaries' shared libraries; the server needs adduser for its user.
    depends = deb_field(ward, "Depends")
    assert "adduser" in depends and "libssl3" in depends and "libsqlite3-0" in depends, depends
    assert "nftables" in deb_field(sensor, "Depends")
    control = subprocess.run(["dpkg-deb", "--ctrl-tarfile", ward], capture_output=True, check=True).stdout
    assert b"conffiles" in control and b"postinst" in control


@pytest.mark.skipif(os.geteuid() != 0, reason="dpkg -i into an overlay root needs mount namespaces (root)")
def test_install_start_onboard_and_purge(debs):
    scenario = os.path.join(os.path.dirname(__file__), "deb_install_scenario.py")
    out = subprocess.run(["unshare", "--mount", "--net", "--pid", "--fork", "--propagation", "private",
                          sys.executable, scenario, *debs], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "deb scenario passed" in out.stdout
    print(out.stdout)
