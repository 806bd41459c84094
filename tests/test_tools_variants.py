"""The bucket tools and --auto-format's variants (``<thumbnail key>.avif``): purge, prune, analyze-logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from proxy import stored
from proxy.cli import main
from proxy.tools.warm import plan
from tests.images import quadrants, solid
from tests.logfixtures import days, proxy_line, s3_line

AVIF = {"Accept": "image/avif,image/webp,*/*"}


def keys(s3, bucket):
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


@pytest.fixture
def auto(start_proxy):
    return start_proxy(auto_format=("avif", "webp"))


def made(proxy, http, path, headers=None):
    response = http.get(f"{proxy.url}/{path}", headers=headers or {})
    assert response.status_code == 200, path
    proxy.flush()
    return response


def test_purge_deletes_the_variants_of_the_original_too(auto, s3, bucket, http, moto_url, capsys):
    s3.put_object(Bucket=bucket, Key="earth.jpg", Body=quadrants(320, 240), ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key="earth_50x50.jpg.avif", Body=solid(50, 50), ContentType="image/avif")  # ours?
    made(auto, http, "earth_60x60.jpg", AVIF)
    made(auto, http, "earth_70x70.png", {"Accept": "image/webp"})
    assert {"earth_60x60.jpg.avif", "earth_70x70.png.webp"} <= keys(s3, bucket)
    assert main(["purge", "earth.jpg", f"--bucket={bucket}", f"--s3-endpoint={moto_url}"]) == 0
    assert "deleted 4 thumbnail(s)" in capsys.readouterr().out
    # An object someone uploaded under a variant-shaped key is no variant of ours: it stays.
    assert keys(s3, bucket) == {"earth.jpg", "earth_50x50.jpg.avif"}


def test_prune_keeps_a_variant_whose_thumbnail_is_requested(auto, s3, bucket, http, moto_url, tmp_path, capsys):
    s3.put_object(Bucket=bucket, Key="earth.jpg", Body=quadrants(320, 240), ContentType="image/jpeg")
    for path in ("earth_50x50.jpg", "earth_60x60.jpg"):
        made(auto, http, path, AVIF)
    now = datetime.now(UTC) + days(40)
    # earth_50x50.jpg was asked for lately (by key: the log does not name the variant); earth_60x60.jpg was not.
    lines = [s3_line("earth.jpg", at=now - days(39)), proxy_line("earth_50x50.jpg", "memory", 200, at=now - days(3))]
    (tmp_path / "proxy.log").write_text("\n".join(lines) + "\n")
    args = ["prune", "--unused-days=30", f"--logs={tmp_path}", f"--now={now.isoformat()}", "--yes"]
    assert main([*args, f"--bucket={bucket}", f"--s3-endpoint={moto_url}"]) == 0
    assert "deleted 2" in capsys.readouterr().out
    assert keys(s3, bucket) == {"earth.jpg", "earth_50x50.jpg", "earth_50x50.jpg.avif"}


def test_analyze_logs_counts_the_formats_sent(tmp_path, capsys):
    log = tmp_path / "access.log"
    lines = [
        proxy_line("earth_50x50.jpg", "rendered", 200, sent_format="avif"),
        proxy_line("earth_50x50.jpg", "memory", 200, sent_format="avif"),
        proxy_line("earth_50x50.jpg", "memory", 200),
        proxy_line("earth_50x50.png", "memory", 200, sent_format="webp"),
        s3_line("earth_50x50.jpg.avif"),  # the S3 log names the variant's key: counted for its thumbnail
    ]
    log.write_text("\n".join(lines) + "\n")
    assert main(["analyze-logs", str(log), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["formats_sent"] == {"avif": 3, "jpg": 1, "webp": 1}
    assert result["thumbnail_requests"]["hits"] + result["thumbnail_requests"]["misses"] == 5
    assert result["original_requests"] == {}
    assert main(["analyze-logs", str(log)]) == 0
    assert "Formats sent: avif 3, jpg 1, webp 1" in capsys.readouterr().out


def test_warm_makes_the_variants_in_the_same_decode_and_resumes(s3, bucket, moto_url, capsys):
    s3.put_object(Bucket=bucket, Key="earth.jpg", Body=quadrants(320, 240), ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key="dot.png", Body=solid(4, 4, fmt="PNG"), ContentType="image/png")
    s3.put_object(Bucket=bucket, Key="anim.gif", Body=solid(40, 40, fmt="GIF"), ContentType="image/gif")
    args = ["warm", "--sizes=100x100,4x4", f"--bucket={bucket}", f"--s3-endpoint={moto_url}", "--auto-format=avif,webp"]
    assert main(args) == 0
    assert "3 warmed, 0 already complete, 0 failed" in capsys.readouterr().out
    made = keys(s3, bucket)
    for thumb in ("earth_100x100.jpg", "dot_4x4.png"):
        assert {thumb, f"{thumb}.avif", f"{thumb}.webp"} <= made
    assert "anim_100x100.gif.avif" not in made and "anim_100x100.gif" in made  # GIF keys are not negotiated
    types = {key: s3.head_object(Bucket=bucket, Key=key)["ContentType"] for key in made}
    assert types["earth_100x100.jpg.avif"] == "image/avif" and types["earth_100x100.jpg.webp"] == "image/webp"
    assert types["dot_4x4.png.avif"] == "image/png"  # not smaller: the variant key holds the PNG
    for key in ("earth_100x100.jpg.avif", "dot_4x4.png.webp"):
        assert stored.is_tagged(s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"])
    assert main(args) == 0  # everything there: nothing more to make, the variants are no originals
    assert "0 warmed, 3 already complete" in capsys.readouterr().out
    assert keys(s3, bucket) == made


def test_a_listed_variant_key_is_never_an_original():
    listing = ["a.jpg", "a_10x10.jpg", "a_10x10.jpg.avif", "a_10x10.jpg.webp", "b.png"]
    assert sorted(plan(iter(listing), "", ["10x10"], ("jpg", "png", "webp"), ("avif", "webp"))) == [
        ("a.jpg", []),
        ("b.png", ["b_10x10.png", "b_10x10.png.avif", "b_10x10.png.webp"]),
    ]
