"""The systemd unit: what the issue asks of it, and that ``systemd-analyze verify`` accepts it."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.config import OPTIONS_BY_NAME
from tests.harness import ROOT

UNIT = ROOT / "systemd" / "s3-resize-proxy.service"
WATCH_UNIT = ROOT / "systemd" / "s3-resize-proxy-watch.service"
INSTALLED_BINARY = "/opt/s3-resize-proxy/bin/s3-resize-proxy"


def service_section(unit: Path = UNIT) -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None, comment_prefixes=("#",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(unit.read_text())
    return dict(parser["Service"])


def test_unit_has_what_production_needs():
    service = service_section()
    assert service["Type"] == "notify"
    assert service["Restart"] == "on-failure"
    assert service["User"] and service["Group"]
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert service[key] == "yes", key
    assert service["ProtectSystem"] == "strict"
    assert service["CapabilityBoundingSet"] == ""
    assert service["EnvironmentFile"].startswith("-/etc/s3-resize-proxy/")
    assert service["MemoryMax"]
    assert float(service["TimeoutStopSec"]) > OPTIONS_BY_NAME["drain-seconds"].default
    assert service["ExecStart"].startswith(f"{INSTALLED_BINARY} serve --config /etc/s3-resize-proxy/")


def test_watch_unit_has_the_hardening_of_the_proxy_unit():
    proxy, watch = service_section(), service_section(WATCH_UNIT)
    hardening = ("User", "Group", "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices")
    hardening += tuple(key for key in proxy if key.startswith(("ProtectK", "ProtectC", "ProtectH", "Restrict")))
    hardening += ("LockPersonality", "SystemCallArchitectures", "UMask", "CapabilityBoundingSet", "AmbientCapabilities")
    assert len(hardening) >= 20
    for key in hardening:
        assert watch[key] == proxy[key], key
    assert watch["Restart"] == "on-failure" and watch["KillSignal"] == "SIGTERM"
    assert watch["EnvironmentFile"] == proxy["EnvironmentFile"] and watch["MemoryMax"]
    assert watch["ExecStart"].startswith(
        f"{INSTALLED_BINARY} watch --config /etc/s3-resize-proxy/s3-resize-proxy.conf "
    )
    # stopping waits for the long poll in progress (20 s at most) and the work in flight (drain-seconds)
    assert float(watch["TimeoutStopSec"]) > max(20, OPTIONS_BY_NAME["drain-seconds"].default) + 5


@pytest.mark.parametrize("unit", [UNIT, WATCH_UNIT], ids=lambda unit: unit.name)
def test_unit_passes_systemd_analyze_verify(tmp_path, unit):
    if shutil.which("systemd-analyze") is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing in CI (.ci/run installs it)")
        pytest.skip("systemd-analyze is not installed")
    # verify insists that ExecStart exists: point it at this checkout's entry point, change nothing else.
    binary = Path(sys.executable).with_name("s3-resize-proxy")
    assert binary.exists(), "pip install -e . first"
    checked = tmp_path / unit.name
    checked.write_text(unit.read_text().replace(INSTALLED_BINARY, str(binary)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(checked)], capture_output=True, text=True, timeout=60, check=False
    )
    complaints = [line for line in result.stderr.splitlines() if unit.name in line]
    assert result.returncode == 0 and not complaints, result.stderr


@pytest.mark.parametrize("unit", [UNIT, WATCH_UNIT])
def test_units_cap_malloc_arenas_from_the_first_allocation(unit):
    # Environment= may repeat, which the parser above folds: read the lines.
    lines = unit.read_text().splitlines()
    assert f"Environment=MALLOC_ARENA_MAX={OPTIONS_BY_NAME['malloc-arenas'].default}" in lines
    threshold = OPTIONS_BY_NAME["malloc-mmap-threshold-kb"].default * 1024
    assert f"Environment=MALLOC_MMAP_THRESHOLD_={threshold}" in lines
