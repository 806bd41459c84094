"""Fixtures: moto's S3 server on 127.0.0.1, a recording forwarder in front of it, and running proxies."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import requests
from moto.server import ThreadedMotoServer

from proxy.config import Config
from tests.harness import Daemon, FakeClock, RunningProxy
from tests.s3spy import S3Spy

# Dummy credentials: botocore signs every request; moto accepts any key. No profile or IMDS look-ups.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
)
for _name in [name for name in os.environ if name.startswith("S3RP_")]:
    del os.environ[_name]


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3(moto_url: str) -> Any:
    """A botocore client straight to moto, for arranging and checking the bucket."""
    return botocore.session.get_session().create_client("s3", region_name="us-east-1", endpoint_url=moto_url)


@pytest.fixture
def spy(moto_url: str) -> Iterator[S3Spy]:
    forwarder = S3Spy(moto_url)
    yield forwarder
    forwarder.close()


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def clock() -> FakeClock:
    """A clock for a proxy's TTLs that moves only with ``clock.advance(seconds)``."""
    return FakeClock()


@pytest.fixture
def start_proxy(spy: S3Spy, bucket: str) -> Iterator[Callable[..., RunningProxy]]:
    """Start a proxy on 127.0.0.1 (free port) in front of ``bucket`` through the spy; options as overrides,
    ``clock`` for its TTLs (the real monotonic clock unless given)."""
    running: list[RunningProxy] = []

    def start(clock: Callable[[], float] = time.monotonic, **overrides: Any) -> RunningProxy:
        options: dict[str, Any] = {
            "bucket": bucket,
            "s3_endpoint": spy.url,
            "address": "127.0.0.1",
            "port": 0,
            "access_log": "",
            "s3_max_attempts": 1,
        }
        options.update(overrides)
        proxy = RunningProxy(Config.defaults(**options), clock=clock)
        running.append(proxy)
        return proxy

    yield start
    for proxy in running:
        proxy.stop()


@pytest.fixture
def proxy(start_proxy: Callable[..., RunningProxy]) -> RunningProxy:
    return start_proxy()


@pytest.fixture
def daemon(tmp_path: Path, spy: S3Spy, bucket: str) -> Iterator[Callable[..., Daemon]]:
    """Start ``python -m proxy serve`` in front of ``bucket`` through the spy, with extra flags; killed after."""
    started: list[Daemon] = []

    def start(*args: str) -> Daemon:
        d = Daemon(tmp_path, f"--bucket={bucket}", f"--s3-endpoint={spy.url}", "--s3-max-attempts=1", *args)
        started.append(d)
        return d

    yield start
    for d in started:
        d.close()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
