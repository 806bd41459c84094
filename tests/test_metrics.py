"""/metrics, /readyz and the admin listener, on a real proxy in front of moto."""

from __future__ import annotations

import requests
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from tornado.netutil import bind_sockets

from proxy.config import Config
from proxy.http.admin import READY_TTL
from proxy.http.server import Listeners
from proxy.observe.metrics import Metrics
from tests.harness import RunningProxy, Samples, free_port, get_all, metric, metric_samples, put
from tests.images import quadrants


def scrape(http: requests.Session, base: str) -> Samples:
    response = http.get(f"{base}/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return metric_samples(response.text)


def test_metrics_count_requests_phases_write_backs_and_errors(proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(400, 300))
    assert http.get(f"{proxy.url}/earth_100x100.jpg").headers["X-Cache"] == "rendered"
    assert http.get(f"{proxy.url}/earth_100x100.jpg").headers["X-Cache"] == "memory"
    assert http.get(f"{proxy.url}/earth.jpg").headers["X-Cache"] == "s3"
    assert http.get(f"{proxy.url}/nothing.jpg").status_code == 404
    spy.fail("GET", "/broken.jpg", 500, times=1)
    assert http.get(f"{proxy.url}/broken.jpg").status_code == 502
    spy.fail("GET", "/busy.jpg", 503, times=1)
    assert http.get(f"{proxy.url}/busy.jpg").status_code == 503
    proxy.flush()

    samples = scrape(http, proxy.url)
    for cache in ("rendered", "memory", "s3"):
        assert metric(samples, "s3rp_requests_total", status="200", cache=cache) == 1, cache
    assert metric(samples, "s3rp_requests_total", status="404", cache="error") == 1
    assert metric(samples, "s3rp_requests_total", status="502", cache="error") == 1
    assert metric(samples, "s3rp_requests_total", status="503", cache="error") == 1
    assert metric(samples, "s3rp_memory_cache_hit_ratio") == 1 / 3
    assert metric(samples, "s3rp_memory_cache_bytes") > 0
    assert metric(samples, "s3rp_write_backs_total", result="stored") == 1
    assert metric(samples, "s3rp_write_backs_total", result="failed") == 0
    assert metric(samples, "s3rp_s3_errors_total", kind="error") == 1
    assert metric(samples, "s3rp_s3_errors_total", kind="throttled") == 1
    for phase in ("queue_wait", "render", "write_back"):
        assert metric(samples, "s3rp_phase_duration_seconds_count", phase=phase) == 1, phase
    assert metric(samples, "s3rp_phase_duration_seconds_count", phase="s3_fetch") >= 3
    assert metric(samples, "s3rp_request_duration_seconds_count", cache="rendered") == 1
    assert ("s3rp_renders_in_progress", ()) in samples and ("s3rp_renders_queued", ()) in samples
    # Admin endpoints are not object requests.
    assert sum(v for (name, _), v in samples.items() if name == "s3rp_requests_total") == 6


def test_write_back_failure_is_counted(proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(200, 200))
    spy.fail("PUT", "/earth_50x50.jpg", 500)
    assert http.get(f"{proxy.url}/earth_50x50.jpg").status_code == 200
    proxy.flush()
    assert metric(scrape(http, proxy.url), "s3rp_write_backs_total", result="failed") == 1


def test_readyz_answers_whether_the_bucket_answers(start_proxy, clock, spy, http):
    proxy = start_proxy(clock=clock)
    spy.fail("HEAD", None, 500)
    not_ready = http.get(f"{proxy.url}/readyz")
    assert not_ready.status_code == 503 and not_ready.text.startswith("not ready:")
    assert not_ready.headers["Cache-Control"] == "no-store"
    assert http.get(f"{proxy.url}/healthz").status_code == 200  # alive all the same
    spy.clear_faults()
    # An answer is reused for READY_TTL (1s); the next check, after it, sees the bucket.
    assert http.get(f"{proxy.url}/readyz").status_code == 503
    assert spy.count("HEAD", "") == 1
    clock.advance(READY_TTL)
    ready = http.get(f"{proxy.url}/readyz")
    assert ready.status_code == 200
    assert ready.text == "ready\n"
    assert spy.count("HEAD", "") == 2


def test_readyz_probes_share_one_bucket_check(start_proxy, clock, spy):
    proxy = start_proxy(clock=clock)
    statuses = [r.status_code for r in get_all([f"{proxy.url}/readyz"] * 40)]
    assert set(statuses) == {200}
    assert spy.count("HEAD", "") == 1  # one per READY_TTL (1s) at most, not one per probe


def test_readyz_with_s3_down_is_503(start_proxy, http):
    proxy = start_proxy(s3_endpoint=f"http://127.0.0.1:{free_port()}")
    response = http.get(f"{proxy.url}/readyz")
    assert response.status_code == 503 and "not ready" in response.text
    assert http.get(f"{proxy.url}/healthz").status_code == 200


def test_readyz_is_503_while_draining(proxy, http):
    proxy.server.hooks.draining = True
    response = http.get(f"{proxy.url}/readyz")
    assert response.status_code == 503 and "shutting down" in response.text
    assert response.headers["Connection"] == "close"


def test_admin_endpoints_on_their_own_listener(spy, bucket, s3, http):
    config = Config.defaults(
        bucket=bucket,
        s3_endpoint=spy.url,
        address="127.0.0.1",
        port=0,
        admin_address="127.0.0.1",
        admin_port=1,  # any non-zero port: the socket below, bound to a free port, is what serves
        access_log="",
        s3_max_attempts=1,
    )
    listeners = Listeners(bind_sockets(0, "127.0.0.1"), bind_sockets(0, "127.0.0.1"))
    proxy = RunningProxy(config, listeners)
    try:
        admin = f"http://127.0.0.1:{listeners.admin_port}"
        s3.put_object(Bucket=bucket, Key="metrics", Body=b"an object named metrics")
        assert http.get(f"{admin}/readyz").status_code == 200
        assert http.get(f"{admin}/healthz").status_code == 200
        assert "s3rp_requests_total" in http.get(f"{admin}/metrics").text
        # On the main port, /metrics is the bucket's key like any other.
        assert http.get(f"{proxy.url}/metrics").content == b"an object named metrics"
        assert http.get(f"{proxy.url}/readyz").status_code == 404
        assert http.get(f"{admin}/earth.jpg").status_code == 404
    finally:
        proxy.stop()


def test_workers_publish_their_values_for_the_others(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # what --processes sets for its workers
    try:
        metrics = Metrics()

        def seen_by_another_worker() -> Samples:
            registry = CollectorRegistry()
            registry.register(MultiProcessCollector(None, str(tmp_path)))
            return metric_samples(generate_latest(registry).decode())

        metrics.requests.labels("200", "memory").inc()
        metrics.request_seconds.labels("memory").observe(0.002)
        assert metric(seen_by_another_worker(), "s3rp_requests_total", status="200", cache="memory") == 0
        metrics.publish()  # every second, and at stop
        seen = seen_by_another_worker()
        assert metric(seen, "s3rp_requests_total", status="200", cache="memory") == 1
        assert metric(seen, "s3rp_request_duration_seconds_bucket", cache="memory", le="0.001") == 0
        assert metric(seen, "s3rp_request_duration_seconds_bucket", cache="memory", le="0.0025") == 1
        assert metric(seen, "s3rp_request_duration_seconds_count", cache="memory") == 1
        metrics.requests.labels("200", "memory").inc()
        own = metric_samples(metrics.render().decode())  # a worker's own /metrics publishes its values first
        assert metric(own, "s3rp_requests_total", status="200", cache="memory") == 2
    finally:
        monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    single = Metrics()  # one process again: values in memory, no files
    single.requests.labels("200", "memory").inc()
    assert metric(metric_samples(single.render().decode()), "s3rp_requests_total", status="200", cache="memory") == 1
    assert len(list(tmp_path.iterdir())) == 3  # counter, histogram and gauge files of the worker above only
