"""Conditional requests (proxy/http/conditional.py): when the client's copy is current and a 304 is the answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from proxy.http.conditional import not_modified

ETAG = '"5d41402abc4b2a76b9719d911017c592"'
MODIFIED = datetime(2026, 3, 1, 12, 0, 0, 750_000, tzinfo=UTC)  # S3 keeps sub-seconds; HTTP dates do not


def http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def test_no_condition_means_send_the_object():
    assert not not_modified({}, ETAG, MODIFIED)


@pytest.mark.parametrize(
    ("if_none_match", "expected"),
    [
        (ETAG, True),
        (f" {ETAG} ", True),
        (f'"other", {ETAG}', True),
        (f'"other",{ETAG},"third"', True),
        (f"W/{ETAG}", True),  # weak comparison: the W/ prefix does not count
        ("*", True),
        (" * ", True),
        ('"other"', False),
        ('"other", W/"more"', False),
        (ETAG.strip('"'), False),  # an unquoted tag is another tag
        ("", False),
    ],
)
def test_if_none_match_compares_weakly_against_every_listed_tag(if_none_match, expected):
    assert not_modified({"If-None-Match": if_none_match}, ETAG, MODIFIED) is expected


def test_if_none_match_against_a_weak_etag():
    assert not_modified({"If-None-Match": ETAG}, f"W/{ETAG}", MODIFIED)


def test_nothing_matches_an_object_without_an_etag():
    for value in ("*", '""', '"x"'):
        assert not not_modified({"If-None-Match": value}, "", MODIFIED), value


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (http_date(MODIFIED), True),  # the same second: the sub-second part is not compared
        (http_date(MODIFIED + timedelta(days=1)), True),
        (http_date(MODIFIED - timedelta(seconds=1)), False),
        ("Sun, 01 Mar 2026 12:00:00 -0000", True),  # no zone: taken as UTC
        ("Sun Mar  1 12:00:00 2026", True),  # asctime, no zone either
        ("Sun, 01 Mar 2026 13:00:00 +0100", True),  # another zone, the same instant
        ("Sun, 01 Mar 2026 12:59:59 +0100", False),
        ("garbage", False),  # an invalid date is ignored (RFC 9110 13.1.3)
        ("", False),
    ],
)
def test_if_modified_since(since, expected):
    assert not_modified({"If-Modified-Since": since}, ETAG, MODIFIED) is expected


def test_if_none_match_wins_over_if_modified_since():
    current = http_date(MODIFIED)
    assert not not_modified({"If-None-Match": '"other"', "If-Modified-Since": current}, ETAG, MODIFIED)
    old = http_date(MODIFIED - timedelta(days=1))
    assert not_modified({"If-None-Match": ETAG, "If-Modified-Since": old}, ETAG, MODIFIED)
