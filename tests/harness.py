"""What the tests share: a real ProxyServer in a background thread, a fake clock, and S3/HTTP/metrics helpers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import requests
from prometheus_client.parser import text_string_to_metric_families

from proxy.config import Config
from proxy.http.server import Listeners, ProxyServer
from proxy.keys import ThumbnailSpec, parse_thumbnail
from tests.s3spy import S3Spy

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent


class RunningProxy:
    def __init__(
        self, config: Config, listeners: Listeners | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

        async def start() -> ProxyServer:
            server = ProxyServer(config, clock=clock)
            server.start(listeners)
            return server

        self.server = self.run(start())
        self.config = config
        self.service = self.server.service
        self.url = f"http://127.0.0.1:{self.server.port}"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine on the proxy's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def flush(self) -> None:
        """Wait until every write-back started so far has finished."""
        assert self.run(self.service.drain_writes(20)), "write-backs did not finish"

    def stop(self) -> None:
        if self.loop.is_closed():  # already stopped by the test
            return
        try:
            self.run(self.server.stop(5))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


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


class FakeClock:
    """A monotonic clock that moves only when told to: TTLs run out at once, and never by accident."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def spec(key: str) -> ThumbnailSpec:
    """The ThumbnailSpec of a key that must parse as one."""
    parsed = parse_thumbnail(key)
    assert parsed is not None, key
    return parsed


def free_port() -> int:
    """A loopback port nobody listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- S3 (a botocore client straight to moto) ------------------------------------------------------------


def put(s3: Any, bucket: str, key: str, body: bytes, content_type: str = "image/jpeg", **extra: Any) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **extra)


def stored_keys(s3: Any, bucket: str, prefix: str = "") -> set[str]:
    """The keys in the bucket (one listing page: tests hold far fewer than 1000)."""
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])}


# ---- HTTP ------------------------------------------------------------------------------------------------


def get(url: str) -> requests.Response:
    """GET on a connection of its own (for requests sent from several threads at once)."""
    with requests.Session() as session:
        return session.get(url, timeout=30)


def get_all(urls: list[str]) -> list[requests.Response]:
    """GET every URL at once, each on its own connection."""
    with concurrent.futures.ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(get, urls))


def get_all_holding(spy: S3Spy, held: str, urls: list[str], until: Callable[[], bool]) -> list[requests.Response]:
    """GET every URL at once while S3 GETs of keys ending in ``held`` wait; release them once ``until()`` holds
    (checked as the spy records requests), so that the requests meet in the proxy."""
    release = spy.stall("GET", held)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(get_all, urls)
        assert spy.wait_for(until), "the requests did not reach S3"
        release.set()
        return future.result()


def raw(base: str, path: str, method: str = "GET") -> tuple[int, http.client.HTTPMessage, bytes]:
    """Send a path exactly as written (requests would normalise '..', '//' and encodings)."""
    conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def raw_bytes(base: str, target: bytes) -> int:
    """Send a request line with raw bytes in it (http.client refuses them); return the status."""
    with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        response = sock.makefile("rb").readline()
    return int(response.split()[1])


# ---- /metrics --------------------------------------------------------------------------------------------

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def metric_samples(text: str) -> Samples:
    """Prometheus text -> {(sample name, sorted labels): value}."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def metric(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when it was never set (a counter not yet incremented)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# Sets SIGINT to the disposition named in argv[1] (and unblocks it for SIG_DFL), then execs argv[2:]: the
# disposition and the mask survive exec, the pid is the same, so signals sent to the process reach the command.
_LAUNCHER = """\
import os, signal, sys
disposition = signal.Handlers[sys.argv[1]]
signal.signal(signal.SIGINT, disposition)
if disposition is signal.SIG_DFL:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
os.execv(sys.argv[2], sys.argv[2:])
"""


def with_sigint(disposition: signal.Handlers, command: list[str]) -> list[str]:
    """``command`` (an absolute executable first) started with SIGINT at ``disposition``: SIG_DFL (and
    unblocked) as a shell in a terminal starts a command, or SIG_IGN as a shell without job control starts one
    in the background (``python -m pytest > log &`` in a script).

    A child inherits ignored signals and the signal mask across exec, and Python turns SIGINT into
    KeyboardInterrupt (asyncio.run: into cancelling its main task) only if it starts with SIGINT at its
    default. A test that presses Ctrl-C on a child must start it with SIG_DFL: else the child inherits whatever
    pytest was started with, and a pytest started in the background makes the child drop the signal.
    """
    return [sys.executable, "-c", _LAUNCHER, disposition.name, *command]
