"""proxy/daemon/budget.py: the memory budget follows the options, serve states it, and the unit's MemoryMax
covers it."""

from __future__ import annotations

import re
from pathlib import Path

from proxy.config import Config
from proxy.daemon.budget import ALLOCATOR_SLACK, BASE_MB, PARENT_MB, budget
from tests.harness import ROOT

UNIT = ROOT / "systemd" / "s3-resize-proxy.service"


def test_every_bound_is_an_option():
    config = Config.defaults(
        bucket="b",
        cache_mb=100,
        originals_cache_mb=20,
        render_threads=3,
        render_queue=7,
        max_source_mb=10,
        max_source_megapixels=25,
        io_threads=8,
        stream_threshold_mb=4,
    )
    found = budget(config)
    assert (found.caches, found.originals_in_flight, found.pixels, found.s3_reads) == (120, 100, 600, 32)
    assert found.worker == (BASE_MB + 120 + 100 + 600 + 32) * (1 + ALLOCATOR_SLACK)
    assert found.service(1) == found.worker
    assert found.service(4) == 4 * found.worker + PARENT_MB


def test_tightening_a_limit_lowers_the_budget():
    default = budget(Config.defaults(bucket="b"))
    tight = budget(Config.defaults(bucket="b", max_source_mb=20, render_queue=16, max_source_megapixels=40))
    assert tight.worker < default.worker / 2


def test_the_units_memory_max_covers_the_default_budget():
    [value] = re.findall(r"^MemoryMax=(\d+)G$", UNIT.read_text(), re.MULTILINE)
    assert int(value) * 1024 >= budget(Config.defaults(bucket="b")).service(1)


def test_serve_logs_its_budget_and_an_idle_worker_is_within_the_base(daemon):
    proxy = daemon("--processes=1")
    assert proxy.notified().startswith("READY=1")
    logged = proxy.wait_log(r"memory budget ([\d,]+) MiB per process \(base (\d+) \+ caches (\d+)")
    assert float(logged.group(1).replace(",", "")) > BASE_MB and int(logged.group(3)) == 256 + 64
    status = Path(f"/proc/{proxy.process.pid}/status").read_text()
    rss_mib = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024
    assert rss_mib < BASE_MB, rss_mib
