"""S3 over TLS, as in production: a real proxy against an HTTPS endpoint whose certificate a test CA signed.

The endpoint is a TLS-terminating forwarder (tests/tlsproxy.py) in front of the recording spy and moto.
botocore finds the CA through ``AWS_CA_BUNDLE``, set here for every test: the machine may set it too, to a
bundle that does not hold the test CA.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.harness import RunningProxy
from tests.images import opened, quadrants, solid
from tests.s3spy import S3Spy
from tests.tlsproxy import ServerCert, TestCA, TLSForwarder

IO_THREADS = 4


@dataclass(frozen=True)
class Certs:
    """The trusted test CA, a CA nobody trusts, and server certificates from each."""

    ca: TestCA
    good: ServerCert  # trusted CA, for 127.0.0.1
    rogue: ServerCert  # untrusted CA, for 127.0.0.1
    wrong_host: ServerCert  # trusted CA, for another name


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    directory = tmp_path_factory.mktemp("tls")
    ca, rogue = TestCA(directory, "test-ca"), TestCA(directory, "rogue-ca")
    return Certs(
        ca=ca,
        good=ca.issue(ips=("127.0.0.1",), dns=("localhost",)),
        rogue=rogue.issue(ips=("127.0.0.1",), dns=("localhost",)),
        wrong_host=ca.issue(dns=("s3.example.invalid",)),
    )


@pytest.fixture
def tls_endpoint(spy: S3Spy) -> Iterator[Callable[[ServerCert], TLSForwarder]]:
    """Start an HTTPS endpoint with the given certificate, forwarding to the spy (and so to moto)."""
    started: list[TLSForwarder] = []

    def start(cert: ServerCert) -> TLSForwarder:
        forwarder = TLSForwarder(spy.url, cert)
        started.append(forwarder)
        return forwarder

    yield start
    for forwarder in started:
        forwarder.close()


def start_over_tls(
    start_proxy: Callable[..., RunningProxy],
    monkeypatch: pytest.MonkeyPatch,
    endpoint: TLSForwarder,
    bundle: Path | None,
    **overrides: Any,
) -> RunningProxy:
    """A proxy whose S3 endpoint is ``endpoint``, trusting ``bundle`` (None: botocore's default trust store)."""
    # botocore reads AWS_CA_BUNDLE when the client is made, i.e. when the proxy starts.
    if bundle is None:
        monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    else:
        monkeypatch.setenv("AWS_CA_BUNDLE", str(bundle))
    return start_proxy(s3_endpoint=endpoint.url, **overrides)


def test_objects_and_thumbnails_over_https(start_proxy, monkeypatch, certs, tls_endpoint, s3, bucket, spy, http):
    endpoint = tls_endpoint(certs.good)
    proxy = start_over_tls(start_proxy, monkeypatch, endpoint, certs.ca.bundle)
    photo = solid(64, 48)
    s3.put_object(Bucket=bucket, Key="a/photo.jpg", Body=photo, ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key="earth.jpg", Body=quadrants(800, 600), ContentType="image/jpeg")

    served = http.get(f"{proxy.url}/a/photo.jpg")
    assert served.status_code == 200 and served.headers["X-Cache"] == "s3"
    assert served.content == photo

    made = http.get(f"{proxy.url}/earth_200x200.jpg")
    assert made.status_code == 200 and made.headers["X-Cache"] == "rendered"
    assert opened(made.content).size == (200, 200)
    proxy.flush()
    stored = s3.get_object(Bucket=bucket, Key="earth_200x200.jpg")
    assert stored["Body"].read() == made.content
    assert stored["Metadata"]["source-key"] == "earth.jpg"
    assert {"Key": "thumbnail", "Value": "true"} in s3.get_object_tagging(Bucket=bucket, Key="earth_200x200.jpg")[
        "TagSet"
    ]
    # Everything the spy saw came through the TLS endpoint: it is the proxy's only way to S3.
    assert spy.count("GET", "/a/photo.jpg") == 1
    assert spy.count("GET", "/earth.jpg") == 1
    assert spy.count("PUT", "/earth_200x200.jpg", status=200) == 1
    assert endpoint.accepted >= 1 and endpoint.refused == 0


@pytest.mark.parametrize(
    ("case", "detail"),
    [
        ("untrusted CA", "unable to get local issuer certificate"),
        ("wrong hostname", "doesn't match"),
        ("default trust store", "unable to get local issuer certificate"),
    ],
)
def test_certificate_that_does_not_verify_is_a_502(
    case, detail, start_proxy, monkeypatch, certs, tls_endpoint, s3, bucket, spy, http, caplog
):
    cert = {"untrusted CA": certs.rogue, "wrong hostname": certs.wrong_host}.get(case, certs.good)
    bundle = None if case == "default trust store" else certs.ca.bundle  # the test CA is in no default store
    endpoint = tls_endpoint(cert)
    proxy = start_over_tls(start_proxy, monkeypatch, endpoint, bundle)
    s3.put_object(Bucket=bucket, Key="earth.jpg", Body=quadrants(400, 300), ContentType="image/jpeg")
    caplog.set_level(logging.WARNING, logger="proxy.storage.s3")

    for key in ("earth.jpg", "earth_200x200.jpg"):
        response = http.get(f"{proxy.url}/{key}")
        assert response.status_code == 502, key
        assert response.text.strip() == "S3 TLS verification failed"
        assert response.headers["Cache-Control"] == "no-store"
    warnings = [r.getMessage() for r in caplog.records if r.name == "proxy.storage.s3"]
    assert len(warnings) == 2, warnings
    assert all("TLS certificate verify failed" in w and detail in w for w in warnings), warnings

    # The proxy did try TLS with this endpoint, and nothing got past the handshake: no fallback.
    assert endpoint.wait_for(lambda: endpoint.accepted + endpoint.refused >= 2)
    proxy.flush()
    assert spy.seen == []
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])] == ["earth.jpg"]


def test_plain_http_behind_an_https_url_is_a_502(start_proxy, monkeypatch, certs, s3, bucket, spy, http, caplog):
    monkeypatch.setenv("AWS_CA_BUNDLE", str(certs.ca.bundle))
    proxy = start_proxy(s3_endpoint=spy.url.replace("http://", "https://"))
    s3.put_object(Bucket=bucket, Key="earth.jpg", Body=quadrants(400, 300), ContentType="image/jpeg")
    caplog.set_level(logging.WARNING, logger="proxy.storage.s3")

    response = http.get(f"{proxy.url}/earth_200x200.jpg")

    assert response.status_code == 502
    assert response.text.strip() == "S3 TLS handshake failed"
    warnings = [r.getMessage() for r in caplog.records if r.name == "proxy.storage.s3"]
    assert len(warnings) == 1 and "TLS handshake failed" in warnings[0], warnings
    assert spy.seen == []  # what reached the spy was a ClientHello, not a request


def miss_burst(proxy: RunningProxy, s3: Any, bucket: str, count: int, parallel: int) -> list[requests.Response]:
    """``count`` thumbnail misses on distinct originals, ``parallel`` at a time; write-backs waited for."""
    for i in range(count):
        s3.put_object(Bucket=bucket, Key=f"burst/{i}.jpg", Body=solid(80, 60), ContentType="image/jpeg")

    def get(i: int) -> requests.Response:
        with requests.Session() as session:
            return session.get(f"{proxy.url}/burst/{i}_40x30.jpg", timeout=30)

    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        responses = list(pool.map(get, range(count)))
    proxy.flush()
    return responses


@pytest.mark.parametrize(("count", "parallel"), [(20, 1), (24, 8)])
def test_tls_connections_are_reused(count, parallel, start_proxy, monkeypatch, certs, tls_endpoint, s3, bucket, spy):
    endpoint = tls_endpoint(certs.good)
    proxy = start_over_tls(start_proxy, monkeypatch, endpoint, certs.ca.bundle, io_threads=IO_THREADS)

    responses = miss_burst(proxy, s3, bucket, count, parallel)

    assert [r.status_code for r in responses] == [200] * count
    assert all(r.headers["X-Cache"] == "rendered" for r in responses)
    assert spy.count("PUT", "_40x30.jpg", status=200) == count
    # Each miss is three S3 calls (the key, its original, the write-back) over a pool of IO_THREADS.
    assert len(spy.seen) == 3 * count
    assert 1 <= endpoint.accepted <= IO_THREADS, endpoint.accepted
    assert endpoint.refused == 0
