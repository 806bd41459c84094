"""--auto-format end to end: AVIF/WebP by Accept, Vary, per-variant ETags and 304s, variant keys in S3."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import pytest
import requests

from proxy import stored
from tests.images import opened, quadrants, solid

# What browsers send for an <img> (their image Accept headers).
CHROME = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
SAFARI_17 = (
    "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,"
    "image/*;q=0.8,*/*;q=0.5"
)
SAFARI_15 = "image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"
FIREFOX = "image/avif,image/webp,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
OLD = "image/png,image/*;q=0.8,*/*;q=0.5"


def put(s3: Any, bucket: str, key: str, body: bytes, content_type: str = "image/jpeg") -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


@pytest.fixture
def auto(start_proxy):
    return start_proxy(auto_format=("avif", "webp"))


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (CHROME, "image/avif"),
        (FIREFOX, "image/avif"),
        (SAFARI_17, "image/avif"),  # the option's order decides, not the header's
        (SAFARI_15, "image/webp"),
        (OLD, "image/jpeg"),
        ("*/*", "image/jpeg"),
        ("image/*", "image/jpeg"),
        ("image/avif;q=0, image/webp;q=0.000", "image/jpeg"),
        ("image/avif;q=0,image/webp", "image/webp"),
        (";;;,,image/avif;q=abc,@@/@@,image/webp;q=2", "image/jpeg"),
        (None, "image/jpeg"),
    ],
)
def test_the_format_follows_accept(auto, s3, bucket, http, accept, content_type):
    put(s3, bucket, "earth.jpg", quadrants(640, 480))
    headers = {} if accept is None else {"Accept": accept}
    response = http.get(f"{auto.url}/earth_200x150.jpg", headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Vary"] == "Accept"
    image = opened(response.content)
    assert image.size == (200, 150)
    assert image.format == {"image/avif": "AVIF", "image/webp": "WEBP", "image/jpeg": "JPEG"}[content_type]


def test_each_variant_has_its_etag_its_304_and_its_key_in_s3(auto, s3, bucket, http):
    put(s3, bucket, "earth.jpg", quadrants(640, 480))
    url = f"{auto.url}/earth_200x150.jpg"
    avif = http.get(url, headers={"Accept": CHROME})
    plain = http.get(url, headers={"Accept": OLD})
    webp = http.get(url, headers={"Accept": SAFARI_15})
    etags = {avif.headers["ETag"], plain.headers["ETag"], webp.headers["ETag"]}
    assert len(etags) == 3
    for response, accept in ((avif, CHROME), (plain, OLD), (webp, SAFARI_15)):
        again = http.get(url, headers={"Accept": accept, "If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304 and again.headers["Vary"] == "Accept"
        assert again.headers["ETag"] == response.headers["ETag"]
        other = http.get(url, headers={"Accept": accept, "If-None-Match": '"something-else"'})
        assert other.status_code == 200 and other.content == response.content
    part = http.get(url, headers={"Accept": CHROME, "Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == avif.content[:10]
    auto.flush()
    for key, content_type, body in (
        ("earth_200x150.jpg.avif", "image/avif", avif.content),
        ("earth_200x150.jpg.webp", "image/webp", webp.content),
        ("earth_200x150.jpg", "image/jpeg", plain.content),
    ):
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ContentType"] == content_type and head["StorageClass"] == "REDUCED_REDUNDANCY"
        assert stored.source_of(head["Metadata"]) is not None
        tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        assert stored.is_tagged(tags)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body


def test_concurrent_negotiated_misses_render_once_and_put_once_per_variant(auto, s3, bucket, spy):
    put(s3, bucket, "earth.jpg", quadrants(640, 480))
    release = spy.stall("GET", "/earth.jpg")

    def fetch(accept: str) -> requests.Response:
        with requests.Session() as session:
            return session.get(f"{auto.url}/earth_100x100.jpg", headers={"Accept": accept}, timeout=30)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(fetch, CHROME) for _ in range(8)]
        # Each looks up the variant, then the thumbnail, then waits for the one (stalled) GET of the original.
        assert spy.wait_for(lambda: spy.count("GET", "/earth_100x100.jpg") >= 8)
        release.set()
        responses = [future.result() for future in futures]
    assert {r.headers["Content-Type"] for r in responses} == {"image/avif"}
    assert len({r.content for r in responses}) == 1
    auto.flush()
    assert spy.count("GET", "/earth.jpg") == 1
    assert spy.count("PUT", "/earth_100x100.jpg.avif") == 1
    assert spy.count("PUT", "/earth_100x100.jpg") - spy.count("PUT", "/earth_100x100.jpg.") == 1


def test_a_stored_variant_is_served_from_s3_by_a_fresh_proxy(start_proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(640, 480))
    first = start_proxy(auto_format=("avif",))
    made = http.get(f"{first.url}/earth_120x90.jpg", headers={"Accept": CHROME})
    first.flush()
    second = start_proxy(auto_format=("avif",))
    served = http.get(f"{second.url}/earth_120x90.jpg", headers={"Accept": CHROME})
    assert served.headers["X-Cache"] == "s3" and served.content == made.content
    assert served.headers["ETag"] == made.headers["ETag"]
    assert spy.count("GET", "/earth.jpg") == 1  # the second proxy rendered nothing


def test_not_smaller_means_the_requested_format_and_the_choice_is_stored(auto, s3, bucket, spy, http):
    # A 4x4 flat PNG: AVIF's and WebP's containers alone outweigh the whole PNG.
    put(s3, bucket, "dot.png", solid(4, 4, fmt="PNG"), "image/png")
    url = f"{auto.url}/dot_4x4.png"
    first = http.get(url, headers={"Accept": CHROME})
    assert first.headers["Content-Type"] == "image/png" and first.headers["Vary"] == "Accept"
    auto.flush()
    head = s3.head_object(Bucket=bucket, Key="dot_4x4.png.avif")  # the choice, remembered in S3
    assert head["ContentType"] == "image/png"
    assert s3.get_object(Bucket=bucket, Key="dot_4x4.png.avif")["Body"].read() == first.content
    again = http.get(url, headers={"Accept": CHROME})
    assert again.headers["Content-Type"] == "image/png" and again.headers["X-Cache"] == "memory"
    assert spy.count("GET", "/dot.png") == 1  # decided once


def test_a_variant_of_an_existing_thumbnail_is_made_from_its_original(auto, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(640, 480))
    plain = http.get(f"{auto.url}/earth_64x64.jpg")
    auto.flush()
    avif = http.get(f"{auto.url}/earth_64x64.jpg", headers={"Accept": CHROME})
    assert avif.headers["Content-Type"] == "image/avif" and opened(avif.content).size == (64, 64)
    auto.flush()
    assert spy.count("PUT", "/earth_64x64.jpg") - spy.count("PUT", "/earth_64x64.jpg.") == 1  # not rewritten
    assert plain.headers["Content-Type"] == "image/jpeg"


def test_an_uploaded_object_named_like_a_thumbnail_is_never_negotiated(auto, s3, bucket, http):
    banner = solid(728, 90)
    put(s3, bucket, "banner_728x90.jpg", banner)
    response = http.get(f"{auto.url}/banner_728x90.jpg", headers={"Accept": CHROME})
    assert response.headers["Content-Type"] == "image/jpeg" and response.content == banner
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="banner_728x90.jpg.")


def test_resize_php_always_answers_and_stores_the_requested_format(auto, s3, bucket, http):
    put(s3, bucket, "earth.jpg", quadrants(640, 480))
    response = http.get(f"{auto.url}/resize.php", params={"src": "earth_80x60.jpg"}, headers={"Accept": CHROME})
    assert response.headers["Content-Type"] == "image/jpeg"
    assert "Vary" not in response.headers
    auto.flush()
    assert s3.head_object(Bucket=bucket, Key="earth_80x60.jpg")["ContentType"] == "image/jpeg"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="earth_80x60.jpg.")


def test_off_by_default_no_vary_and_other_keys_are_not_negotiated(start_proxy, auto, s3, bucket, http):
    put(s3, bucket, "earth.jpg", quadrants(640, 480))
    plain = start_proxy()
    response = http.get(f"{plain.url}/earth_50x50.jpg", headers={"Accept": CHROME})
    assert response.headers["Content-Type"] == "image/jpeg" and "Vary" not in response.headers
    for key in ("earth_50x50.gif", "earth_50x50.webp", "earth.jpg"):
        other = http.get(f"{auto.url}/{key}", headers={"Accept": CHROME})
        assert other.status_code == 200 and "Vary" not in other.headers, key
        assert other.headers["Content-Type"] != "image/avif"
    missing = http.get(f"{auto.url}/nothing_50x50.jpg", headers={"Accept": CHROME})
    assert missing.status_code == 404 and missing.headers["Vary"] == "Accept"


def test_a_variant_looks_like_the_format_its_key_names(auto, s3, bucket, http):
    put(s3, bucket, "logo.png", solid(200, 100, (10, 200, 10, 128), fmt="PNG", mode="RGBA"), "image/png")
    jpeg_like = opened(http.get(f"{auto.url}/logo_100x100_pad.jpg", headers={"Accept": CHROME}).content)
    assert jpeg_like.format == "AVIF" and jpeg_like.convert("RGBA").getpixel((50, 5))[3] == 255  # white, no alpha
    png_like = opened(http.get(f"{auto.url}/logo_100x100_pad.png", headers={"Accept": CHROME}).content)
    assert png_like.convert("RGBA").getpixel((50, 5))[3] == 0  # transparent, as PNG (whichever was smaller)
