"""analyze-logs over realistic S3 and proxy log lines: rankings, hit ratio, last access, bounded memory."""

from __future__ import annotations

import gzip
import json

import pytest

from proxy.cli import main
from proxy.errors import BadRequest
from proxy.keys import parse_thumbnail
from proxy.tools import logs
from proxy.tools.analyze_logs import Report
from proxy.tools.counters import TopCounter
from proxy.tools.logs import thumbnail
from tests.logfixtures import T0, days, proxy_line, s3_line


def write_logs(tmp_path):
    s3_dir = tmp_path / "s3-logs"
    s3_dir.mkdir()
    s3_lines = (
        [s3_line("earth_200x200.jpg", at=T0 + days(10)) for _ in range(5)]
        + [s3_line("earth_200x200.jpg", 404, at=T0, operation="WEBSITE.GET.OBJECT")]  # the miss before it existed
        + [s3_line("moon_200x200.jpg", at=T0 + days(9)) for _ in range(2)]
        + [s3_line("moon_400x0.webp", at=T0 + days(1), full=False)]
        + [s3_line("earth.jpg", at=T0 + days(10))]
        + [s3_line("earth_200x200.jpg", operation="REST.PUT.OBJECT")]  # the proxy's write-back: not a request
    )
    with gzip.open(s3_dir / "2026-11-11-00-00-00-0A1B2C3D4E5F6A7B.gz", "wt") as out:
        out.write("\n".join(s3_lines) + "\n")
    (tmp_path / "proxy.log").write_text(
        "\n".join(
            [
                proxy_line("sun_100x100@2x.png", "rendered", at=T0 + days(10)),
                proxy_line("sun_100x100@2x.png", "memory", at=T0 + days(10), json=True),
                proxy_line("earth_300x200_fit.jpg", "s3", at=T0 + days(3)),
                proxy_line("earth_9999x9999.jpg", "error", 400, at=T0 + days(10)),
                "2026-11-11 some application log line that is not an access log",
            ]
        )
        + "\n"
    )
    return tmp_path


def test_json_report(tmp_path, capsys):
    root = write_logs(tmp_path)
    assert main(["analyze-logs", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["read"] == {"files": 2, "lines": 16, "proxy_lines": 4, "s3_lines": 11, "skipped": 1}
    assert report["thumbnail_requests"] == {"hits": 10, "misses": 2, "errors": 1, "hit_ratio": round(10 / 12, 4)}
    assert report["original_requests"] == {"hit": 1}
    assert report["sizes"][0] == {"size": "200x200", "requests": 8}
    assert {row["size"] for row in report["sizes"]} == {"200x200", "100x100@2x", "300x200_fit", "400x0"}
    assert report["sizes_by_extension"]["webp"] == [{"size": "400x0", "requests": 1}]
    assert report["sizes_by_extension"]["png"] == [{"size": "100x100@2x", "requests": 2}]
    assert report["originals"][0] == {"stem": "earth", "thumbnail_requests": 7}
    access = report["thumbnails_by_last_access"]
    assert access["distinct"] == 5
    ages = {row["last_access"]: row["thumbnails"] for row in access["ages"]}
    assert ages == {
        "within 1 day": 3,
        "within 7 days": 1,
        "within 30 days": 1,
        "within 90 days": 0,
        "within 1 year": 0,
        "older than 1 year": 0,
    }
    assert access["least_recent"][0]["key"] == "moon_400x0.webp"
    assert report["period"]["reference"] == "2026-11-11T12:00:00Z"
    assert report["approximate"] is False


def test_text_report(tmp_path, capsys):
    root = write_logs(tmp_path)
    assert main(["analyze-logs", str(root / "proxy.log"), str(root / "s3-logs"), "--now=2027-01-01"]) == 0
    out = capsys.readouterr().out
    assert "hit ratio 83.3%" in out
    assert "Most requested sizes:" in out and "  .webp:" in out
    assert "Originals with the most thumbnail traffic" in out
    assert "older than 1 year" in out


def test_missing_path_fails_cleanly(tmp_path, capsys):
    assert main(["analyze-logs", str(tmp_path / "nope")]) == 2
    assert "no such log file" in capsys.readouterr().err


def test_top_counter_stays_bounded():
    counter = TopCounter(capacity=10)
    for i in range(10_000):
        counter.add("hot", T0)
        counter.add(f"cold-{i}", T0)
    assert len(counter.entries) <= 20
    assert counter.top(1) == [("hot", 10_000)]
    assert counter.dropped > 0


def test_every_table_stays_bounded_with_many_distinct_keys_and_sizes():
    report = Report(capacity=10)
    largest = 0
    for i in range(3_000):
        # a new original, a new size and a new thumbnail on every request, in three formats
        key = f"photos/p{i}_{i + 1}x{i % 7}.{('jpg', 'png', 'webp')[i % 3]}"
        report.add(logs.Request(T0 + days(i / 1000), key, 200, logs.HIT, "s3"))
        tables = [report.sizes.counts, report.thumbnails.entries, report.originals.entries]
        tables += [counter.counts for counter in report.sizes_by_ext.values()]
        largest = max(largest, *map(len, tables))
    assert largest == 20  # each filled up to 2 x capacity and was cut back, never beyond
    assert len(report.sizes_by_ext) == 3
    assert report.approximate
    assert report.outcomes[logs.HIT] == 3_000  # the totals are not per-key tables: still exact


def test_report_says_counts_are_lower_bounds_when_keys_were_dropped(tmp_path, capsys):
    lines = [proxy_line("earth_200x200.jpg", "memory") for _ in range(50)]
    lines += [s3_line(f"photos/p{i}_{i + 300}x{i + 300}.jpg", at=T0 + days(i / 100)) for i in range(200)]
    (tmp_path / "access.log").write_text("\n".join(lines) + "\n")
    assert main(["analyze-logs", str(tmp_path), "--json", "--max-keys=5"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["approximate"] is True
    assert report["thumbnail_requests"]["hits"] == 250
    assert report["thumbnails_by_last_access"]["distinct"] <= 10
    assert report["sizes"][0] == {"size": "200x200", "requests": 50}
    assert report["originals"][0] == {"stem": "earth", "thumbnail_requests": 50}
    assert main(["analyze-logs", str(tmp_path), "--max-keys=5"]) == 0
    assert "per-key figures are lower bounds" in capsys.readouterr().out
    assert main(["analyze-logs", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["approximate"] is False


@pytest.mark.parametrize(
    "key",
    [
        "earth_200x200.jpg",
        "photos/my photo_300x200_fit@2x.WebP",
        "a_1x2_3x4.jpg",  # the stem is the longest possible: "a_1x2"
        "earth.jpg",
        "a/_200x200.jpg",
        "_200x200.jpg",
        "a_01x10.jpg",
        "a_0x0.png",
        "a_10x10@1x.jpg",
        "a_10x10@5x.jpg",
        "a_10x10_blur.jpg",
        "a_10x10.tiff",
        "line\nbreak_10x10.gif",
    ],
)
def test_thumbnail_agrees_with_parse_thumbnail(key):
    try:
        spec = parse_thumbnail(key)
    except BadRequest:
        spec = None
    expected = None if spec is None else (spec.stem, spec.label, spec.ext.lower())
    found = thumbnail(key)
    assert (None if found is None else tuple(found)) == expected
