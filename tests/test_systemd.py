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
INSTALLED_BINARY = "/opt/s3-resize-proxy/bin/s3-resize-proxy"


def service_section() -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None, comment_prefixes=("#",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
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


def test_unit_passes_systemd_analyze_verify(tmp_path):
    if shutil.which("systemd-analyze") is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing in CI (.ci/run installs it)")
        pytest.skip("systemd-analyze is not installed")
    # verify insists that ExecStart exists: point it at this checkout's entry point, change nothing else.
    binary = Path(sys.executable).with_name("s3-resize-proxy")
    assert binary.exists(), "pip install -e . first"
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(INSTALLED_BINARY, str(binary)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    complaints = [line for line in result.stderr.splitlines() if UNIT.name in line]
    assert result.returncode == 0 and not complaints, result.stderr
