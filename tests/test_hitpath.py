"""The hit path (proxy/http/hitpath.py) answers memory hits byte for byte as the application would, and leaves
every other request to it."""

import http.client

import pytest

from proxy.observe.accesslog import parse
from tests.harness import metric, metric_samples, put
from tests.images import quadrants

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'
VARYING = {"Date", "X-Request-Id"}


def answer(proxy, path, method="GET", headers=None):
    """(status, [(header, value)] in order, body) exactly as sent."""
    conn = http.client.HTTPConnection(proxy.url.removeprefix("http://"), timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def header(headers, name):
    return next(value for key, value in headers if key.lower() == name.lower())


def without_varying(headers):
    return [(name, value) for name, value in headers if name not in VARYING]


@pytest.fixture
def filled(start_proxy, s3, bucket, tmp_path):
    """A proxy with an uploaded photo, an SVG and a rendered thumbnail in memory."""
    proxy = start_proxy(access_log=str(tmp_path / "access.log"))
    put(s3, bucket, "photo.jpg", quadrants(300, 200), CacheControl="max-age=60")
    put(s3, bucket, "drawing.svg", SVG, content_type="image/svg+xml")
    for path in ("/photo.jpg", "/drawing.svg", "/photo_80x60.jpg"):
        assert answer(proxy, path)[0] == 200  # the application answers and fills memory
    return proxy


CASES = [
    ("GET", {}),
    ("HEAD", {}),
    ("GET", {"If-None-Match": "ETAG"}),
    ("HEAD", {"If-None-Match": 'W/"other", ETAG'}),
    ("GET", {"If-None-Match": '"other"'}),
    ("GET", {"If-Modified-Since": "Wed, 01 Jan 2099 00:00:00 GMT"}),
    ("GET", {"If-Modified-Since": "Wed, 01 Jan 2003 00:00:00 GMT"}),
    ("GET", {"Connection": "close", "X-Request-Id": "lb-42"}),
]


@pytest.mark.parametrize("path", ["/photo.jpg", "/drawing.svg", "/photo_80x60.jpg"])
@pytest.mark.parametrize(("method", "headers"), CASES)
def test_a_hit_is_answered_as_the_application_answers_it(filled, path, method, headers):
    etag = header(answer(filled, path)[1], "ETag")
    headers = {name: value.replace("ETAG", etag) for name, value in headers.items()}
    before = filled.server.hit_path.answered
    fast = answer(filled, path, method, headers)
    assert filled.server.hit_path.answered == before + 1
    full = answer(filled, path + "?via=app", method, headers)  # a query string: the application answers
    assert filled.server.hit_path.answered == before + 1
    assert fast[0] == full[0]
    assert without_varying(fast[1]) == without_varying(full[1])
    assert fast[2] == full[2]
    assert {name for name, _ in fast[1]} >= VARYING
    if "X-Request-Id" in headers:
        assert header(fast[1], "X-Request-Id") == "lb-42"


def test_hits_are_logged_and_counted_like_any_request(filled, tmp_path):
    for _ in range(3):
        answer(filled, "/photo_80x60.jpg", headers={"X-Request-Id": "hit-1"})
    answer(filled, "/photo_80x60.jpg", "HEAD")
    assert filled.server.hit_path.answered == 4
    entries = [parse(line) for line in (tmp_path / "access.log").read_text().splitlines()]
    hits = [e for e in entries if e.request_id == "hit-1"]
    assert len(hits) == 3
    assert {(e.method, e.key, e.status, e.cache, e.render_ms, e.client) for e in hits} == {
        ("GET", "photo_80x60.jpg", 200, "memory", None, "127.0.0.1")
    }
    assert hits[0].bytes == len(answer(filled, "/photo_80x60.jpg")[2])
    assert entries[-1].method == "HEAD" and entries[-1].bytes == 0
    samples = metric_samples(answer(filled, "/metrics")[2].decode())
    assert metric(samples, "s3rp_requests_total", status="200", cache="memory") == 5
    assert metric(samples, "s3rp_request_duration_seconds_count", cache="memory") == 5


def test_other_routes_are_never_answered_as_objects(start_proxy, s3, bucket):
    proxy = start_proxy()
    put(s3, bucket, "healthz", b"an object named healthz", content_type="text/plain")
    assert answer(proxy, "/resize.php?src=healthz")[2] == b"an object named healthz"  # now in memory
    assert answer(proxy, "/healthz")[2] == b"ok\n"
    assert proxy.server.hit_path.answered == 0


def test_ranges_stale_entries_and_bad_paths_go_to_the_application(start_proxy, s3, bucket, clock):
    proxy = start_proxy(clock=clock, memory_ttl=60)
    put(s3, bucket, "photo.jpg", quadrants(300, 200))
    whole = answer(proxy, "/photo.jpg")[2]
    status, _, body = answer(proxy, "/photo.jpg", headers={"Range": "bytes=0-9"})
    assert (status, body) == (206, whole[:10])
    assert answer(proxy, "/photo.jpg", "POST")[0] == 405
    assert answer(proxy, "/%ff")[0] == 400
    assert proxy.server.hit_path.answered == 0
    clock.advance(61)  # stale: the application revalidates with S3
    assert header(answer(proxy, "/photo.jpg")[1], "X-Cache") == "memory"
    assert proxy.server.hit_path.answered == 0
    assert answer(proxy, "/photo.jpg")[0] == 200  # confirmed fresh again: a hit
    assert proxy.server.hit_path.answered == 1


def test_signed_originals_and_negotiated_keys_stay_with_the_application(start_proxy, s3, bucket):
    signed = start_proxy(signing_key=("k" * 32,), sign_originals=True)
    put(s3, bucket, "photo.jpg", quadrants(300, 200))
    assert answer(signed, "/photo.jpg")[0] == 403
    assert answer(signed, "/photo.jpg")[0] == 403
    negotiated = start_proxy(auto_format=("webp",))
    assert answer(negotiated, "/photo_80x60.jpg", headers={"Accept": "image/webp"})[0] == 200
    status, headers, _ = answer(negotiated, "/photo_80x60.jpg", headers={"Accept": "image/webp"})
    assert (status, header(headers, "Vary"), header(headers, "Content-Type")) == (200, "Accept", "image/webp")
    assert signed.server.hit_path.answered == negotiated.server.hit_path.answered == 0
