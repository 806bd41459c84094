"""HTTP byte ranges: the one ``bytes=`` range we serve (S3 serves no multi-range either): parsed, checked
against ``If-Range`` and cut here, and nowhere else.

Anything else (several ranges, other units, garbage) is ignored, as RFC 9110 allows: the whole object is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from proxy.errors import RangeNotSatisfiable

_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class ByteRange:
    """``start``-``end`` inclusive; ``start`` None is a suffix range (the last ``end`` bytes)."""

    start: int | None
    end: int | None

    @property
    def header(self) -> str:
        """The canonical ``Range`` value, as passed to S3."""
        return f"bytes={'' if self.start is None else self.start}-{'' if self.end is None else self.end}"

    def resolve(self, size: int) -> tuple[int, int]:
        """The inclusive ``(first, last)`` byte positions in an object of ``size`` bytes; 416 if none."""
        if self.start is None:
            if not self.end or size == 0:
                raise RangeNotSatisfiable("range not satisfiable", size)
            return max(0, size - self.end), size - 1
        if self.start >= size:
            raise RangeNotSatisfiable("range not satisfiable", size)
        last = size - 1 if self.end is None else min(self.end, size - 1)
        return self.start, last


def parse_range(header: str | None) -> ByteRange | None:
    """One ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range; None for anything we ignore."""
    if not header:
        return None
    match = _RANGE_RE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    start = int(first) if first else None
    end = int(last) if last else None
    if start is not None and end is not None and end < start:
        return None  # invalid: ignored, not 416 (RFC 9110 14.1.1)
    return ByteRange(start, end)


def if_range_holds(if_range: str | None, etag: str, last_modified: datetime) -> bool:
    """Whether a ``Range`` still applies under ``If-Range`` (an ETag, compared strongly, or an HTTP date)."""
    if if_range is None:
        return True
    if if_range.startswith('"'):
        return if_range == etag  # strong comparison (RFC 9110 13.1.5)
    return if_range == format_datetime(last_modified.astimezone(UTC), usegmt=True)


def cut(body: bytes, byte_range: ByteRange) -> tuple[bytes, str]:
    """The part of a whole body that ``byte_range`` asks for, and its ``Content-Range``; 416 if none."""
    first, last = byte_range.resolve(len(body))
    return body[first : last + 1], f"bytes {first}-{last}/{len(body)}"
