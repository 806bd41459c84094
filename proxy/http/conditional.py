"""Conditional requests (RFC 9110 13): does the client's copy still match, so that a 304 is the answer?"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def not_modified(headers: Mapping[str, str], etag: str, last_modified: datetime) -> bool:
    """True when If-None-Match (weak comparison) or, without it, If-Modified-Since says the copy is current."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return bool(etag)
        return bool(etag) and _opaque(etag) in {_opaque(tag) for tag in if_none_match.split(",")}
    if_modified_since = headers.get("If-Modified-Since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (ValueError, TypeError, IndexError):
        return False  # an invalid date is ignored (RFC 9110 13.1.3)
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return int(last_modified.timestamp()) <= since.timestamp()


def _opaque(tag: str) -> str:
    """The ETag without a weak prefix: If-None-Match compares weakly."""
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag
