"""Caching and coalescing end to end: single-flight counts, 304s, Range, revalidation, conditional writes."""

from __future__ import annotations

import concurrent.futures
import hashlib
from email.utils import format_datetime, parsedate_to_datetime

import pytest

from tests.harness import get_all_holding, put, stored_keys
from tests.images import opened, quadrants

# ---- single-flight and the originals cache ---------------------------------------------------------------


def test_several_sizes_at_once_cost_one_get_of_the_original(proxy, s3, bucket, spy):
    put(s3, bucket, "earth.jpg", quadrants(1200, 900))
    sizes = ("100x100", "200x150", "300x0", "64x64")
    responses = get_all_holding(
        spy,
        "/earth.jpg",
        [f"{proxy.url}/earth_{size}.jpg" for size in sizes],
        until=lambda: spy.count("GET", "x100.jpg") + spy.count("GET", "x150.jpg") >= 2,
    )
    assert [r.status_code for r in responses] == [200] * 4
    assert [opened(r.content).size for r in responses] == [(100, 100), (200, 150), (300, 225), (64, 64)]
    proxy.flush()
    assert spy.count("GET", "/earth.jpg") == 1
    for size in sizes:
        assert spy.count("PUT", f"/earth_{size}.jpg", 200) == 1


def test_later_sizes_come_from_the_originals_cache(start_proxy, clock, s3, bucket, spy, http):
    proxy = start_proxy(clock=clock, originals_ttl=60)
    put(s3, bucket, "earth.jpg", quadrants(800, 600))
    for size in ("40x40", "80x80", "120x90"):
        assert http.get(f"{proxy.url}/earth_{size}.jpg").status_code == 200
    assert spy.count("GET", "/earth.jpg") == 1


def test_without_the_originals_cache_each_size_fetches_again(start_proxy, s3, bucket, spy, http):
    proxy = start_proxy(originals_cache_mb=0)
    put(s3, bucket, "earth.jpg", quadrants(800, 600))
    for size in ("40x40", "80x80"):
        assert http.get(f"{proxy.url}/earth_{size}.jpg").status_code == 200
    assert spy.count("GET", "/earth.jpg") == 2


@pytest.mark.parametrize(
    ("copies", "overrides"),
    [(20, {}), (50, {"cache_mb": 0, "originals_cache_mb": 0})],
    ids=["with-caches", "without-memory-caches"],
)
def test_identical_misses_share_one_get_one_render_and_one_put(copies, overrides, start_proxy, s3, bucket, spy):
    proxy = start_proxy(**overrides)
    put(s3, bucket, "earth.jpg", quadrants(1600, 1200))
    urls = [f"{proxy.url}/earth_250x250.jpg"] * copies  # the original held: all of them pile up on one flight
    responses = get_all_holding(spy, "/earth.jpg", urls, until=lambda: spy.count("GET", "/earth_250x250.jpg") >= 1)
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    proxy.flush()
    assert spy.count("GET", "/earth.jpg") == 1
    assert spy.count("PUT", "/earth_250x250.jpg") == 1


# ---- conditional requests -------------------------------------------------------------------------------


def test_if_none_match_is_answered_304_from_memory(proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(400, 300))
    first = http.get(f"{proxy.url}/earth_100x100.jpg")
    etag = first.headers["ETag"]
    assert etag == '"' + hashlib.md5(first.content).hexdigest() + '"'  # strong, and what S3 stores
    assert first.headers["Cache-Control"] == proxy.config.thumbnail_cache_control
    proxy.flush()
    before = len(spy.seen)
    for value in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
        response = http.get(f"{proxy.url}/earth_100x100.jpg", headers={"If-None-Match": value})
        assert response.status_code == 304, value
        assert response.content == b""
        assert response.headers["ETag"] == etag
        assert response.headers["Cache-Control"] == proxy.config.thumbnail_cache_control
    other = http.get(f"{proxy.url}/earth_100x100.jpg", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200 and other.content == first.content
    assert len(spy.seen) == before  # not one S3 request


def test_if_modified_since(proxy, s3, bucket, spy, http):
    put(s3, bucket, "doc.txt", b"hello", content_type="text/plain")
    first = http.get(f"{proxy.url}/doc.txt")
    modified = parsedate_to_datetime(first.headers["Last-Modified"])
    before = len(spy.seen)
    same = http.get(f"{proxy.url}/doc.txt", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert same.status_code == 304 and same.content == b""
    earlier = format_datetime(modified.replace(year=modified.year - 1), usegmt=True)
    assert http.get(f"{proxy.url}/doc.txt", headers={"If-Modified-Since": earlier}).status_code == 200
    assert http.get(f"{proxy.url}/doc.txt", headers={"If-Modified-Since": "garbage"}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
    both = {"If-None-Match": '"other"', "If-Modified-Since": first.headers["Last-Modified"]}
    assert http.get(f"{proxy.url}/doc.txt", headers=both).status_code == 200
    assert len(spy.seen) == before


def test_errors_are_never_cacheable_nor_304(proxy, http):
    response = http.get(f"{proxy.url}/missing_10x10.jpg", headers={"If-None-Match": "*"})
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    assert "ETag" not in response.headers


# ---- Range ----------------------------------------------------------------------------------------------


def test_range_is_passed_to_s3(start_proxy, s3, bucket, spy, http):
    proxy = start_proxy(cache_mb=0)
    body = bytes(range(256)) * 4
    put(s3, bucket, "blob.bin", body, content_type="application/octet-stream")
    part = http.get(f"{proxy.url}/blob.bin", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == body[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(body)}"
    assert part.headers["Content-Length"] == "10"
    assert part.headers["Accept-Ranges"] == "bytes"
    ranged = [s for s in spy.seen if s.method == "GET" and s.path.endswith("/blob.bin")]
    assert ranged[-1].headers.get("Range") == "bytes=10-19"
    suffix = http.get(f"{proxy.url}/blob.bin", headers={"Range": "bytes=-5"})
    assert suffix.status_code == 206 and suffix.content == body[-5:]
    past = http.get(f"{proxy.url}/blob.bin", headers={"Range": "bytes=5000-"})
    assert past.status_code == 416
    assert past.headers["Content-Range"] == f"bytes */{len(body)}"
    assert past.headers["Cache-Control"] == "no-store"
    for ignored in ("bytes=0-1,5-6", "items=0-1", "bytes=9-2"):
        whole = http.get(f"{proxy.url}/blob.bin", headers={"Range": ignored})
        assert whole.status_code == 200 and whole.content == body, ignored


def test_range_from_memory_needs_no_s3_request(proxy, s3, bucket, spy, http):
    body = b"0123456789" * 10
    put(s3, bucket, "digits.txt", body, content_type="text/plain")
    assert http.get(f"{proxy.url}/digits.txt").content == body
    before = len(spy.seen)
    part = http.get(f"{proxy.url}/digits.txt", headers={"Range": "bytes=95-"})
    assert part.status_code == 206 and part.content == body[95:]
    assert part.headers["Content-Range"] == "bytes 95-99/100"
    past = http.get(f"{proxy.url}/digits.txt", headers={"Range": "bytes=100-"})
    assert past.status_code == 416 and past.headers["Content-Range"] == "bytes */100"
    stale = http.get(f"{proxy.url}/digits.txt", headers={"Range": "bytes=0-1", "If-Range": '"old"'})
    assert stale.status_code == 200 and stale.content == body
    etag = part.headers["ETag"]
    current = http.get(f"{proxy.url}/digits.txt", headers={"Range": "bytes=0-1", "If-Range": etag})
    assert current.status_code == 206 and current.content == b"01"
    assert len(spy.seen) == before


def test_large_range_is_streamed(start_proxy, s3, bucket, spy, http):
    proxy = start_proxy(stream_threshold_mb=0.01)
    body = bytes(range(256)) * 400  # 100 KB
    put(s3, bucket, "big.bin", body, content_type="application/octet-stream")
    part = http.get(f"{proxy.url}/big.bin", headers={"Range": "bytes=1000-60999"})
    assert part.status_code == 206 and part.content == body[1000:61000]
    assert part.headers["Content-Range"] == f"bytes 1000-60999/{len(body)}"


def test_range_on_a_new_thumbnail_sends_it_whole(proxy, s3, bucket, http):
    put(s3, bucket, "earth.jpg", quadrants(400, 300))
    response = http.get(f"{proxy.url}/earth_50x50.jpg", headers={"Range": "bytes=0-9"})
    assert response.status_code == 200 and opened(response.content).size == (50, 50)


# ---- revalidation after --memory-ttl ---------------------------------------------------------------------


def test_memory_copy_is_revalidated_and_a_replaced_object_picked_up(start_proxy, clock, s3, bucket, spy, http):
    proxy = start_proxy(clock=clock, memory_ttl=60)
    put(s3, bucket, "page.txt", b"version 1", content_type="text/plain")
    assert http.get(f"{proxy.url}/page.txt").headers["X-Cache"] == "s3"
    clock.advance(59)
    assert http.get(f"{proxy.url}/page.txt").headers["X-Cache"] == "memory"
    assert len(spy.seen) == 1  # within the TTL: not even a conditional GET
    # Unchanged: after the TTL one conditional GET, answered 304 by S3; the body still comes from memory.
    clock.advance(2)
    unchanged = http.get(f"{proxy.url}/page.txt")
    assert unchanged.content == b"version 1" and unchanged.headers["X-Cache"] == "memory"
    assert spy.count("GET", "/page.txt", 304) >= 1
    conditional = [s for s in spy.seen if s.path.endswith("/page.txt") and s.status == 304]
    assert conditional[0].headers.get("If-None-Match") == s3.head_object(Bucket=bucket, Key="page.txt")["ETag"]
    assert spy.count("GET", "/page.txt", 200) == 1
    # Confirmed by the 304: fresh for another TTL. Replaced meanwhile: picked up at the next revalidation.
    put(s3, bucket, "page.txt", b"version 2", content_type="text/plain")
    assert http.get(f"{proxy.url}/page.txt").content == b"version 1"
    clock.advance(60)
    response = http.get(f"{proxy.url}/page.txt")
    assert response.content == b"version 2"
    assert response.headers["X-Cache"] == "s3"
    assert response.headers["ETag"] == s3.head_object(Bucket=bucket, Key="page.txt")["ETag"]
    assert spy.count("GET", "/page.txt") == 3


def test_replaced_thumbnail_is_picked_up(start_proxy, clock, s3, bucket, http):
    proxy = start_proxy(clock=clock, memory_ttl=60)
    put(s3, bucket, "earth.jpg", quadrants(400, 300))
    made = http.get(f"{proxy.url}/earth_60x60.jpg")
    assert made.headers["X-Cache"] == "rendered"
    proxy.flush()
    put(s3, bucket, "earth_60x60.jpg", b"replaced by hand")
    assert http.get(f"{proxy.url}/earth_60x60.jpg").content == made.content  # within the TTL
    clock.advance(60)
    assert http.get(f"{proxy.url}/earth_60x60.jpg").content == b"replaced by hand"


def test_revalidation_failure_serves_the_cached_copy(start_proxy, clock, s3, bucket, spy, http):
    proxy = start_proxy(clock=clock, memory_ttl=60)
    put(s3, bucket, "page.txt", b"kept", content_type="text/plain")
    assert http.get(f"{proxy.url}/page.txt").status_code == 200
    spy.fail("GET", "/page.txt", 500)
    clock.advance(60)
    response = http.get(f"{proxy.url}/page.txt")
    assert spy.count("GET", "/page.txt", 500) == 1
    assert response.status_code == 200 and response.content == b"kept"
    assert response.headers["X-Cache"] == "memory"


def test_originals_and_recent_404s_are_kept_for_their_ttl_on_the_proxy_clock(start_proxy, clock, s3, bucket, spy, http):
    proxy = start_proxy(clock=clock, originals_ttl=30, negative_ttl=5)
    put(s3, bucket, "earth.jpg", quadrants(400, 300))
    for later, size, gets in ((0, 40, 1), (29, 50, 1), (2, 60, 2)):  # seconds later, a new size, GETs of earth.jpg
        clock.advance(later)
        assert http.get(f"{proxy.url}/earth_{size}x{size}.jpg").status_code == 200
        assert spy.count("GET", "/earth.jpg") == gets, size
    for later, gets in ((0, 1), (4, 1), (2, 2)):
        clock.advance(later)
        assert http.get(f"{proxy.url}/gone.txt").status_code == 404
        assert spy.count("GET", "/gone.txt") == gets, later


# ---- conditional write-back --------------------------------------------------------------------------------


def test_write_back_is_conditional(proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(200, 200))
    assert http.get(f"{proxy.url}/earth_30x30.jpg").status_code == 200
    proxy.flush()
    (stored,) = [s for s in spy.seen if s.method == "PUT" and s.path.endswith("/earth_30x30.jpg")]
    assert stored.headers.get("If-None-Match") == "*" and stored.status == 200


def test_412_means_another_writer_won_and_is_kept(proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(200, 200))
    release = spy.stall("GET", "/earth.jpg")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(http.get, f"{proxy.url}/earth_30x30.jpg")
        assert spy.wait_for(lambda: spy.count("GET", "/earth_30x30.jpg") >= 1)
        put(s3, bucket, "earth_30x30.jpg", b"the other instance's copy")  # lands between lookup and write-back
        release.set()
        response = future.result()
    assert response.status_code == 200 and opened(response.content).size == (30, 30)
    proxy.flush()
    assert spy.count("PUT", "/earth_30x30.jpg", 412) == 1
    assert s3.get_object(Bucket=bucket, Key="earth_30x30.jpg")["Body"].read() == b"the other instance's copy"


def test_auto_mode_falls_back_when_the_endpoint_lacks_conditional_writes(proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(200, 200))
    spy.fail("PUT", "/earth_30x30.jpg", 501, times=1)
    assert http.get(f"{proxy.url}/earth_30x30.jpg").status_code == 200
    proxy.flush()
    puts = [s for s in spy.seen if s.method == "PUT" and s.path.endswith("/earth_30x30.jpg")]
    assert [(p.status, p.headers.get("If-None-Match")) for p in puts] == [(501, "*"), (200, None)]
    assert s3.head_object(Bucket=bucket, Key="earth_30x30.jpg")["ContentLength"] > 0
    # Remembered: the next write-back goes without the header straight away.
    assert http.get(f"{proxy.url}/earth_40x40.jpg").status_code == 200
    proxy.flush()
    (second,) = [s for s in spy.seen if s.method == "PUT" and s.path.endswith("/earth_40x40.jpg")]
    assert second.status == 200 and "If-None-Match" not in second.headers


def test_conditional_write_on_never_writes_unconditionally(start_proxy, s3, bucket, spy, http):
    proxy = start_proxy(conditional_write="on")
    put(s3, bucket, "earth.jpg", quadrants(200, 200))
    spy.fail("PUT", "/earth_30x30.jpg", 501)
    assert http.get(f"{proxy.url}/earth_30x30.jpg").status_code == 200
    proxy.flush()
    assert spy.count("PUT", "/earth_30x30.jpg") == 1
    assert "earth_30x30.jpg" not in stored_keys(s3, bucket)


# ---- scale-out and Server-Timing -------------------------------------------------------------------------


def test_two_instances_one_bucket_one_object(start_proxy, s3, bucket, spy):
    first, second = start_proxy(), start_proxy()
    put(s3, bucket, "earth.jpg", quadrants(900, 600))
    urls = [f"{first.url}/earth_200x100.jpg", f"{second.url}/earth_200x100.jpg"]
    # Both instances miss and both render.
    responses = get_all_holding(spy, "/earth.jpg", urls, until=lambda: spy.count("GET", "/earth_200x100.jpg") >= 2)
    assert [r.status_code for r in responses] == [200, 200]
    assert responses[0].content == responses[1].content
    assert responses[0].headers["ETag"] == responses[1].headers["ETag"]
    first.flush()
    second.flush()
    assert spy.count("PUT", "/earth_200x100.jpg", 200) == 1
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys.count("earth_200x100.jpg") == 1
    stored = s3.get_object(Bucket=bucket, Key="earth_200x100.jpg")
    assert stored["Body"].read() == responses[0].content
    assert stored["ETag"] == responses[0].headers["ETag"]


def test_server_timing_on_misses_only(proxy, s3, bucket, http):
    put(s3, bucket, "earth.jpg", quadrants(400, 300))
    rendered = http.get(f"{proxy.url}/earth_80x80.jpg").headers["Server-Timing"]
    assert [part.split(";")[0] for part in rendered.split(", ")] == ["s3", "render", "total"]
    durations = {p.split(";dur=")[0]: float(p.split(";dur=")[1]) for p in rendered.split(", ")}
    assert durations["total"] >= durations["s3"] + durations["render"] - 1.0  # ms, rounding
    from_s3 = http.get(f"{proxy.url}/earth.jpg").headers["Server-Timing"]
    assert [part.split(";")[0] for part in from_s3.split(", ")] == ["s3", "total"]
    assert "Server-Timing" not in http.get(f"{proxy.url}/earth_80x80.jpg").headers
