"""End to end: a real proxy in front of moto's S3 server, exercised over HTTP."""

from __future__ import annotations

from tests.harness import free_port, put, raw, stored_keys
from tests.images import opened, quadrants, solid


def test_serves_existing_object_from_s3_then_memory(proxy, s3, bucket, spy, http):
    body = solid(64, 48)
    put(s3, bucket, "a/photo.jpg", body, CacheControl="max-age=60")
    first = http.get(f"{proxy.url}/a/photo.jpg")
    assert first.status_code == 200
    assert first.content == body
    assert first.headers["Content-Type"] == "image/jpeg"
    assert first.headers["Content-Length"] == str(len(body))
    assert first.headers["Cache-Control"] == "max-age=60"
    assert first.headers["ETag"].startswith('"') and first.headers["Last-Modified"].endswith("GMT")
    assert first.headers["X-Cache"] == "s3"
    second = http.get(f"{proxy.url}/a/photo.jpg")
    assert second.content == body and second.headers["X-Cache"] == "memory"
    assert second.headers["ETag"] == first.headers["ETag"]
    assert spy.count("GET", "/a/photo.jpg") == 1


def test_miss_renders_responds_and_stores_thumbnail(proxy, s3, bucket, http):
    put(s3, bucket, "earth.jpg", quadrants(800, 600))
    response = http.get(f"{proxy.url}/earth_200x200.jpg")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["X-Cache"] == "rendered"
    assert "render;dur=" in response.headers["Server-Timing"]
    image = opened(response.content)
    assert image.format == "JPEG" and image.size == (200, 200)
    proxy.flush()
    stored = s3.get_object(Bucket=bucket, Key="earth_200x200.jpg")
    assert stored["Body"].read() == response.content
    assert stored["ContentType"] == "image/jpeg"
    assert stored["StorageClass"] == "REDUCED_REDUNDANCY"
    assert stored["CacheControl"] == proxy.config.thumbnail_cache_control
    assert stored["Metadata"]["source-key"] == "earth.jpg"
    assert stored["Metadata"]["generator"] == "s3-resize-proxy"
    original_etag = s3.head_object(Bucket=bucket, Key="earth.jpg")["ETag"].strip('"')
    assert stored["Metadata"]["source-etag"] == original_etag
    assert stored["ETag"] == response.headers["ETag"]
    tags = s3.get_object_tagging(Bucket=bucket, Key="earth_200x200.jpg")["TagSet"]
    assert {"Key": "thumbnail", "Value": "true"} in tags


def test_second_request_is_served_from_memory(proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(400, 400))
    first = http.get(f"{proxy.url}/earth_100x100.jpg")
    second = http.get(f"{proxy.url}/earth_100x100.jpg")
    assert second.headers["X-Cache"] == "memory" and second.content == first.content
    assert spy.count("GET", "/earth.jpg") == 1


def test_thumbnail_already_in_s3_is_served_not_rendered(proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(400, 400))
    put(s3, bucket, "earth_100x100.jpg", b"stored-thumbnail")
    response = http.get(f"{proxy.url}/earth_100x100.jpg")
    assert response.content == b"stored-thumbnail" and response.headers["X-Cache"] == "s3"
    assert spy.count("GET", "/earth.jpg") == 0


def test_fill_crops_never_stretches(proxy, s3, bucket, http):
    put(s3, bucket, "q.jpg", quadrants(800, 800))
    image = opened(http.get(f"{proxy.url}/q_400x200.jpg").content).convert("RGB")
    assert image.size == (400, 200)
    # A centre crop of the middle band: left half red over blue -> top-left pixel is red, bottom-left blue.
    r, g, b = image.getpixel((5, 5))
    assert r > 200 and g < 60 and b < 60
    r, g, b = image.getpixel((5, 195))
    assert b > 200 and r < 60
    # Aspect kept: a 1:1 original cropped to 2:1 keeps quadrant boundaries at the centre.
    assert image.getpixel((195, 50))[0] > 200 and image.getpixel((205, 50))[1] > 200


def test_never_upscales(proxy, s3, bucket, http):
    put(s3, bucket, "small.jpg", solid(100, 50))
    image = opened(http.get(f"{proxy.url}/small_400x400.jpg").content)
    assert image.size == (50, 50)  # the largest 1:1 box the original's pixels allow


def test_resize_php_contract(proxy, s3, bucket, http):
    put(s3, bucket, "earth.jpg", quadrants(400, 400))
    response = http.get(f"{proxy.url}/resize.php", params={"src": "earth_120x80.jpg"}, allow_redirects=False)
    assert response.status_code == 200
    assert opened(response.content).size == (120, 80)
    proxy.flush()
    assert s3.head_object(Bucket=bucket, Key="earth_120x80.jpg")["ContentLength"] == len(response.content)
    assert http.get(f"{proxy.url}/resize.php").status_code == 400
    plain = http.get(f"{proxy.url}/resize.php", params={"src": "earth.jpg"})
    assert plain.status_code == 200 and plain.headers["X-Cache"] in ("s3", "memory")


def test_head(proxy, s3, bucket, http):
    put(s3, bucket, "earth.jpg", quadrants(400, 400))
    head = http.head(f"{proxy.url}/earth_50x50.jpg")
    assert head.status_code == 200 and head.content == b""
    get = http.get(f"{proxy.url}/earth_50x50.jpg")
    assert int(head.headers["Content-Length"]) == len(get.content)
    assert head.headers["Content-Type"] == "image/jpeg"
    assert http.head(f"{proxy.url}/missing.jpg").status_code == 404


def test_missing_original_is_404_and_nothing_is_written(proxy, s3, bucket, spy, http):
    response = http.get(f"{proxy.url}/nothing_200x200.jpg")
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"].startswith("text/plain")
    proxy.flush()
    assert spy.count("PUT", "") == 0
    assert stored_keys(s3, bucket) == set()
    # Remembered briefly: a second ask does not go to S3 again.
    before = len(spy.seen)
    assert http.get(f"{proxy.url}/nothing_200x200.jpg").status_code == 404
    assert len(spy.seen) == before


def test_plain_missing_key_is_404(proxy, http):
    assert http.get(f"{proxy.url}/no/such/file.txt").status_code == 404


def test_bad_names_are_400(proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(100, 100))
    for name in (
        "earth_0x0.jpg",
        "earth_200x200.exe",
        "earth_200x200_blur.jpg",
        "earth_0200x200.jpg",
        "earth_20x20@9x.jpg",
    ):
        response = http.get(f"{proxy.url}/{name}")
        assert response.status_code == 400, name
        assert response.text.strip(), name
    for path in ("a/../earth.jpg", "a//earth.jpg", "./earth.jpg", "earth%00.jpg", "earth%0d%0a.jpg", "%ff.jpg"):
        assert raw(proxy.url, "/" + path)[0] == 400, path
    assert http.get(f"{proxy.url}/resize.php?src=a%00b_1x1.jpg").status_code == 400
    proxy.flush()
    assert spy.count("PUT", "") == 0


def test_max_dimension_is_400(start_proxy, s3, bucket, http):
    proxy = start_proxy(max_dimension=500)
    put(s3, bucket, "earth.jpg", quadrants(100, 100))
    assert http.get(f"{proxy.url}/earth_501x10.jpg").status_code == 400
    assert http.get(f"{proxy.url}/earth_300x10@2x.jpg").status_code == 400
    assert http.get(f"{proxy.url}/earth_500x10.jpg").status_code == 200


def test_s3_down_is_502(start_proxy, http):
    proxy = start_proxy(s3_endpoint=f"http://127.0.0.1:{free_port()}")
    response = http.get(f"{proxy.url}/earth_200x200.jpg")
    assert response.status_code == 502
    assert response.headers["Cache-Control"] == "no-store"
    assert http.get(f"{proxy.url}/healthz").status_code == 200


def test_s3_5xx_is_502(proxy, spy, http):
    spy.fail("GET", "/earth.jpg", 500)
    assert http.get(f"{proxy.url}/earth.jpg").status_code == 502


def test_s3_timeout_is_504(start_proxy, spy, http):
    proxy = start_proxy(s3_read_timeout=0.3)
    release = spy.stall("GET", "/slow.jpg")
    try:
        assert http.get(f"{proxy.url}/slow.jpg").status_code == 504
    finally:
        release.set()


def test_thumbnail_lookup_403_and_405_count_as_missing(proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(200, 200))
    spy.fail("GET", "/earth_30x30.jpg", 403, times=1)
    spy.fail("GET", "/earth_40x40.jpg", 405, times=1)
    assert http.get(f"{proxy.url}/earth_30x30.jpg").status_code == 200
    assert http.get(f"{proxy.url}/earth_40x40.jpg").status_code == 200
    proxy.flush()
    assert spy.count("PUT", "/earth_30x30.jpg", 200) == 1
    assert spy.count("PUT", "/earth_40x40.jpg", 200) == 1


def test_failed_write_back_does_not_fail_the_response(proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(200, 200))
    spy.fail("PUT", "/earth_60x60.jpg", 500)
    response = http.get(f"{proxy.url}/earth_60x60.jpg")
    assert response.status_code == 200 and opened(response.content).size == (60, 60)
    proxy.flush()
    assert spy.count("PUT", "/earth_60x60.jpg", 500) >= 1
    assert "earth_60x60.jpg" not in stored_keys(s3, bucket)


def test_large_objects_are_streamed_not_cached(start_proxy, s3, bucket, spy, http):
    proxy = start_proxy(stream_threshold_mb=0.01)
    body = bytes(range(256)) * 200  # 51 KB > 10 KB threshold
    put(s3, bucket, "big.bin", body, content_type="application/octet-stream")
    for _ in range(2):
        response = http.get(f"{proxy.url}/big.bin")
        assert response.content == body and response.headers["X-Cache"] == "s3"
        assert response.headers["Content-Length"] == str(len(body))
    assert spy.count("GET", "/big.bin") == 2


def test_healthz(proxy, http):
    response = http.get(f"{proxy.url}/healthz")
    assert response.status_code == 200 and response.text == "ok\n"


def test_bucket_name_with_dots(start_proxy, s3, http):
    s3.create_bucket(Bucket="images.example.com")
    put(s3, "images.example.com", "dot.jpg", quadrants(100, 100))
    proxy = start_proxy(bucket="images.example.com")
    assert opened(http.get(f"{proxy.url}/dot_20x20.jpg").content).size == (20, 20)
