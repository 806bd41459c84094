"""The proxy as a real daemon (``python -m proxy serve`` in a subprocess): readiness, SIGTERM, --processes."""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.images import opened, quadrants

ROOT = Path(__file__).resolve().parent.parent


class Daemon:
    """``python -m proxy serve`` with a NOTIFY_SOCKET of our own, its log read as it comes."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(tmp_path / "notify"))
        self.notify.settimeout(30)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("S3RP_", "PROMETHEUS_"))}
        env["NOTIFY_SOCKET"] = str(tmp_path / "notify")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "proxy", "serve", "--address=127.0.0.1", "--port=0", "--access-log=", *args],
            cwd=ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log: list[str] = []
        self._logged = threading.Condition()
        threading.Thread(target=self._read_log, daemon=True).start()
        port = self.wait_log(r"listening on 127\.0\.0\.1:(\d+)")
        self.url = f"http://127.0.0.1:{port.group(1)}"

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._logged:
                self.log.append(line)
                self._logged.notify_all()

    def wait_log(self, pattern: str, timeout: float = 30, count: int = 1) -> re.Match[str]:
        found: list[re.Match[str]] = []

        def seen() -> bool:
            found[:] = [m for line in self.log if (m := re.search(pattern, line))]
            return len(found) >= count or self.process.poll() is not None

        with self._logged:
            self._logged.wait_for(seen, timeout)
        assert len(found) >= count, f"not {count} log lines matching {pattern!r}:\n{''.join(self.log)}"
        return found[0]

    def notified(self) -> str:
        return self.notify.recv(4096).decode()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.notify.close()


@pytest.fixture
def daemon(tmp_path, spy, bucket):
    started: list[Daemon] = []

    def start(*args: str) -> Daemon:
        d = Daemon(tmp_path, f"--bucket={bucket}", f"--s3-endpoint={spy.url}", "--s3-max-attempts=1", *args)
        started.append(d)
        return d

    yield start
    for d in started:
        d.close()


def refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return True
    return False


def get(url: str) -> requests.Response:
    with requests.Session() as session:
        return session.get(url, timeout=30)


def test_ready_only_once_the_bucket_answers_then_sigterm_exits_0(daemon, spy, http):
    spy.fail("HEAD", None, 500, times=2)  # the bucket check fails twice before it answers
    proxy = daemon("--drain-seconds=5")
    message = proxy.notified()
    assert message.startswith("READY=1") and "STATUS=serving bucket" in message
    assert spy.count("HEAD", "", status=500) == 2 and spy.count("HEAD", "", status=200) >= 1
    assert http.get(f"{proxy.url}/readyz").status_code == 200
    assert proxy.stop() == 0
    assert proxy.notified().startswith("STOPPING=1")


def test_sigterm_during_in_flight_renders_completes_them_and_flushes_write_backs(daemon, s3, bucket, spy):
    s3.put_object(Bucket=bucket, Key="earth.jpg", Body=quadrants(600, 400), ContentType="image/jpeg")
    proxy = daemon("--drain-seconds=20")
    assert proxy.notified().startswith("READY=1")
    release = spy.stall("GET", "/earth.jpg")  # every render waits for its original
    sizes = (40, 50, 60, 70)
    with concurrent.futures.ThreadPoolExecutor(len(sizes)) as pool:
        futures = {size: pool.submit(get, f"{proxy.url}/earth_{size}x{size}.jpg") for size in sizes}
        # Each request has looked up its thumbnail (a 404) and is now waiting for the stalled original.
        assert spy.wait_for(lambda: sum(spy.count("GET", f"/earth_{s}x{s}.jpg") for s in sizes) == len(sizes))
        proxy.process.send_signal(signal.SIGTERM)
        assert proxy.notified().startswith("STOPPING=1")
        assert proxy.wait_log("stopping: no new connections")
        assert refused(proxy.url)  # no new connections while draining
        assert proxy.process.poll() is None  # still finishing what it started
        release.set()
        responses = {size: future.result() for size, future in futures.items()}
    assert proxy.process.wait(30) == 0
    for size, response in responses.items():
        assert response.status_code == 200, size
        assert opened(response.content).size == (size, size)
        stored = s3.get_object(Bucket=bucket, Key=f"earth_{size}x{size}.jpg")["Body"].read()
        assert stored == response.content, size
    assert "unfinished" not in "".join(proxy.log)


def test_drain_seconds_bounds_the_stop(daemon, s3, bucket, spy):
    s3.put_object(Bucket=bucket, Key="slow.jpg", Body=quadrants(100, 100), ContentType="image/jpeg")
    proxy = daemon("--drain-seconds=0.5")
    assert proxy.notified().startswith("READY=1")
    release = spy.stall("GET", "/slow.jpg")
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            future = pool.submit(get, f"{proxy.url}/slow_20x20.jpg")
            assert spy.wait_for(lambda: spy.count("GET", "/slow_20x20.jpg") == 1)
            proxy.process.send_signal(signal.SIGTERM)
            assert proxy.process.wait(15) == 0  # gave up on the stalled request after the drain time
            with pytest.raises(requests.ConnectionError):
                future.result()
        assert proxy.wait_log("drain time over with 1 requests unfinished")
    finally:
        release.set()


def test_processes_share_the_port_and_stop_together(daemon, s3, bucket, http):
    s3.put_object(Bucket=bucket, Key="earth.jpg", Body=quadrants(300, 300), ContentType="image/jpeg")
    proxy = daemon("--processes=2", "--drain-seconds=5")
    assert proxy.notified().startswith("READY=1")  # from the parent, once both workers are ready
    workers = [int(m) for m in re.findall(r"worker \d \(pid (\d+)\) started", "".join(proxy.log))]
    assert len(workers) == 2 and proxy.process.pid not in workers
    for size in (10, 20, 30, 40):
        assert get(f"{proxy.url}/earth_{size}x{size}.jpg").status_code == 200
    # Summed over workers. A worker counts a request just after sending it, so another worker's scrape may
    # briefly miss the last one: poll (bounded) for the real condition.
    rendered = ("s3rp_requests_total", (("cache", "rendered"), ("status", "200")))
    deadline = time.monotonic() + 10
    while (count := metric_values(http.get(f"{proxy.url}/metrics").text).get(rendered)) != 4:
        assert time.monotonic() < deadline, count

    # A worker that dies is replaced; SIGTERM is not a death to repair.
    os.kill(workers[0], signal.SIGKILL)
    assert proxy.wait_log(rf"pid {workers[0]}\) exited with status -9; starting a new one")
    assert proxy.wait_log(rf"worker 0 \(pid (?!{workers[0]}\))\d+\) started")
    assert proxy.stop() == 0, "".join(proxy.log)
    assert "starting a new one" not in "".join(proxy.log).split("stopping 2 workers")[1]
    for pid in workers[1:]:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_sighup_reopens_the_access_log_in_every_worker(daemon, tmp_path):
    log_path = tmp_path / "access.log"
    proxy = daemon("--processes=2", f"--access-log={log_path}")
    assert proxy.notified().startswith("READY=1")
    assert get(f"{proxy.url}/before.jpg").status_code == 404
    log_path.rename(tmp_path / "access.log.1")  # what logrotate does, then: systemctl reload
    proxy.process.send_signal(signal.SIGHUP)
    proxy.wait_log(r"access log .* reopened", timeout=10, count=2)
    for n in range(6):  # whichever worker answers writes to the new file
        assert get(f"{proxy.url}/after{n}.jpg").status_code == 404
    assert proxy.stop() == 0
    assert [line.split(" ")[3] for line in log_path.read_text().splitlines()] == [f"after{n}.jpg" for n in range(6)]
    assert "before.jpg" in (tmp_path / "access.log.1").read_text()


def metric_values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    values: dict[tuple[str, Any], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values
