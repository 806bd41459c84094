"""The proxy as a real daemon (``python -m proxy serve`` in a subprocess): readiness, SIGTERM, --processes."""

from __future__ import annotations

import concurrent.futures
import http.client
import os
import re
import signal
import socket
import time
from pathlib import Path

import pytest
import requests

from tests.harness import get, metric_samples, put
from tests.images import opened, quadrants


def refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return True
    return False


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
    put(s3, bucket, "earth.jpg", quadrants(600, 400))
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
    put(s3, bucket, "slow.jpg", quadrants(100, 100))
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
    put(s3, bucket, "earth.jpg", quadrants(300, 300))
    proxy = daemon("--processes=2", "--drain-seconds=5")
    assert proxy.notified().startswith("READY=1")  # from the parent, once both workers are ready
    workers = started_workers(proxy)
    assert sorted(workers) == [0, 1] and proxy.process.pid not in workers.values()
    for size in (10, 20, 30, 40):
        assert get(f"{proxy.url}/earth_{size}x{size}.jpg").status_code == 200
    # Summed over workers. A worker counts a request just after sending it, so another worker's scrape may
    # briefly miss the last one: poll (bounded) for the real condition.
    rendered = ("s3rp_requests_total", (("cache", "rendered"), ("status", "200")))
    deadline = time.monotonic() + 10
    while (count := metric_samples(http.get(f"{proxy.url}/metrics").text).get(rendered)) != 4:
        assert time.monotonic() < deadline, count

    # A worker that dies is replaced; SIGTERM is not a death to repair.
    kill_and_wait_for_respawn(proxy, workers[0])
    assert proxy.stop() == 0, "".join(proxy.log)
    assert "starting a new one" not in "".join(proxy.log).split("stopping 2 workers")[1]
    with pytest.raises(ProcessLookupError):  # the worker never killed was stopped too
        os.kill(workers[1], 0)


def started_workers(proxy) -> dict[int, int]:
    """Slot -> pid of the workers started so far. The two workers log in whichever order they run, so a pid's
    place in the log says nothing of its slot."""
    return {int(slot): int(pid) for slot, pid in re.findall(r"worker (\d) \(pid (\d+)\) started", "".join(proxy.log))}


def kill_and_wait_for_respawn(proxy, pid: int) -> None:
    """SIGKILL worker ``pid``; return once the parent has reaped it (its socket is closed) and started another
    in its slot. Stopping before the parent reaped the dead worker would report it as a failed stop (status 1)."""
    slot = next(s for s, p in started_workers(proxy).items() if p == pid)
    os.kill(pid, signal.SIGKILL)
    assert proxy.wait_log(rf"worker {slot} \(pid {pid}\) exited with status -9; starting a new one")
    assert proxy.wait_log(rf"worker {slot} \(pid (?!{pid}\))\d+\) started")


def connections_by_pid(pids: list[int], port: int) -> dict[int, int]:
    """Established TCP connections to ``port`` held by each of ``pids`` (from /proc/net/tcp and their fds)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":  # 01: ESTABLISHED
            inodes.add(fields[9])
    counts = {}
    for pid in pids:
        held = {os.readlink(fd).removeprefix("socket:[").rstrip("]") for fd in Path(f"/proc/{pid}/fd").iterdir()}
        counts[pid] = len(held & inodes)
    return counts


def test_workers_listen_on_sockets_of_their_own_and_share_connections(daemon):
    proxy = daemon("--processes=2")
    assert proxy.notified().startswith("READY=1")
    workers = started_workers(proxy)
    port = int(proxy.url.rsplit(":", 1)[1])
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(16)]
    try:
        for conn in connections:  # 16 keep-alive connections opened at once, as wrk -c16 does
            conn.connect()
        for conn in connections:
            conn.request("GET", "/healthz")
            assert conn.getresponse().read() == b"ok\n"
        counts = connections_by_pid(list(workers.values()), port)
    finally:
        for conn in connections:
            conn.close()
    # One shared socket lets the first worker awake accept all 16; the kernel's SO_REUSEPORT hash spreads
    # them (each worker holding none has odds of 2 in 65,536).
    assert sum(counts.values()) == 16 and min(counts.values()) >= 1, counts
    # The port stays held while workers come and go: the parent keeps a bound (not listening) reservation.
    kill_and_wait_for_respawn(proxy, workers[0])
    assert get(f"{proxy.url}/healthz").status_code == 200
    assert proxy.stop() == 0, "".join(proxy.log)


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
