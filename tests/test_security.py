"""Safe on the open internet: size policy, key tricks, source and queue limits, write-back safety, headers.

Decoder-level limits (pixel bombs, corrupt files, animations) are tested with the render pipeline.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

import pytest
import requests
from PIL import Image

from proxy.http.activecontent import ACTIVE_CONTENT_CSP
from proxy.imaging.pool import RenderPool
from proxy.stored import metadata_key
from proxy.tools.bucket import generated
from tests import corpus
from tests.harness import Daemon, get, put, raw, raw_bytes, stored_keys
from tests.images import opened, quadrants, solid
from tests.s3spy import Fault

# ---- keys -----------------------------------------------------------------------------------------------

BAD_KEYS = {  # as they appear in a URL (percent-encoded) -> why they are refused
    "a/../earth.jpg": "dot-dot segment",
    "..": "dot-dot alone",
    "a/..": "trailing dot-dot",
    "%2e%2e/earth.jpg": "encoded dot-dot",
    "a/%2E%2E/earth_10x10.jpg": "encoded dot-dot, thumbnail",
    "./earth.jpg": "dot segment",
    "a//earth.jpg": "empty segment",
    "/earth.jpg": "leading slash",
    "a%2F%2Fearth_10x10.jpg": "encoded empty segment",
    "earth%00.jpg": "NUL",
    "earth_10x10.jpg%00.png": "NUL inside a thumbnail name",
    "earth%01.jpg": "control character",
    "earth%09.jpg": "tab",
    "earth%1f.jpg": "unit separator",
    "earth%7f.jpg": "DEL",
    "earth%0d.jpg": "CR",
    "earth%0a.jpg": "LF",
    "earth%0d%0aSet-Cookie:%20x=1.jpg": "CRLF injection",
    "%ff.jpg": "invalid UTF-8 byte",
    "%c3%28.jpg": "invalid UTF-8 sequence",
    "%c0%af.jpg": "overlong UTF-8 '/'",
    "%ed%a0%80.jpg": "UTF-8 encoded surrogate",
    "%80earth.jpg": "UTF-8 continuation byte alone",
    "a" * 1021 + ".jpg": "1025 bytes",
    "%C3%A9" * 511 + ".jpg": "1026 bytes of two-byte characters",
}


@pytest.mark.parametrize("route", ["path", "resize.php"])
def test_unsafe_keys_are_400_before_any_s3_call(route, proxy, s3, bucket, spy):
    put(s3, bucket, "earth.jpg", quadrants(100, 100))
    for key, why in BAD_KEYS.items():
        path = "/" + key if route == "path" else "/resize.php?src=" + key.replace("/", "%2F")
        status, headers, body = raw(proxy.url, path)
        assert status == 400, (why, path)
        assert body.strip(), why  # a short reason
        assert headers["X-Content-Type-Options"] == "nosniff", why
        assert headers["Cache-Control"] == "no-store", why
    assert raw(proxy.url, "/resize.php?src=")[0] == 400
    proxy.flush()
    assert spy.seen == []
    assert stored_keys(s3, bucket) == {"earth.jpg"}
    assert raw(proxy.url, "/healthz")[0] == 200


def test_raw_bytes_in_the_request_line(proxy, s3, bucket, spy):
    put(s3, bucket, "été.jpg", b"summer")
    assert raw_bytes(proxy.url, "/été.jpg".encode()) == 200  # raw UTF-8, as curl sends it: the same key
    assert raw_bytes(proxy.url, "/resize.php?src=été.jpg".encode()) == 200
    before = len(spy.seen)
    for target in (b"/\xff.jpg", b"/\xc3\x28.jpg", b"/resize.php?src=\xff.jpg", b"/a\x00b.jpg", b"/a\x01b.jpg"):
        assert raw_bytes(proxy.url, target) == 400, target
    assert len(spy.seen) == before


def test_key_length_limit_is_1024_bytes(proxy, spy):
    assert raw(proxy.url, "/" + "a" * 1020 + ".jpg")[0] == 404  # exactly 1024: looked up
    assert raw(proxy.url, "/" + "%C3%A9" * 510 + ".jpg")[0] == 404  # 1024 bytes in two-byte characters
    assert spy.count("GET", ".jpg") == 2


# ---- size policy ----------------------------------------------------------------------------------------


def test_absurd_sizes_are_400_and_fetch_nothing(proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(100, 100))
    for key in (
        "earth_4097x10.jpg",
        "earth_10x4097.jpg",
        "earth_0x4097.jpg",
        "earth_4097x0.jpg",
        "earth_1025x0@4x.jpg",  # 4100 pixels after the device pixel ratio
        "earth_2049x2049@2x.jpg",
        "earth_99999999999999999999999x1.jpg",
        "earth_1x1@5x.jpg",
        "earth_1x1@1x.jpg",
        "earth_0x0.jpg",
        "earth_0x0@2x.jpg",
    ):
        response = http.get(f"{proxy.url}/{key}")
        assert response.status_code == 400, key
        assert response.text.strip(), key
    assert spy.count("GET", "/earth.jpg") == 0
    # The largest allowed size is made (never upscaled: the original's 100 pixels are the limit).
    largest = http.get(f"{proxy.url}/earth_4096x0.jpg")
    assert largest.status_code == 200 and opened(largest.content).size == (100, 100)
    assert http.get(f"{proxy.url}/earth_1024x1024@4x.jpg").status_code == 200
    proxy.flush()
    assert stored_keys(s3, bucket) == {"earth.jpg", "earth_4096x0.jpg", "earth_1024x1024@4x.jpg"}


def test_allowed_sizes_refuse_every_other_size_without_fetching(start_proxy, s3, bucket, spy, http):
    proxy = start_proxy(allowed_sizes=((200, 200), (400, 0)))
    put(s3, bucket, "earth.jpg", quadrants(800, 800))
    put(s3, bucket, "banner_728x90.jpg", b"an original named like a thumbnail")
    for key in (
        "earth_201x200.jpg",
        "earth_400x300.jpg",
        "earth_0x400.jpg",  # 400x0 is a preset, 0x400 is not
        "earth_100x100@2x.jpg",  # the same pixels as 200x200, but not the preset
        "earth_400x400.jpg",
        "earth_4096x4096.jpg",
    ):
        response = http.get(f"{proxy.url}/{key}")
        assert response.status_code == 403, key
        assert response.text == "size not allowed\n"
        assert response.headers["Cache-Control"] == "no-store"
    assert http.get(f"{proxy.url}/resize.php", params={"src": "earth_300x300.jpg"}).status_code == 403
    proxy.flush()
    assert spy.count("GET", "/earth.jpg") == 0 and spy.count("PUT", "") == 0
    # A preset is made in any mode, format and device pixel ratio.
    for key, size in (
        ("earth_200x200.jpg", (200, 200)),
        ("earth_200x200@2x.jpg", (400, 400)),
        ("earth_200x200_fit.webp", (200, 200)),
        ("earth_400x0.png", (400, 400)),
    ):
        response = http.get(f"{proxy.url}/{key}")
        assert response.status_code == 200, key
        assert opened(response.content).size == size, key
    # An existing object is served whatever its name looks like.
    assert http.get(f"{proxy.url}/banner_728x90.jpg").content == b"an original named like a thumbnail"


# ---- limits: source bytes, deadline, render queue -------------------------------------------------------


def padded_jpeg(total: int) -> bytes:
    """A valid small JPEG followed by junk up to ``total`` bytes (decoders ignore what follows the image)."""
    image = solid(64, 64)
    return image + b"\0" * (total - len(image))


def test_original_over_max_source_mb_is_422_and_nothing_is_stored(start_proxy, s3, bucket, spy, http):
    proxy = start_proxy(max_source_mb=0.1)  # 104857 bytes
    put(s3, bucket, "small.jpg", padded_jpeg(100_000))
    put(s3, bucket, "big.jpg", padded_jpeg(300_000))
    assert http.get(f"{proxy.url}/small_10x10.jpg").status_code == 200
    response = http.get(f"{proxy.url}/big_10x10.jpg")
    assert response.status_code == 422 and "larger than" in response.text
    # Served as an object it is fine: the limit is on what is decoded, not on what is passed through.
    assert http.get(f"{proxy.url}/big.jpg").status_code == 200
    proxy.flush()
    assert "big_10x10.jpg" not in stored_keys(s3, bucket)
    assert spy.count("PUT", "/big_10x10.jpg") == 0


def test_source_limit_holds_without_content_length(start_proxy, s3, bucket, spy, http):
    proxy = start_proxy(max_source_mb=0.1)
    put(s3, bucket, "big.jpg", padded_jpeg(300_000))
    spy.chunked("GET", "/big.jpg")  # no Content-Length to check up front: only reading can tell
    response = http.get(f"{proxy.url}/big_10x10.jpg")
    assert response.status_code == 422 and "larger than" in response.text
    proxy.flush()
    assert spy.count("GET", "/big.jpg") == 1 and spy.count("PUT", "") == 0


def test_s3_connect_timeout_is_504(start_proxy, http):
    with socket.socket() as unanswering, socket.socket() as filler:
        unanswering.bind(("127.0.0.1", 0))
        unanswering.listen(0)  # never accepted: once this one connection fills the backlog, SYNs go unanswered
        filler.connect(unanswering.getsockname())
        port = unanswering.getsockname()[1]
        proxy = start_proxy(s3_endpoint=f"http://127.0.0.1:{port}", s3_connect_timeout=0.3)
        for key in ("earth.jpg", "earth_10x10.jpg"):
            response = http.get(f"{proxy.url}/{key}", timeout=10)
            assert response.status_code == 504, key
            assert response.elapsed.total_seconds() < 5
        assert http.get(f"{proxy.url}/healthz").status_code == 200


def test_render_deadline_is_504_and_nothing_is_stored(start_proxy, s3, bucket, spy, http):
    proxy = start_proxy(render_timeout=0.3)
    put(s3, bucket, "earth.jpg", quadrants(200, 200))
    release = spy.stall("GET", "/earth.jpg")
    response = http.get(f"{proxy.url}/earth_50x50.jpg")
    assert response.status_code == 504 and response.headers["Cache-Control"] == "no-store"
    release.set()
    assert spy.wait_for(lambda: spy.count("GET", "/earth.jpg") == 1)
    proxy.flush()
    assert spy.count("PUT", "") == 0 and "earth_50x50.jpg" not in stored_keys(s3, bucket)
    spy.clear_faults()
    # Nothing stuck: the render slot was given back and the next request makes the thumbnail.
    assert proxy.run(_admitted(proxy.service.renders)) == 0
    assert http.get(f"{proxy.url}/earth_50x50.jpg").status_code == 200


async def _admitted(pool: RenderPool) -> int:
    return pool.in_progress + pool.queued


def test_full_render_queue_is_503_before_the_original_is_fetched(start_proxy, s3, bucket, spy, http):
    proxy = start_proxy(render_threads=1, render_queue=0)
    put(s3, bucket, "earth.jpg", quadrants(200, 200))
    gate = threading.Event()
    busy = asyncio.run_coroutine_threadsafe(proxy.service.renders.run(gate.wait, 30), proxy.loop)
    try:
        assert proxy.run(_admitted(proxy.service.renders)) == 1
        response = http.get(f"{proxy.url}/earth_40x40.jpg")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1" and response.headers["Cache-Control"] == "no-store"
        assert spy.count("GET", "/earth.jpg") == 0
        assert http.get(f"{proxy.url}/earth.jpg").status_code == 200  # objects are still served
    finally:
        gate.set()
    assert busy.result(10) is True
    assert http.get(f"{proxy.url}/earth_40x40.jpg").status_code == 200  # not remembered as a failure
    proxy.flush()
    assert spy.count("PUT", "/earth_40x40.jpg") == 1


# ---- memory under a flood (a real process, measured from /proc) -----------------------------------------


def noise_jpeg(width: int, height: int) -> bytes:
    """Random pixels: a JPEG that barely compresses, so the original's bytes dominate memory."""
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(out, "JPEG", quality=95)
    return out.getvalue()


def peak_rss(pid: int) -> int:
    """The process's high-water resident set, in bytes (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def proxy_process(daemon: Callable[..., Daemon]) -> Daemon:
    """``serve`` in a process of its own: one render thread, one queued render, no originals cache."""
    return daemon("--processes=1", "--render-threads=1", "--render-queue=1", "--originals-cache-mb=0")


def test_memory_stays_bounded_under_a_flood_of_large_misses(proxy_process, s3, bucket, spy):
    process, url = proxy_process.process, proxy_process.url
    original = noise_jpeg(1200, 1000)
    flood = 16
    for i in range(flood + 1):
        put(s3, bucket, f"big-{i}.jpg", original)

    for i in range(3):  # warm up: code paths, allocator arenas and one original in flight at a time
        assert get(f"{url}/big-{flood}_{100 + i}x{100 + i}.jpg").status_code == 200
    baseline = peak_rss(process.pid)
    release = threading.Event()
    with spy.lock:
        spy.faults += [Fault("GET", f"/big-{i}.jpg", stall=release) for i in range(flood)]
    with ThreadPoolExecutor(flood) as pool:
        futures = [pool.submit(get, f"{url}/big-{i}_300x300.jpg") for i in range(flood)]
        pending = set(futures)
        while len(pending) > 2:  # the refused ones answer at once; the two admitted wait for their originals
            done, pending = wait(pending, timeout=20, return_when=FIRST_COMPLETED)
            assert done, "requests beyond the render queue were not refused"
        release.set()
        responses = [future.result() for future in futures]
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 2 + [503] * (flood - 2)
    assert all(r.headers["Retry-After"] == "1" for r in responses if r.status_code == 503)
    fetched = sum(spy.count("GET", f"/big-{i}.jpg") for i in range(flood))
    assert fetched == 2  # render threads + queue: no more originals ever held
    growth = peak_rss(process.pid) - baseline
    # Two originals (plus one copy each while read) and slack for the allocator; holding every original
    # of the flood would take 16 x 2 x its size.
    bound = 2 * 2 * len(original) + 8 * 1024 * 1024
    assert growth < bound, f"peak RSS grew by {growth / 2**20:.1f} MB (bound {bound / 2**20:.1f} MB)"
    assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
    assert process.poll() is None


def test_a_process_survives_every_crafted_input_in_bounded_memory(daemon, s3, bucket, spy):
    started = daemon("--processes=1", "--animation=keep")
    process, url = started.process, started.url
    hostile = {
        "giant-png.png": corpus.giant_png_header(),  # 10 gigapixels claimed
        "zlib-bomb.png": corpus.zlib_bomb_png(),  # 81 MB of pixels from a small file
        "ztxt-bomb.png": corpus.ztxt_bomb_png(),  # a text chunk inflating to 16 MB
        "giant-jpeg.jpg": corpus.jpeg_with_size(60_000, 60_000),
        "truncated.jpg": corpus.truncated_jpeg(),
        "empty.jpg": b"",
        "text.jpg": b"this is not a picture\n" * 10,
        "script.png": SVG_WITH_SCRIPT,
        "frames.gif": corpus.gif_with_frames(5_000),
        "big-frames.gif": corpus.gif_with_frames(300),  # 300 frames x 1 MP: over the frames x pixels budget
    }
    for key, body in hostile.items():
        put(s3, bucket, key, body, content_type="application/octet-stream")
    put(s3, bucket, "fine.jpg", quadrants(600, 400))
    with requests.Session() as http:
        assert http.get(f"{url}/fine_200x200.jpg").status_code == 200  # warm up
        baseline = peak_rss(process.pid)
        for key in hostile:
            stem, ext = key.rsplit(".", 1)
            response = http.get(f"{url}/{stem}_100x100.{ext}")
            assert response.status_code == 422, (key, response.status_code, response.text)
            assert response.text.strip() and response.headers["Cache-Control"] == "no-store"
        for key in ("a/../fine.jpg", "fine%00.jpg", "fine_0x0.jpg", "fine_99999x1.jpg", "%ff.jpg"):
            assert raw(url, "/" + key)[0] == 400, key
        assert http.get(f"{url}/fine_200x200.jpg").status_code == 200
        assert http.get(f"{url}/healthz").status_code == 200
    growth = peak_rss(process.pid) - baseline
    assert growth < 48 * 1024 * 1024, f"peak RSS grew by {growth / 2**20:.1f} MB"
    assert process.poll() is None
    assert stored_keys(s3, bucket) == {*hostile, "fine.jpg", "fine_200x200.jpg"}


# ---- write-back: only thumbnails, never over an existing object -----------------------------------------


def test_only_thumbnail_keys_are_ever_written(proxy, s3, bucket, spy, http):
    put(s3, bucket, "earth.jpg", quadrants(200, 200))
    for key in ("earth.jpg", "missing.jpg", "notes/readme.txt", "earth_20x20.jpg", "earth_30x30.webp", "x/y_1x1.gif"):
        http.get(f"{proxy.url}/{key}")
    proxy.flush()
    written = {s.path.rsplit("/", 1)[-1] for s in spy.seen if s.method == "PUT"}
    assert written == {"earth_20x20.jpg", "earth_30x30.webp"}
    assert all(s.headers.get("If-None-Match") == "*" for s in spy.seen if s.method == "PUT")


def test_original_named_like_a_thumbnail_is_served_never_rendered(proxy, s3, bucket, spy, http):
    put(s3, bucket, "banner.jpg", quadrants(800, 100))
    put(s3, bucket, "banner_728x90.jpg", b"the real banner", content_type="image/jpeg")
    response = http.get(f"{proxy.url}/banner_728x90.jpg")
    assert response.status_code == 200 and response.content == b"the real banner"
    proxy.flush()
    assert spy.count("GET", "/banner.jpg") == 0 and spy.count("PUT", "") == 0


def test_original_created_after_the_lookup_is_never_overwritten(proxy, s3, bucket, spy, http):
    put(s3, bucket, "banner.jpg", quadrants(800, 100))
    put(s3, bucket, "banner_728x90.jpg", b"the real banner", content_type="image/jpeg")
    # The lookup races the upload: S3 answers 404 just before the object appears.
    spy.fail("GET", "/banner_728x90.jpg", 404, times=1)
    raced = http.get(f"{proxy.url}/banner_728x90.jpg")
    assert raced.status_code == 200 and raced.headers["X-Cache"] == "rendered"
    proxy.flush()
    assert spy.count("PUT", "/banner_728x90.jpg", 412) == 1  # If-None-Match: * kept the original
    assert s3.get_object(Bucket=bucket, Key="banner_728x90.jpg")["Body"].read() == b"the real banner"
    # From then on the stored object is what is served, not our render.
    after = http.get(f"{proxy.url}/banner_728x90.jpg")
    assert after.content == b"the real banner" and after.headers["X-Cache"] == "s3"


def test_keys_beyond_ascii_are_written_back_and_traced_to_their_original(proxy, s3, bucket, http):
    put(s3, bucket, "photos/été 100%/earth.jpg", quadrants(200, 200))
    response = http.get(f"{proxy.url}/photos/été 100%25/earth_40x40.jpg")
    assert response.status_code == 200
    proxy.flush()
    stored = s3.head_object(Bucket=bucket, Key="photos/été 100%/earth_40x40.jpg")
    assert stored["Metadata"]["source-key"] == "photos/%C3%A9t%C3%A9%20100%25/earth.jpg"  # headers are ASCII
    made = generated(s3, bucket, "photos/été 100%/earth_40x40.jpg")
    assert made is not None and made.source_key == "photos/été 100%/earth.jpg"  # what prune and purge see
    assert metadata_key("plain/key_(1)@2x.jpg") == "plain/key_(1)@2x.jpg"


# ---- response headers -----------------------------------------------------------------------------------


def test_nosniff_on_every_response(start_proxy, s3, bucket, spy, http):
    proxy = start_proxy(allowed_sizes=((10, 10),), render_threads=1, render_queue=0)
    put(s3, bucket, "earth.jpg", quadrants(100, 100))
    spy.fail("GET", "/broken.jpg", 500)
    gate = threading.Event()
    busy = asyncio.run_coroutine_threadsafe(proxy.service.renders.run(gate.wait, 30), proxy.loop)
    try:
        assert proxy.run(_admitted(proxy.service.renders)) == 1
        full = http.get(f"{proxy.url}/earth_10x10.webp")
    finally:
        gate.set()
    busy.result(10)
    responses = {
        "object": http.get(f"{proxy.url}/earth.jpg"),
        "rendered": http.get(f"{proxy.url}/earth_10x10.jpg"),
        "memory": http.get(f"{proxy.url}/earth_10x10.jpg"),
        "head": http.head(f"{proxy.url}/earth.jpg"),
        "400": http.get(f"{proxy.url}/earth_0x0.jpg"),
        "403": http.get(f"{proxy.url}/earth_20x20.jpg"),
        "404": http.get(f"{proxy.url}/missing.jpg"),
        "405": http.post(f"{proxy.url}/earth.jpg", data=b"x"),
        "502": http.get(f"{proxy.url}/broken.jpg"),
        "503": full,
        "healthz": http.get(f"{proxy.url}/healthz"),
        "readyz": http.get(f"{proxy.url}/readyz"),
        "metrics": http.get(f"{proxy.url}/metrics"),
        "resize.php 400": http.get(f"{proxy.url}/resize.php"),
    }
    status, headers, _ = raw(proxy.url, "/%ff.jpg")  # refused by Tornado itself (undecodable path)
    assert status == 400 and headers["X-Content-Type-Options"] == "nosniff"
    for name, response in responses.items():
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name
    assert [responses[s].status_code for s in ("400", "403", "404", "405", "502", "503")] == [
        400,
        403,
        404,
        405,
        502,
        503,
    ]


SVG_WITH_SCRIPT = b"""<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">
<script>alert(document.cookie)</script><rect width="10" height="10"/></svg>"""


@pytest.mark.parametrize("streamed", [False, True])
def test_active_content_is_served_sandboxed(streamed, start_proxy, s3, bucket, http):
    proxy = start_proxy(stream_threshold_mb=0.0001 if streamed else 8.0)  # 104 bytes
    padding = b" " * 200  # every body over the stream threshold
    objects = {
        "logo.svg": "image/svg+xml",
        "page.html": "text/html; charset=utf-8",
        "page.xhtml": "application/xhtml+xml",
        "data.xml": "application/xml",
        "data2.xml": "text/xml",
        "feed.rss": "application/rss+xml",
        "app.js": "text/javascript",
        "doc.pdf": "application/pdf",
        "odd.bin": "application/x-unknown-thing",
        "photo.jpg": "image/jpeg",
        "notes.txt": "text/plain",
        "blob": "binary/octet-stream",
    }
    for key, content_type in objects.items():
        put(s3, bucket, key, SVG_WITH_SCRIPT + padding, content_type=content_type)
    for key, content_type in objects.items():
        for response in (http.get(f"{proxy.url}/{key}"), http.head(f"{proxy.url}/{key}")):
            assert response.status_code == 200, key
            assert response.headers["Content-Type"] == content_type, key
            csp = response.headers.get("Content-Security-Policy")
            passive = key in ("photo.jpg", "notes.txt", "blob")
            assert csp == (None if passive else ACTIVE_CONTENT_CSP), key
            assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_svg_is_never_rasterised(proxy, s3, bucket, spy, http):
    put(s3, bucket, "logo.svg", SVG_WITH_SCRIPT, content_type="image/svg+xml")
    put(s3, bucket, "evil.png", SVG_WITH_SCRIPT, content_type="image/png")  # SVG under a raster name
    missing = http.get(f"{proxy.url}/logo_100x100.png")
    assert missing.status_code == 404
    assert spy.count("GET", "/logo.svg") == 0  # .svg is never a candidate original
    assert http.get(f"{proxy.url}/logo_100x100.svg").status_code == 400  # nor an output format
    refused = http.get(f"{proxy.url}/evil_50x50.png")
    assert refused.status_code == 422
    proxy.flush()
    assert spy.count("PUT", "") == 0
    assert stored_keys(s3, bucket) == {"logo.svg", "evil.png"}
