"""warm against moto's server: stores what the proxy would, skips what exists, resumes after Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys

from botocore.exceptions import ClientError

from proxy.cli import main
from proxy.config import load
from proxy.errors import BadRequest
from proxy.keys import OUTPUT_FORMATS, parse_thumbnail
from proxy.tools.warm import plan, warm
from tests.harness import ROOT, stored_keys, with_sigint
from tests.images import opened, quadrants, solid


def stored(s3, bucket, key):
    head = s3.head_object(Bucket=bucket, Key=key)
    tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    return {
        "ContentType": head["ContentType"],
        "CacheControl": head.get("CacheControl"),
        "StorageClass": head.get("StorageClass", "STANDARD"),
        "Metadata": head["Metadata"],
        "Tags": tags,
    }


def test_warm_stores_exactly_what_the_proxy_stores(proxy, s3, bucket, http, moto_url, capsys):
    s3.put_object(Bucket=bucket, Key="earth.jpg", Body=quadrants(160, 120), ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key="moon.jpg", Body=quadrants(160, 120), ContentType="image/jpeg")
    assert http.get(f"{proxy.url}/earth_40x40.jpg").status_code == 200
    proxy.flush()
    assert main(["warm", "--sizes=40x40,60x0", f"--bucket={bucket}", f"--s3-endpoint={moto_url}"]) == 0
    out = capsys.readouterr().out
    assert "2 originals: 2 warmed" in out and "3 stored, 0 already there" in out
    made_by_proxy = stored(s3, bucket, "earth_40x40.jpg")
    made_by_warm = stored(s3, bucket, "moon_40x40.jpg")
    assert made_by_proxy["Metadata"].pop("source-key") == "earth.jpg"
    assert made_by_warm["Metadata"].pop("source-key") == "moon.jpg"
    assert made_by_warm == made_by_proxy  # type, cache-control, storage class, generator, source-etag, tag
    body = s3.get_object(Bucket=bucket, Key="moon_60x0.jpg")["Body"].read()
    assert opened(body).size == (60, 45)
    # the proxy serves the warmed thumbnail from S3 instead of making it
    response = http.get(f"{proxy.url}/moon_60x0.jpg")
    assert response.headers["X-Cache"] == "s3" and response.content == body


def test_warm_prefix_skips_existing_and_thumbnails(s3, bucket, moto_url, capsys):
    for i in range(12):
        s3.put_object(Bucket=bucket, Key=f"gallery/p{i:02}.jpg", Body=solid(32, 24), ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key="gallery/IMG_1024x768.jpg", Body=solid(40, 30), ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key="gallery/notes.txt", Body=b"not an image", ContentType="text/plain")
    s3.put_object(Bucket=bucket, Key="other/x.jpg", Body=solid(32, 24), ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key="gallery/p00_16x16.jpg", Body=b"existing", ContentType="image/jpeg")
    args = ["warm", "--sizes=16x16,8x0", "--prefix=gallery/", f"--bucket={bucket}", f"--s3-endpoint={moto_url}"]

    assert main([*args, "--dry-run"]) == 0
    assert "13 originals, 13 lacking some of 16x16, 8x0: would make 25" in capsys.readouterr().out
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "warm: 13/13 100%" in captured.err  # the progress line (stderr is not a terminal here)
    assert "13 originals: 13 warmed, 0 already complete, 0 failed; thumbnails: 25 stored" in captured.out
    assert "gallery/IMG_1024x768_16x16.jpg" in stored_keys(s3, bucket, "gallery/")  # a camera name is an original
    assert s3.get_object(Bucket=bucket, Key="gallery/p00_16x16.jpg")["Body"].read() == b"existing"
    assert stored_keys(s3, bucket, "other/") == {"other/x.jpg"}

    assert main(args) == 0
    assert "0 warmed, 13 already complete" in capsys.readouterr().out


def test_warm_reports_bad_originals_and_refuses_bad_sizes(s3, bucket, moto_url, capsys):
    s3.put_object(Bucket=bucket, Key="good.jpg", Body=solid(32, 24), ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key="broken.jpg", Body=b"\xff\xd8 truncated", ContentType="image/jpeg")
    base = [f"--bucket={bucket}", f"--s3-endpoint={moto_url}"]
    assert main(["warm", "--sizes=16x16", *base]) == 1
    out = capsys.readouterr().out
    assert "failed: broken.jpg:" in out and "1 warmed" in out and "1 failed" in out
    assert "broken_16x16.jpg" not in stored_keys(s3, bucket)
    assert main(["warm", "--sizes=5000x10", *base]) == 2
    assert "--max-dimension" in capsys.readouterr().err
    assert main(["warm", "--sizes=16x16", "--allowed-sizes=32x32", *base]) == 2
    assert main(["warm", "--sizes=16y16", *base]) == 2


def test_warm_sizes_from_logs(s3, bucket, moto_url, tmp_path, capsys):
    from tests.logfixtures import proxy_line, s3_line

    (tmp_path / "access.log").write_text(
        "\n".join(
            [s3_line("a_100x100.jpg")] * 3
            + [proxy_line("b_50x0.png", "rendered")] * 2
            + [proxy_line("c_20x20.jpg", "memory")]
            + [proxy_line("d_30x30.jpg", "error", 400)] * 9  # refused sizes do not count
        )
        + "\n"
    )
    s3.put_object(Bucket=bucket, Key="new.jpg", Body=solid(64, 48), ContentType="image/jpeg")
    args = ["warm", f"--from-logs={tmp_path}", "--top=2", f"--bucket={bucket}", f"--s3-endpoint={moto_url}"]
    assert main(args) == 0
    assert "sizes: 100x100, 50x0" in capsys.readouterr().err
    assert stored_keys(s3, bucket) == {"new.jpg", "new_100x100.jpg", "new_50x0.jpg"}


def test_interrupted_warm_resumes_to_completion(s3, bucket, spy):
    count = 12
    body = solid(24, 16)
    for i in range(count):
        s3.put_object(Bucket=bucket, Key=f"o/{i:03}.jpg", Body=body, ContentType="image/jpeg")
    command = [sys.executable, "-m", "proxy", "warm", "--sizes=8x8,12x0,4x4", "--concurrency=2", f"--bucket={bucket}"]
    release = spy.stall("GET", "/o/008.jpg")  # one worker hangs on this original; the other finishes the rest
    # ... until the test releases it: a read timeout beyond the test's own waits (the default, 2 x 10 s, would
    # fail the GET, and make the run end with exit 1, if the rest took longer than that on a busy machine).
    hang = "--s3-read-timeout=120"
    # Ctrl-C at a terminal: warm starts with SIGINT at its default. Its parent here ignores SIGINT, as a pytest
    # started in the background by a script does: with that pytest's SIGINT warm would drop the signal.
    first = subprocess.Popen(
        with_sigint(signal.SIG_IGN, with_sigint(signal.SIG_DFL, [*command, f"--s3-endpoint={spy.url}", hang])),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert spy.wait_for(lambda: spy.count("PUT", ".jpg", 200) >= 3 * (count - 1), timeout=30)
        first.send_signal(signal.SIGINT)  # Ctrl-C
        assert first.stdout is not None
        summary = next(line for line in first.stdout if line.startswith("warm:"))
    finally:
        release.set()
    assert first.wait(30) == 130
    assert "interrupted: run again to resume" in summary
    assert len(stored_keys(s3, bucket)) == count + 3 * (count - 1)

    second = subprocess.run(
        [*command, f"--s3-endpoint={spy.url}"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert "12 originals: 1 warmed, 11 already complete, 0 failed; thumbnails: 3 stored" in second.stdout
    assert len(stored_keys(s3, bucket)) == 4 * count


def test_a_child_to_interrupt_gets_sigint_at_its_default_whatever_its_parent_had():
    """Python leaves SIGINT ignored when it starts with SIGINT ignored, as every child of a pytest started in the
    background by a script does (``python -m pytest > log &``): warm then drops the test's Ctrl-C and runs on
    until its stalled GET fails, exit 1 instead of 130. ``with_sigint(SIG_DFL, ...)`` gives it a terminal's."""
    probe = [sys.executable, "-c", "import signal as s; print(s.getsignal(s.SIGINT) is s.default_int_handler)"]

    def default_int_handler(command):
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    assert default_int_handler(with_sigint(signal.SIG_IGN, probe)) == "False"
    assert default_int_handler(with_sigint(signal.SIG_IGN, with_sigint(signal.SIG_DFL, probe))) == "True"


def reference_plan(keys, prefix, labels, extensions):
    """The plan by its definition, over the whole listing held in a set: what the streaming plan must give."""
    for key in sorted(keys):
        stem, dot, ext = key.rpartition(".")
        if not key.startswith(prefix) or not dot or "/" in ext:
            continue
        if ext.lower() not in extensions:
            continue
        try:
            spec = parse_thumbnail(key)
        except BadRequest:
            spec = None
        if spec is not None and any(source in keys for source in spec.source_keys(extensions) if source != key):
            continue
        own = ext if ext.lower() in OUTPUT_FORMATS else "jpg"  # heic: a source, never an output; its thumbnails JPEG
        yield key, [thumb for thumb in (f"{stem}_{label}.{own}" for label in labels) if thumb not in keys]


def test_streaming_plan_matches_the_definition_on_tricky_listings():
    """Stems that are prefixes of others, folders named like originals, thumbnails of thumbnails, camera names
    shaped like thumbnails, other extensions: 300 random listings against the set-based definition."""
    rnd = random.Random(7)
    parts = ["a", "a.b", "ab", "a/", "a-", "IMG", "p/q", "x.y/", "a_1x1", "A", "0"]
    suffixes = [
        ".jpg",
        ".JPG",
        ".png",
        ".txt",
        "_10x10.jpg",
        "_10x10.png",
        "_20x0.jpg",
        "_10x10_fit.jpg",
        "_1x1.jpg",
        ".jpg/x",
        "_10x10.webp",
        ".heic",
        "",
    ]
    labels, extensions = ["10x10", "20x0"], ("jpg", "png", "webp", "heic")
    for _ in range(300):
        listing = {rnd.choice(parts) + rnd.choice([*parts[:4], ""]) + rnd.choice(suffixes) for _ in range(25)}
        for prefix in ("", "a"):
            streamed = sorted(plan(iter(sorted(listing)), prefix, labels, extensions))
            assert streamed == sorted(reference_plan(listing, prefix, labels, extensions)), sorted(listing)


def test_heic_originals_are_warmed_as_jpeg_and_own_their_thumbnails():
    """No HEIC thumbnail can be made, so a HEIC original's are JPEGs; a thumbnail-shaped key whose original is a
    HEIC is still a thumbnail."""
    listing = ["a.heic", "a_10x10.jpg", "b.jpg", "c_10x10.jpg", "d.heic"]
    assert list(plan(iter(listing), "", ["10x10"], ("jpg", "heic"))) == [
        ("a.heic", []),
        ("b.jpg", ["b_10x10.jpg"]),
        ("c_10x10.jpg", ["c_10x10_10x10.jpg"]),
        ("d.heic", ["d_10x10.jpg"]),
    ]


def test_a_listing_that_fails_midway_keeps_what_was_done(s3, bucket, moto_url):
    """The listing is read as the work goes: an S3 error in it ends the run with a summary, not a traceback."""
    for name in ("a", "b"):
        s3.put_object(Bucket=bucket, Key=f"{name}.jpg", Body=solid(24, 16), ContentType="image/jpeg")

    def work():
        yield "a.jpg", ["a_8x8.jpg"]
        yield "b.jpg", ["b_8x8.jpg"]
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "ListObjectsV2")

    config = load({"bucket": bucket, "s3-endpoint": moto_url})
    summary = asyncio.run(warm(config, work(), 3, 1, None))
    assert summary.warmed == 2 and summary.results["stored"] == 2
    assert len(summary.failures) == 1 and "listing the bucket failed" in summary.failures[0]
    assert {"a_8x8.jpg", "b_8x8.jpg"} <= stored_keys(s3, bucket)


PLAN_MEMORY = """
import sys, tracemalloc
from proxy.tools.warm import plan

def listing(count):
    for i in range(count):
        yield f"photos/{i:07}.jpg"
        if i % 2:
            yield f"photos/{i:07}_10x10.jpg"

list(plan(listing(10), "", ["10x10", "20x0"], ("jpg",)))  # imports and caches warmed up outside the measure
tracemalloc.start()
made = sum(len(missing) for _, missing in plan(listing(30_000), "", ["10x10", "20x0"], ("jpg",)))
print(made, tracemalloc.get_traced_memory()[1])
"""


def test_plan_memory_does_not_grow_with_the_listing():
    """45,000 keys streamed through the plan: the peak of memory it allocates stays that of a few keys.

    Measured in a process of its own: tracemalloc counts every thread's allocations, and threads other tests
    leave behind (a render outliving its request's deadline) would be counted too."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-c", PLAN_MEMORY], capture_output=True, text=True, timeout=120, cwd=root)
    assert result.returncode == 0, result.stderr
    made, peak = map(int, result.stdout.split())
    assert made == 45_000  # every original lacks 20x0, half of them 10x10 too
    assert peak < 256 * 1024, peak  # the whole listing would be about 3 MB
