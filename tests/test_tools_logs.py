"""Log reading: S3 server access log lines, proxy lines, gzip, directories, outcomes."""

from __future__ import annotations

import gzip

import pytest

from proxy.tools import logs, s3log
from tests.logfixtures import T0, proxy_line, s3_line


def test_s3_line_all_fields():
    entry = s3log.parse(s3_line("photos/my photo_200x200.jpg"))
    assert entry is not None
    assert entry.time == T0 and entry.operation == "REST.GET.OBJECT" and entry.status == 200
    assert entry.key == "photos/my photo_200x200.jpg"
    assert entry.bytes_sent == 3811
    assert entry.fields["user_agent"] == 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "quoted" Chrome/120.0'
    assert entry.fields["referer"] == "https://www.example.com/gallery.html"
    assert entry.fields["tls_version"] == "TLSv1.2" and entry.fields["acl_required"] == "Yes"
    assert entry.fields["access_point_arn"] == ""


def test_s3_line_without_later_fields_and_aws_doc_example():
    short = s3log.parse(s3_line("earth.jpg", status=404, full=False))
    assert short is not None and short.status == 404 and "host_id" not in short.fields
    documented = (
        "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be awsexamplebucket1 "
        "[06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be "
        '3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /awsexamplebucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" '
        '"S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 '
        "ECDHE-RSA-AES128-GCM-SHA256 AuthHeader awsexamplebucket1.s3.us-west-1.amazonaws.com TLSV1.2 "
        "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes"
    )
    entry = s3log.parse(documented)
    assert entry is not None and entry.operation == "REST.GET.VERSIONING" and entry.key == ""
    assert entry.fields["access_point_arn"].endswith("accesspoint/example-AP")


@pytest.mark.parametrize(
    ("line", "usual"),
    [
        (s3_line("photos/my photo_200x200.jpg"), True),
        (s3_line("earth.jpg", status=404, full=False), True),
        (s3_line("a.jpg").replace(" ", "\t", 3), False),  # any whitespace between fields
        (s3_line("a.jpg").replace(" - ", '  "quoted requester" ', 1), False),
        (s3_line("a.jpg").replace('"GET /a.jpg', '"GET /a\\" .jpg', 1), True),  # escaped quote in the URI
        (s3_line("a.jpg").replace('"GET /a.jpg HTTP/1.1"', "-", 1), True),
        (s3_line("a.jpg").replace('"GET /a.jpg HTTP/1.1"', '"GET', 1), False),  # unterminated quote
        (s3_line("a.jpg").replace("]", "] ]", 1), False),
        (s3_line("a.jpg").split(' "https')[0], True),  # ends after bytes_sent
        (" ".join(s3_line("a.jpg").split(" ")[:10]), False),  # ends at status
        ('a b [1/x/2 +0000] c d e REST.GET.OBJECT k "GET / HTTP/1.1" 200 - 1', True),  # a bad time
    ],
)
def test_usual_lines_parse_as_the_general_path_does(line, usual):
    assert (s3log._USUAL.match(line) is not None) is usual
    assert s3log.parse(line) == s3log.parse_tokens(line)
    assert s3log.parse(line + "\n") == s3log.parse_tokens(line + "\n")


@pytest.mark.parametrize(
    "line",
    ["", "hello world", proxy_line("earth.jpg"), 'a b [not a date] c d e REST.GET.OBJECT k "GET / HTTP/1.1" 200'],
)
def test_not_s3_lines(line):
    assert s3log.parse(line) is None


def test_requests_walk_directories_gzip_and_both_formats(tmp_path):
    (tmp_path / "s3" / "2026").mkdir(parents=True)
    (tmp_path / "s3" / "2026" / "a.log").write_text(
        "\n".join(
            [s3_line("earth_200x200.jpg"), s3_line("earth_300x300.jpg", 404), s3_line("x", operation="REST.PUT.OBJECT")]
        )
        + "\n"
    )
    with gzip.open(tmp_path / "proxy.log.1", "wt") as out:  # gzip recognised by content, not by name
        out.write(
            proxy_line("earth_200x200.jpg", "rendered") + "\n" + proxy_line("a_1x1.jpg", "error", 503, json=True) + "\n"
        )
    (tmp_path / "notes.txt").write_text("not a log line\n\n")
    stats = logs.ReadStats()
    found = list(logs.requests([str(tmp_path)], stats))
    assert [(r.key, r.outcome, r.source) for r in found] == [
        ("earth_200x200.jpg", "miss", "proxy"),
        ("a_1x1.jpg", "error", "proxy"),
        ("earth_200x200.jpg", "hit", "s3"),
        ("earth_300x300.jpg", "miss", "s3"),
    ]
    assert (stats.files, stats.lines, stats.proxy_lines, stats.s3_lines, stats.skipped) == (3, 7, 2, 3, 1)


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(logs.requests([str(tmp_path / "nope")]))


def test_an_endless_line_is_read_in_bounded_pieces(tmp_path):
    path = tmp_path / "corrupt.log"
    path.write_text("x" * (logs.MAX_LINE * 3) + "\n" + s3_line("earth_200x200.jpg") + "\n")
    assert max(len(line) for line in logs.read_lines(path)) <= logs.MAX_LINE
    stats = logs.ReadStats()
    assert [r.key for r in logs.requests([str(path)], stats)] == ["earth_200x200.jpg"]
    assert stats.s3_lines == 1 and stats.skipped >= 3


@pytest.mark.parametrize(("status", "sent"), [("²00", "3811"), ("200", "3¹"), ("٢٠٠", "-")])
def test_digits_that_int_refuses_or_reads_differently_do_not_crash(status, sent):
    """'²'.isdigit() is True but int('²') raises: a hostile line must not stop the report."""
    line = s3_line("a_10x10.jpg").replace(" 200 - 3811 ", f" {status} - {sent} ", 1)
    assert f" {status} - {sent} " in line
    entry = s3log.parse(line)
    assert entry is not None
    assert entry.status in (None, 200) and isinstance(entry.bytes_sent, int)
