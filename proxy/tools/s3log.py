"""AWS S3 server access log lines, in AWS's documented field order; fields after ``user-agent`` are optional.

79a5... images.example.com [06/Feb/2026:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.OBJECT
earth_200x200.jpg "GET /earth_200x200.jpg HTTP/1.1" 200 - 3811 3811 12 11 "-" "curl/8.0" - <host id> ...
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import unquote

FIELDS = (
    "bucket_owner",
    "bucket",
    "time",
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
    "status",
    "error_code",
    "bytes_sent",
    "object_size",
    "total_time",
    "turn_around_time",
    "referer",
    "user_agent",
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "authentication_type",
    "host_header",
    "tls_version",
    "access_point_arn",
    "acl_required",
)
_REQUIRED = FIELDS.index("status") + 1  # older lines end early; anything shorter is not an access-log line
_QUOTED = r'"[^"\\]*(?:\\.[^"\\]*)*"'  # "quoted \" text"
_TOKEN = re.compile(rf"{_QUOTED}|\[[^\]]*\]|\S+")  # quoted | [time] | bare
_OPERATION = re.compile(r"^[A-Z]+\.[A-Z_]+\.[A-Z_]+$")
# Most lines: the first twelve fields one space apart, bare ones not starting with a quote or a bracket. On
# those this one match finds exactly the tokens _TOKEN would; any other line takes the general path.
_BARE = r'[^\s"\[]\S*'
_USUAL = re.compile(
    rf"{_BARE} {_BARE} \[(?P<time>[^\]]*)\] {_BARE} {_BARE} {_BARE} (?P<operation>[A-Z]+\.[A-Z_]+\.[A-Z_]+) "
    rf"(?P<key>{_BARE}) (?:{_QUOTED}|{_BARE}) (?P<status>{_BARE}) {_BARE} (?P<sent>{_BARE})(?=\s|$)"
)


class S3LogEntry(NamedTuple):
    """The fields the tools use, parsed; every field present is in ``fields`` by name ('-' read as '').

    A NamedTuple rather than a frozen dataclass: one is built per log line, and it is four times cheaper.
    """

    time: datetime
    operation: str  # e.g. REST.GET.OBJECT, WEBSITE.GET.OBJECT
    key: str
    status: int | None
    bytes_sent: int
    line: str

    @property
    def tokens(self) -> tuple[str, ...]:
        """The line's fields as written (quotes and brackets kept), split only when asked for."""
        return tuple(_TOKEN.findall(self.line)[: len(FIELDS)])

    @property
    def fields(self) -> dict[str, str]:
        return {name: _clean(token) for name, token in zip(FIELDS, self.tokens, strict=False)}


def parse(line: str) -> S3LogEntry | None:
    """Parse one line; None if it is not an S3 server access log line."""
    usual = _USUAL.match(line)
    if usual is None:
        return parse_tokens(line)
    try:
        moment = _time(usual["time"])
    except (ValueError, KeyError, IndexError):
        return None
    return _entry(line, moment, usual["operation"], usual["key"], usual["status"], usual["sent"])


def parse_tokens(line: str) -> S3LogEntry | None:
    """The general path of ``parse``: any whitespace between fields, quotes or brackets anywhere."""
    tokens = _TOKEN.findall(line)
    if len(tokens) < _REQUIRED or not tokens[2].startswith("[") or not _OPERATION.match(tokens[6]):
        return None
    try:
        moment = _time(tokens[2][1:-1])
    except (ValueError, KeyError, IndexError):
        return None
    return _entry(line, moment, tokens[6], tokens[7], tokens[9], tokens[11] if len(tokens) > 11 else "-")


def _entry(line: str, moment: datetime, operation: str, key: str, status: str, sent: str) -> S3LogEntry:
    return S3LogEntry(
        time=moment,
        operation=operation,
        key=unquote(_clean(key)),
        status=int(status) if status.isdecimal() else None,
        bytes_sent=int(sent) if sent.isdecimal() else 0,
        line=line,
    )


def _clean(token: str) -> str:
    if token.startswith('"') and token.endswith('"') and len(token) >= 2:
        token = token[1:-1].replace('\\"', '"')
    return "" if token == "-" else token


_MONTHS = {name: number for number, name in enumerate(calendar.month_abbr) if name}


@lru_cache(maxsize=1024)
def _time(text: str) -> datetime:
    """``06/Feb/2019:00:00:38 +0000`` by hand, strptime being slow; cached, as a busy log repeats each second."""
    day, month, rest = text.split("/", 2)
    year, hour, minute, second_zone = rest.split(":", 3)
    second, zone = second_zone.split(" ")
    sign = -1 if zone[0] == "-" else 1
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])) * sign
    return datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=timezone(offset))
