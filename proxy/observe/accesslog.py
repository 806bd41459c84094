"""The proxy's access log line: one format, written by the server and read back by ``analyze-logs``.

Text (default), fields separated by one space, ``-`` for an empty field, the key percent-encoded so it never
contains a space:

    2026-11-27T05:01:02.123Z 203.0.113.7 GET earth_200x200.jpg 200 3811 rendered 84.2 101.5 9f2c4e1a

that is: time (UTC, ISO 8601), client, method, key, status, bytes, cache result (memory, s3, rendered,
error), render ms, total ms, request id, and, only when ``--auto-format`` answered the key in another format
than it names, that format (``avif``, ``webp``). JSON
(``--access-log-format=json``): one object per line with the same field names.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

FIELDS = (
    "time",
    "client",
    "method",
    "key",
    "status",
    "bytes",
    "cache",
    "render_ms",
    "total_ms",
    "request_id",
    "sent_format",
)


@dataclass(frozen=True)
class AccessEntry:
    time: datetime
    client: str
    method: str
    key: str
    status: int
    bytes: int
    cache: str  # memory | s3 | rendered | error
    render_ms: float | None
    total_ms: float
    request_id: str
    sent_format: str = ""  # avif | webp when negotiated into another format than the key names


def format_text(entry: AccessEntry) -> str:
    values = (
        _iso(entry.time),
        entry.client or "-",
        entry.method,
        quote(entry.key, safe="/@_.-~=,") or "-",
        str(entry.status),
        str(entry.bytes),
        entry.cache or "-",
        "-" if entry.render_ms is None else f"{entry.render_ms:.1f}",
        f"{entry.total_ms:.1f}",
        entry.request_id or "-",
    )
    line = " ".join(values)
    return f"{line} {entry.sent_format}" if entry.sent_format else line  # lines without it stay as they were


def format_json(entry: AccessEntry) -> str:
    record = asdict(entry)
    record["time"] = _iso(entry.time)
    return json.dumps(record, separators=(",", ":"))


def parse(line: str) -> AccessEntry | None:
    """Parse a text or JSON line; None if the line is not a proxy access-log line."""
    line = line.strip()
    if not line:
        return None
    try:
        if line.startswith("{"):
            record = json.loads(line)
            record.setdefault("sent_format", "")
            return _entry([str(record[name]) if record[name] is not None else "-" for name in FIELDS])
        parts = line.split(" ", len(FIELDS))  # at most one part too many: other logs' long lines split no further
        if len(parts) == len(FIELDS) - 1:  # no sent_format: the key's own format was sent
            parts.append("-")
        if len(parts) != len(FIELDS):
            return None
        return _entry(parts)
    except (ValueError, KeyError, TypeError):
        return None


def _entry(values: list[str]) -> AccessEntry:
    time, client, method, key, status, size, cache, render_ms, total_ms, request_id, sent_format = values
    return AccessEntry(
        time=datetime.fromisoformat(time.replace("Z", "+00:00")),
        client="" if client == "-" else client,
        method=method,
        key=unquote(key),
        status=int(status),
        bytes=int(size),
        cache="" if cache == "-" else cache,
        render_ms=None if render_ms == "-" else float(render_ms),
        total_ms=float(total_ms),
        request_id="" if request_id == "-" else request_id,
        sent_format="" if sent_format in ("-", "") else sent_format,
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
