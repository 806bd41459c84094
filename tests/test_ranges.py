"""Byte ranges (proxy/service/ranges.py): parsing, resolving against a size, If-Range, cutting."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from proxy.errors import RangeNotSatisfiable
from proxy.service.ranges import ByteRange, cut, if_range_holds, parse_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", ByteRange(0, 9)),
        ("bytes=10-", ByteRange(10, None)),
        ("bytes=-5", ByteRange(None, 5)),
        (" bytes = 3 - 4 ", ByteRange(3, 4)),
    ],
)
def test_one_range_is_parsed(header, expected):
    assert parse_range(header) == expected
    assert parse_range(expected.header) == expected  # the canonical form passed to S3 reads back the same


@pytest.mark.parametrize("header", [None, "", "bytes=-", "bytes=5-2", "bytes=0-1,4-5", "items=0-1", "bytes=a-b"])
def test_anything_else_is_ignored(header):
    assert parse_range(header) is None


def test_resolving_clamps_to_the_object_and_refuses_past_its_end():
    assert ByteRange(0, 999).resolve(100) == (0, 99)
    assert ByteRange(None, 10).resolve(100) == (90, 99)
    assert ByteRange(None, 500).resolve(100) == (0, 99)
    for bad, size in ((ByteRange(100, None), 100), (ByteRange(None, 0), 100), (ByteRange(None, 3), 0)):
        with pytest.raises(RangeNotSatisfiable) as refused:
            bad.resolve(size)
        assert refused.value.status == 416


def test_cut_gives_the_part_and_its_content_range():
    assert cut(b"0123456789", ByteRange(2, 4)) == (b"234", "bytes 2-4/10")
    assert cut(b"0123456789", ByteRange(None, 2)) == (b"89", "bytes 8-9/10")


def test_if_range_compares_etags_strongly_and_dates_exactly():
    modified = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    date = format_datetime(modified, usegmt=True)
    assert if_range_holds(None, '"a"', modified)
    assert if_range_holds('"a"', '"a"', modified)
    assert not if_range_holds('W/"a"', '"a"', modified)
    assert not if_range_holds('"b"', '"a"', modified)
    assert if_range_holds(date, '"a"', modified)
    assert not if_range_holds(format_datetime(datetime(2026, 3, 4, 5, 6, 8, tzinfo=UTC), usegmt=True), '"a"', modified)
