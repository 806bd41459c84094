"""Log files in, requests out: walks directories, opens gzip, and reads S3 or proxy lines (auto-detected).

Everything streams line by line, so any number of lines is read in constant memory.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from proxy.errors import BadRequest
from proxy.keys import AUTO_FORMATS, NEGOTIABLE_EXTENSIONS, parse_thumbnail, split_thumbnail
from proxy.observe import accesslog
from proxy.tools import s3log

HIT, MISS, ERROR = "hit", "miss", "error"
MAX_LINE = 64 * 1024  # longer lines are read in pieces, which parse as nothing and are counted as skipped
_S3_READS = ("REST.GET.OBJECT", "REST.HEAD.OBJECT", "WEBSITE.GET.OBJECT", "WEBSITE.HEAD.OBJECT")


class Request(NamedTuple):
    """One client request for an object, from either log: its outcome is hit, miss (a thumbnail made) or error.

    A NamedTuple rather than a frozen dataclass: one is built per log line, and it is four times cheaper.
    """

    time: datetime
    key: str
    status: int
    outcome: str
    source: str  # "proxy" or "s3"
    sent_format: str = ""  # the proxy's log: the format --auto-format sent instead of the key's (avif, webp)


@dataclass
class ReadStats:
    """What was read: lines per kind, so a wrong path or format shows in the summary."""

    files: int = 0
    lines: int = 0
    proxy_lines: int = 0
    s3_lines: int = 0
    skipped: int = 0


def log_files(paths: Iterable[str]) -> Iterator[Path]:
    """Files named, and every file under directories named (sorted, hidden files skipped)."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for file in sorted(files):
                    if not file.startswith("."):
                        yield Path(root) / file
        elif path.exists():
            yield path
        else:
            raise FileNotFoundError(f"no such log file or directory: {name}")


def read_lines(path: Path) -> Iterator[str]:
    """Lines of a plain or gzip file (detected by its magic bytes, not its name)."""
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    with (
        gzip.open(path, "rb") if gzipped else path.open("rb") as binary,
        io.TextIOWrapper(binary, encoding="utf-8", errors="replace") as text,
    ):
        # Capped reads: a corrupt file with no newlines must not be read into memory whole.
        while line := text.readline(MAX_LINE):
            yield line


def requests(paths: Iterable[str], stats: ReadStats | None = None) -> Iterator[Request]:
    """Every object read (GET/HEAD) in the logs under ``paths``; other lines are counted and skipped."""
    stats = stats if stats is not None else ReadStats()
    for path in log_files(paths):
        stats.files += 1
        for line in read_lines(path):
            stats.lines += 1
            request = _from_line(line, stats)
            if request is not None:
                yield request


def _from_line(line: str, stats: ReadStats) -> Request | None:
    entry = accesslog.parse(line)
    if entry is not None:
        stats.proxy_lines += 1
        if entry.method not in ("GET", "HEAD"):
            return None
        outcome = _proxy_outcome(entry.cache, entry.status)
        return Request(entry.time, entry.key, entry.status, outcome, "proxy", entry.sent_format)
    s3_entry = s3log.parse(line)
    if s3_entry is not None:
        stats.s3_lines += 1
        if s3_entry.operation not in _S3_READS or not s3_entry.key or s3_entry.status is None:
            return None
        return Request(s3_entry.time, s3_entry.key, s3_entry.status, _s3_outcome(s3_entry.status), "s3")
    if line.strip():
        stats.skipped += 1
    return None


def _proxy_outcome(cache: str, status: int) -> str:
    if cache == "rendered":
        return MISS
    if cache in ("memory", "s3") and status < 400:
        return HIT
    return ERROR


def _s3_outcome(status: int) -> str:
    """S3 served it (hit); a 404 or, on the website endpoint, the 302 to the resizer is a miss."""
    if status < 300 or status == 304:
        return HIT
    if status in (301, 302, 307, 404):
        return MISS
    return ERROR


def reference_time(text: str) -> datetime:
    """A ``--now`` value: ISO 8601, UTC unless it names a zone."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--now: {text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Thumbnail(NamedTuple):
    """What the report counts of a thumbnail key."""

    stem: str  # the original's key without extension
    size: str  # as ``ThumbnailSpec.label`` writes it
    ext: str  # lower case


def thumbnail(key: str) -> Thumbnail | None:
    """The thumbnail a key names; None for an original or an invalid key (as ``parse_thumbnail`` decides)."""
    parts = split_thumbnail(key)
    if parts is None:
        return None
    stem, rest = parts
    size = _size(rest)
    return None if size is None else Thumbnail(stem, *size)


def variant(key: str) -> tuple[Thumbnail, str] | None:
    """For a negotiated variant's key (``earth_200x200.jpg.avif``): the thumbnail it answers for, and its format."""
    if not key.endswith(_VARIANT_SUFFIXES):
        return None
    base, _, fmt = key.rpartition(".")
    named = thumbnail(base)
    return (named, fmt) if named is not None and named.ext in NEGOTIABLE_EXTENSIONS else None


_VARIANT_SUFFIXES = tuple(f".{fmt}" for fmt in AUTO_FORMATS)


@lru_cache(maxsize=4096)
def _size(rest: str) -> tuple[str, str] | None:
    """Size label and lower-case extension of a thumbnail key's ``rest``, None if invalid: few distinct ones."""
    try:
        spec = parse_thumbnail("x" + rest)
    except BadRequest:
        return None
    return None if spec is None else (spec.label, spec.ext.lower())
